"""A config section as the keyword arguments of a callable (`model.options` of a family's class, `data.options` of a
plugin's data source): each key checked against the callable's signature, in one line naming the key."""

import inspect
from typing import Callable, Optional

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
    if required:
        for p in named:
            if p.default is p.empty and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name not in given:
                raise ConfigError(f"config key '{where}.{p.name}': the {who} needs it")
    return given
