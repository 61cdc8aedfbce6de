"""A config section as the keyword arguments of a callable (`model.options` of a family's class, `data.options` of a
plugin's data source): each key checked against the callable's signature, in one line naming the key."""

import inspect
import typing
from typing import Any, Callable, Optional, Union

from audiovae.errors import ConfigError


def check_keywords(
    target: Optional[Callable], given: dict, where: str, who: str, skip: tuple = (), required: bool = False
) -> dict:
    """`given` when `target` takes each of its keys as a keyword argument (any key with `**kwargs`; none when
    `target` is None); else ConfigError `config key '<where>.<key>': the <who> takes a, b` (`no options`). With
    `required`, an argument without a default that `given` lacks is `config key '<where>.<arg>': the <who> needs
    it`. `skip`: the arguments the caller fills itself (`self`, the enhancer, ...)."""
    params = {} if target is None else inspect.signature(target).parameters
    named = [p for name, p in params.items() if name not in ("self", *skip) and p.kind is not p.VAR_KEYWORD]
    if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        for key in given:
            if key not in [p.name for p in named]:
                takes = ", ".join(p.name for p in named if p.kind is not p.VAR_POSITIONAL) or "no options"
                raise ConfigError(f"config key '{where}.{key}': the {who} takes {takes}")
    hints = _hints(target)
    for key, value in given.items():
        expected = hints.get(key)
        if expected is not None and not fits(value, expected):
            raise ConfigError(f"config key '{where}.{key}': the {who} takes {_name(expected)} here, got {value!r}")
    if required:
        for p in named:
            if p.default is p.empty and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name not in given:
                raise ConfigError(f"config key '{where}.{p.name}': the {who} needs it")
    return given


def _hints(target: Optional[Callable]) -> dict:
    try:
        return typing.get_type_hints(target) if target is not None else {}
    except Exception:  # annotations that do not resolve: no type check
        return {}


def _name(annotation) -> str:
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) is Union:
        return " or ".join(_name(a) for a in args) + (" or null" if type(None) in typing.get_args(annotation) else "")
    return {int: "a whole number", float: "a number", str: "text", bool: "true or false"}.get(
        annotation, getattr(annotation, "__name__", str(annotation))
    )


def fits(value: Any, annotation) -> bool:
    """Whether a config value is of an annotated type, strictly as the saved config will say it: a whole number is
    not 2.5 (that would run as 2 or 3), a number is not true, text is not a list.

    >>> fits(2.5, int), fits(3, Optional[int]), fits(None, Optional[int]), fits(True, float), fits("abc", float)
    (False, True, True, False, False)
    """
    if annotation is Any:
        return True
    if typing.get_origin(annotation) is Union:
        return any(fits(value, a) for a in typing.get_args(annotation))
    if annotation is type(None):
        return value is None
    if annotation is bool:
        return isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if annotation is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if annotation is str:
        return isinstance(value, str)
    return True  # anything else (a class, a container): the callable checks it
