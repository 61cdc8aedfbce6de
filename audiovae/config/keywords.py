"""A config section as the keyword arguments of a callable (`model.options` of a family's class, `data.options` of a
plugin's data source, `metrics.<section>` of a metric): each key checked against the callable's signature, its
annotated type and its `Range` (`Annotated[int, Range(2, 65536)]`), in one line naming the key."""

import inspect
import math
import typing
from dataclasses import dataclass
from typing import Any, Callable, Optional, Union

from audiovae.errors import ConfigError


@dataclass(frozen=True)
class Range:
    """The allowed values of a numeric argument, declared with it: `n_fft: Annotated[int, Range(2, 65536)] = 2048`.
    `low_in`/`high_in`: whether the bound itself is allowed.

    >>> Range(0, 1, high_in=False).why_not(1), Range(2).why_not(2)
    ('must be in [0, 1), got 1', '')
    """

    low: float = -math.inf
    high: float = math.inf
    low_in: bool = True
    high_in: bool = True

    def words(self) -> str:
        """`in [2, 65536]`, `> 0`, ... as the config reference and the errors say it."""
        low, high = _number(self.low), _number(self.high)
        if self.high == math.inf:
            return f"{'>=' if self.low_in else '>'} {low}"
        if self.low == -math.inf:
            return f"{'<=' if self.high_in else '<'} {high}"
        return f"in {'[' if self.low_in else '('}{low}, {high}{']' if self.high_in else ')'}"

    def why_not(self, value) -> str:
        """ "" when `value` is in the range (or not a number: the type check speaks of that), else the reason."""
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return ""
        low_ok = self.low < value or (self.low_in and value == self.low)
        high_ok = value < self.high or (self.high_in and value == self.high)
        return "" if low_ok and high_ok else f"must be {self.words()}, got {value}"


def _number(value: float) -> str:
    return str(int(value)) if math.isfinite(value) and value == int(value) else f"{value:g}"


def declared_range(annotation) -> Optional[Range]:
    """The `Range` of an `Annotated[...]` annotation, also inside `Optional[...]` (None without one)."""
    if typing.get_origin(annotation) is Union:
        return next(filter(None, map(declared_range, typing.get_args(annotation))), None)
    return next((m for m in getattr(annotation, "__metadata__", ()) if isinstance(m, Range)), None)


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
            raise ConfigError(f"config key '{where}.{key}': the {who} takes {type_words(expected)} here, got {value!r}")
        bounds = declared_range(expected)
        if bounds is not None and bounds.why_not(value):
            raise ConfigError(f"config key '{where}.{key}': {bounds.why_not(value)}")
    if required:
        for p in named:
            if p.default is p.empty and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name not in given:
                raise ConfigError(f"config key '{where}.{p.name}': the {who} needs it")
    return given


def _hints(target: Optional[Callable]) -> dict:
    try:
        return typing.get_type_hints(target, include_extras=True) if target is not None else {}
    except Exception:  # annotations that do not resolve: no type check
        return {}


def type_words(annotation) -> str:
    """A type as an error message and the config reference say it: `a whole number`, `a number or null`, ..."""
    if typing.get_origin(annotation) is typing.Annotated:
        return type_words(typing.get_args(annotation)[0])
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) is Union:
        return " or ".join(type_words(a) for a in args) + (
            " or null" if type(None) in typing.get_args(annotation) else ""
        )
    if typing.get_origin(annotation) is typing.Literal:
        return "one of " + ", ".join(map(str, typing.get_args(annotation)))
    return {int: "a whole number", float: "a number", str: "text", bool: "true or false"}.get(
        annotation, getattr(annotation, "__name__", str(annotation))
    )


def fits(value: Any, annotation) -> bool:
    """Whether a config value is of an annotated type, strictly as the saved config will say it: a whole number is
    not 2.5 (that would run as 2 or 3), a number is not true, text is not a list.

    >>> fits(2.5, int), fits(3, Optional[int]), fits(None, Optional[int]), fits(True, float), fits("abc", float)
    (False, True, True, False, False)
    >>> fits("raw", typing.Literal["raw", "matched"]), fits("other", typing.Literal["raw", "matched"])
    (True, False)
    """
    if annotation is Any:
        return True
    if typing.get_origin(annotation) is typing.Annotated:
        return fits(value, typing.get_args(annotation)[0])
    if typing.get_origin(annotation) is Union:
        return any(fits(value, a) for a in typing.get_args(annotation))
    if annotation is type(None):
        return value is None
    if typing.get_origin(annotation) is typing.Literal:
        return any(value == choice and type(value) is type(choice) for choice in typing.get_args(annotation))
    if annotation is bool:
        return isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if annotation is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if annotation is str:
        return isinstance(value, str)
    return True  # anything else (a class, a container): the callable checks it
