"""Enhancers by config name. A config is `{name: <registered name>, <constructor argument>: value, ...}`,
or `{name: chain, stages: [<config>, ...]}`, or `{name: none}`. Keys are checked against the constructor.
Any of them may carry `checkpoint: PATH`, an exported enhancer whose config and weights are used instead."""

import dataclasses
import inspect
import typing
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from audiovae.enhancers.base import DOMAINS, Enhancer
from audiovae.enhancers.chain import EnhancerChain
from audiovae.enhancers.latent_fft_boost import LatentFFTBoost
from audiovae.enhancers.latent_laplacian import LatentLaplacian
from audiovae.enhancers.learnable_latent_filter import LearnableLatentFilter
from audiovae.enhancers.mel_hf_shelf import MelHFShelf
from audiovae.enhancers.neural import LatentResNet, MelPostFilter
from audiovae.enhancers.serialization import load_enhancer_weights, read_enhancement_config, read_plugins
from audiovae.enhancers.wave_fft_boost import WaveFFTBoost
from audiovae.errors import ConfigError
from audiovae.plugins import check_name_free

ENHANCERS: dict[str, type[Enhancer]] = {
    "latent_fft_boost": LatentFFTBoost,
    "latent_laplacian": LatentLaplacian,
    "learnable_latent_filter": LearnableLatentFilter,
    "mel_hf_shelf": MelHFShelf,
    "mel_postfilter": MelPostFilter,
    "latent_resnet": LatentResNet,
    "wave_fft_boost": WaveFFTBoost,
}
NONE, CHAIN = "none", "chain"
# Keys of the `enhancement` section that are not constructor arguments of the enhancer itself.
RESERVED = ("name", "checkpoint")


def register_enhancer(name: str, cls: type[Enhancer]) -> None:
    """Add an enhancer that `enhancement.name` (or a chain stage) names as `name` (a plugin's, docs "Extending"):
    an Enhancer subclass with a `domain` (latent, mel or wave) whose constructor arguments are its config keys.
    The same class again replaces it (a module imported twice); a name taken by another is a ConfigError."""
    check_name_free("enhancer", name, cls, ENHANCERS.get(name), reserved=(NONE, CHAIN))
    if not (isinstance(cls, type) and issubclass(cls, Enhancer)) or getattr(cls, "domain", None) not in DOMAINS:
        raise ConfigError(f"enhancer '{name}': {cls!r} must be an Enhancer subclass whose domain is one of {DOMAINS}")
    ENHANCERS[name] = cls


def _schema(cls: type) -> type:
    """A dataclass whose fields are `cls.__init__`'s arguments, with their types and defaults."""
    hints = typing.get_type_hints(cls.__init__)
    fields = [("name", str, dataclasses.field(default="")), ("checkpoint", typing.Optional[str], None)]
    for pname, param in inspect.signature(cls.__init__).parameters.items():
        if pname == "self":
            continue
        default = param.default if param.default is not inspect.Parameter.empty else dataclasses.MISSING
        fields.append((pname, hints.get(pname, Any), dataclasses.field(default=default)))
    return dataclasses.make_dataclass(f"{cls.__name__}Config", fields)


def _stage_configs(cfg: DictConfig, where: str) -> list[tuple[str, DictConfig]]:
    name = cfg.get("name")
    if name == NONE:
        return []
    if name == CHAIN:
        unknown = set(cfg.keys()) - {"name", "stages", "checkpoint"}
        if unknown:
            raise ConfigError(f"config key '{where}.{sorted(unknown)[0]}': a chain takes only 'stages'")
        stages = []
        for i, stage in enumerate(cfg.get("stages") or []):
            stages += _stage_configs(stage, f"{where}.stages.{i}")
        return stages
    if name not in ENHANCERS:
        raise ConfigError(
            f"config key '{where}.name': unknown enhancer '{name}'; choose one of {sorted(ENHANCERS) + [CHAIN, NONE]}"
        )
    return [(where, cfg)]


def validated_stages(cfg: DictConfig, where: str = "enhancement") -> list[tuple[type, dict]]:
    """Each stage's class and its type-checked constructor arguments; ConfigError names any bad key."""
    out = []
    for stage_where, stage in _stage_configs(cfg, where):
        cls = ENHANCERS[stage.name]
        try:
            typed = OmegaConf.merge(OmegaConf.structured(_schema(cls)), stage)
        except OmegaConfBaseException as err:
            key = getattr(err, "full_key", "?")
            raise ConfigError(f"config key '{stage_where}.{key}': {str(err).splitlines()[0]}") from None
        kwargs = {k: v for k, v in OmegaConf.to_container(typed).items() if k not in RESERVED}
        out.append((cls, kwargs))
    return out


def resolve_enhancement(run_cfg: DictConfig) -> None:
    """compose() hook: with `enhancement.checkpoint`, the exported file's own config replaces the section (keeping
    the path), so the saved run config says what was evaluated; then every stage is type-checked."""
    checkpoint = run_cfg.enhancement.get("checkpoint")
    if checkpoint:
        try:
            exported = read_enhancement_config(checkpoint)
        except (FileNotFoundError, ValueError) as err:
            raise ConfigError(f"config key 'enhancement.checkpoint': {err}") from None
        run_cfg.enhancement = OmegaConf.create({**exported, "checkpoint": checkpoint})
        missing = [n for n in read_plugins(checkpoint) if n not in (run_cfg.get("plugins") or [])]
        if missing and run_cfg.enhancement.get("name") not in (*ENHANCERS, NONE, CHAIN):
            raise ConfigError(
                f"config key 'enhancement.checkpoint': {checkpoint} holds a plugin's enhancer "
                f"'{run_cfg.enhancement.name}': add plugins=[{','.join(missing)}] (its training's plugins)"
            )
    validated_stages(run_cfg.enhancement)


def build_enhancer(cfg: DictConfig) -> EnhancerChain:
    """An EnhancerChain from an `enhancement` config (a single enhancer becomes a one-stage chain); with
    `checkpoint`, its exported weights are loaded."""
    chain = EnhancerChain([cls(**kwargs) for cls, kwargs in validated_stages(cfg)])
    if cfg.get("checkpoint"):
        load_enhancer_weights(chain, cfg.checkpoint)
    return chain


def load_enhancer(path: str) -> EnhancerChain:
    """An exported enhancer file (`train.py`'s export, `python -m audiovae.training.export`) as the chain it was
    trained as, its weights loaded: for use outside a run (e.g. `audiovae.generation.enhanced_pipeline`)."""
    try:
        exported = read_enhancement_config(path)
    except (FileNotFoundError, ValueError) as err:
        raise ConfigError(f"enhancer file: {err}") from None
    return build_enhancer(OmegaConf.create({**exported, "checkpoint": str(path)}))
