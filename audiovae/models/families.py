"""Model families by config name (`model.family`): how each is loaded from a hub id or a local folder
(`from_pretrained`) and wrapped in the one interface (`audiovae.models.interface`).

A family is a function `(model config, enhancer chain, front-end config) -> AudioAutoencoder` registered with
`register_family`; its `options` (the config's `model.options`) are the keyword arguments of `options_of`'s class,
checked against its signature. Adding a family is one module that calls `register_family(Family(__name__, ...))`
and one model config naming that module as its family (`family: my_package.my_family`): the module is imported
when a config names it (docs "Models").
"""

import importlib
from dataclasses import dataclass
from typing import Callable, Optional

from omegaconf import DictConfig, OmegaConf

from audiovae.config.keywords import check_keywords
from audiovae.errors import ConfigError


@dataclass(frozen=True)
class Family:
    """`build(model_cfg, enhancer, frontend_cfg)`; `options_of`: the class whose extra constructor arguments are
    the family's `model.options`."""

    name: str
    build: Callable
    options_of: Optional[type] = None
    fixed: tuple = ()  # constructor arguments the loader fills (not options)


FAMILIES: dict[str, Family] = {}
BUILTIN_FAMILIES = ("audioldm", "stable_audio_open", "encodec", "dac")  # what `family_builtin` registers; any other
# `model.family` is a plugin's or names a module to import (code: `audiovae.consent`)


def register_family(family: Family) -> Family:
    """Add a model family to the table configs name it by (`model.family`); returns it. The same build function
    again replaces it (a module imported twice); a built-in's name or one taken by another plugin is a ConfigError."""
    from audiovae.plugins import check_name_free, is_builtin

    taken = FAMILIES.get(family.name)
    reserved = BUILTIN_FAMILIES if not is_builtin(family.build) else ()
    check_name_free("model family", family.name, family.build, taken.build if taken else None, reserved)
    FAMILIES[family.name] = family
    return family


def family_of(model: DictConfig) -> Family:
    """The family `model.family` names: a registered one (the built-in ones: `family_builtin`, imported by
    `audiovae.models.factory`), or one a module of that dotted name registers on import."""
    name = model.get("family", "audioldm")
    if name not in FAMILIES:
        try:
            importlib.import_module(name)
        except ImportError as err:
            raise ConfigError(
                f"config key 'model.family': unknown family '{name}': not one of {sorted(FAMILIES)} "
                f"and no module of that name registers one ({err})"
            ) from None
        if name not in FAMILIES:
            raise ConfigError(
                f"config key 'model.family': module '{name}' does not register a family of that name "
                f"(register_family(Family(__name__, build)))"
            )
    return FAMILIES[name]


def family_options(family: Family, model: DictConfig) -> dict:
    """`model.options` checked against the family class's constructor: unknown keys are refused in one line."""
    options = OmegaConf.to_container(model.get("options") or OmegaConf.create({}), resolve=True)
    init = family.options_of.__init__ if family.options_of is not None else None
    return check_keywords(init, options, "model.options", f"{family.name} family", skip=family.fixed)
