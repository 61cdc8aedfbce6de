"""The enhancer settings an evaluation runs: one for a plain evaluation, every combination of the `sweep.*`
values for a sweep. Each setting has a plain evaluation config that reproduces it alone.

>>> from omegaconf import OmegaConf
>>> grid = sweep_grid(OmegaConf.create({"enhancement": {"gain": [1.0, 1.4], "cutoff": [0.3]}}))
>>> grid
[{'enhancement.gain': 1.0, 'enhancement.cutoff': 0.3}, {'enhancement.gain': 1.4, 'enhancement.cutoff': 0.3}]
>>> setting_name(grid[1])
'gain=1.4,cutoff=0.3'
"""

import itertools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from audiovae.enhancers.registry import resolve_enhancement
from audiovae.errors import ConfigError
from audiovae.runs.folders import run_hash

SWEEPABLE = "enhancement."  # only the enhancer may vary: the encode and the base decode are shared
EVAL_IGNORE = (
    "out_dir",
    "logger",
    "cache",
    "metrics.workers",
)  # what does not change an evaluation's results (a warm cache = cold; the metrics' processes)


@dataclass
class Setting:
    """One enhancer setting: its name (a folder name for a sweep's settings), the swept values (`{}` for a plain
    evaluation), the plain evaluation config that reproduces it, where its outputs go and its run hash."""

    name: str
    config: DictConfig
    out_dir: Path
    run_hash: str
    values: dict = field(default_factory=dict)


def _flatten(node: Any, prefix: str) -> dict[str, Any]:
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            out.update(_flatten(value, f"{prefix}{key}."))
        return out
    return {prefix[:-1]: node}


def sweep_grid(sweep: DictConfig) -> list[dict[str, Any]]:
    """`{enhancement: {gain: [1, 2], cutoff: [.3]}}` -> `[{enhancement.gain: 1, enhancement.cutoff: .3}, ...]`."""
    grid = _flatten(OmegaConf.to_container(sweep), "")
    for key, values in grid.items():
        if not key.startswith(SWEEPABLE):
            raise ConfigError(
                f"config key 'sweep.{key}': only enhancement.* can be swept (every setting shares "
                f"the same model, front end and data)"
            )
        if not isinstance(values, list) or not values:
            raise ConfigError(f"config key 'sweep.{key}': expected a non-empty list of values, got {values!r}")
    return [dict(zip(grid, combo)) for combo in itertools.product(*grid.values())]


def setting_name(values: dict[str, Any]) -> str:
    """A folder name: `gain=1.4,cutoff=0.3` (keys without their `enhancement.` prefix)."""
    text = ",".join(f"{key[len(SWEEPABLE) :]}={value}" for key, value in values.items())
    return re.sub(r"[^A-Za-z0-9._=,+-]", "_", text)


def setting_config(cfg: DictConfig, values: dict[str, Any], out_dir: Path, group: str) -> DictConfig:
    """The plain evaluation config of one sweep setting (no sweep), writing into `out_dir`, W&B group `group`."""
    one = OmegaConf.create(OmegaConf.to_container(cfg))
    OmegaConf.set_struct(one, False)
    one.sweep = {}
    for key, value in values.items():
        OmegaConf.update(one, key, value, merge=False)
    one.out_dir = str(out_dir)
    one.logger.group = cfg.logger.group or group
    one.logger.name = setting_name(values)
    resolve_enhancement(one)
    return one


def sweep_group(hash_: str) -> str:
    """The W&B group of a sweep's runs (every setting and the summary), unless `logger.group` is set."""
    return f"sweep-{hash_}"


def plan_settings(cfg: DictConfig, out_dir: Path, hash_: str) -> list[Setting]:
    """The settings of a run: itself (a plain evaluation), or each sweep combination under `settings/<name>/`."""
    if not cfg.sweep:
        return [Setting(out_dir.name, cfg, out_dir, hash_)]
    grid = sweep_grid(cfg.sweep)
    names = [setting_name(values) for values in grid]
    if len(set(names)) < len(names):
        raise ConfigError("config key 'sweep': two settings have the same name; give distinct values")
    settings = []
    for name, values in zip(names, grid):
        config = setting_config(cfg, values, out_dir / "settings" / name, sweep_group(hash_))
        settings.append(Setting(name, config, Path(config.out_dir), run_hash(config, EVAL_IGNORE), values))
    return settings
