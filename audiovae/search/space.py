"""A study's search space, from `search.space`: per config key how its value is drawn, and the job words a trial's
values become.

    search.space:
      enhancement.gain: {type: float, low: 1.0, high: 2.0}            # uniform
      optim.lr: {type: float, low: 1e-5, high: 1e-3, log: true}       # log-uniform
      enhancement.axis: {type: int, low: -2, high: -1}                # integers (step: 1 unless given)
      enhancement: {type: categorical, choices: [latent_fft_boost, mel_hf_shelf]}   # a config group's file
      enhancement.cutoff: {type: float, low: 0.2, high: 0.45, when: {enhancement: latent_fft_boost}}

A key with `when` is drawn only in trials whose drawn values match it (an enhancer kind decides its parameters).
A key naming a config group (no dot) picks that group's file (`enhancement=mel_hf_shelf`); a dotted key sets a value
(`enhancement.gain=1.4`). Which keys a job may search: `SEARCHABLE`.

>>> space = parse_space({"enhancement.gain": {"type": "float", "low": 1.0, "high": 2.0}}, "eval")
>>> job_words({"enhancement.gain": 1.25}, space)
['enhancement.gain=1.25']
"""

import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Sequence

from audiovae.errors import ConfigError

# the keys a job's trials may vary: an evaluation shares its model, front end and data across trials (as a sweep);
# training may vary its enhancement, optimiser, loss, adversarial, EMA and model keys
SEARCHABLE = {
    "eval": ("enhancement",),
    "train": ("enhancement", "optim", "loss", "adversarial", "ema", "model"),
}
KINDS = ("float", "int", "categorical")
GROUPS = ("enhancement", "model")  # keys without a dot that pick a config group's file


@dataclass(frozen=True)
class Dimension:
    """One searched key: its `kind` (float, int, categorical), bounds (`low`, `high`, `log`, `step`) or `choices`,
    and the values of other keys it is drawn under (`when`; empty: always)."""

    key: str
    kind: str
    low: Optional[float] = None
    high: Optional[float] = None
    log: bool = False
    step: Optional[float] = None
    choices: tuple = ()
    when: dict = field(default_factory=dict)

    def applies(self, drawn: Mapping[str, Any]) -> bool:
        """Whether this key is drawn, given the values drawn so far."""
        return all(drawn.get(key) == value for key, value in self.when.items())

    def suggest(self, trial) -> Any:
        """The value of an Optuna `trial` for this key (its sampler's draw, or an enqueued value)."""
        if self.kind == "categorical":
            return trial.suggest_categorical(self.key, list(self.choices))
        if self.kind == "int":
            return trial.suggest_int(self.key, int(self.low), int(self.high), step=int(self.step or 1), log=self.log)
        return trial.suggest_float(self.key, self.low, self.high, step=self.step, log=self.log)

    def grid_values(self) -> list:
        """Every value of this key in a grid search (categorical choices, or int/stepped float ranges)."""
        if self.kind == "categorical":
            return list(self.choices)
        if self.step is None and self.kind == "float":
            raise ConfigError(f"config key 'search.space.{self.key}': a grid needs a step for a float (or choices)")
        step = self.step or 1
        count = int(math.floor((self.high - self.low) / step + 1e-9)) + 1
        values = [self.low + i * step for i in range(count)]
        return [int(v) for v in values] if self.kind == "int" else [round(v, 12) for v in values]


def _dimension(key: str, spec: Any, job: str) -> Dimension:
    def where(suffix: str = "") -> str:
        return f"config key 'search.space.{key}{suffix}'"

    allowed = SEARCHABLE[job]
    if key.split(".", 1)[0] not in allowed or ("." not in key and key not in GROUPS):
        raise ConfigError(
            f"{where()}: a {job} study searches {', '.join(f'{a}.*' for a in allowed)} keys "
            f"(or the group {', '.join(g for g in GROUPS if g in allowed)})"
        )
    if not isinstance(spec, Mapping):
        raise ConfigError(f"{where()}: expected {{type: float|int|categorical, ...}}, got {spec!r}")
    spec = dict(spec)
    kind = spec.pop("type", None)
    if kind not in KINDS:
        raise ConfigError(f"{where('.type')}: one of {', '.join(KINDS)}, got {kind!r}")
    when = spec.pop("when", None) or {}
    if not isinstance(when, Mapping):
        raise ConfigError(f"{where('.when')}: a mapping of other searched keys to their values, got {when!r}")
    if kind == "categorical":
        choices = spec.pop("choices", None)
        if not isinstance(choices, Sequence) or isinstance(choices, str) or not choices:
            raise ConfigError(f"{where('.choices')}: a non-empty list, got {choices!r}")
        if spec:
            raise ConfigError(f"{where()}: a categorical key takes choices and when, not {', '.join(spec)}")
        return Dimension(key, kind, choices=tuple(choices), when=dict(when))
    if "." not in key:
        raise ConfigError(f"{where()}: a config group is picked by name: type categorical with choices")
    unknown = set(spec) - {"low", "high", "log", "step"}
    if unknown:
        raise ConfigError(f"{where()}: unknown setting {sorted(unknown)[0]!r} (low, high, log, step, when)")
    try:
        low, high = float(spec["low"]), float(spec["high"])
    except (KeyError, TypeError, ValueError):
        got = f"{spec.get('low')!r}, {spec.get('high')!r}"
        raise ConfigError(f"{where()}: low and high are numbers, got {got}") from None
    log, step = bool(spec.get("log", False)), spec.get("step")
    if not low < high or (log and low <= 0):
        raise ConfigError(f"{where()}: needs low < high{' and low > 0 (log)' if log else ''}, got {low}, {high}")
    if step is not None and (log or float(step) <= 0):
        raise ConfigError(f"{where('.step')}: a positive number, and not with log: true")
    if kind == "int" and (low != int(low) or high != int(high)):
        raise ConfigError(f"{where()}: an int key has integer low and high, got {low}, {high}")
    return Dimension(key, kind, low, high, log, None if step is None else float(step), when=dict(when))


def parse_space(space: Mapping[str, Any], job: str) -> list[Dimension]:
    """The dimensions of `search.space` in order (a `when` names keys before it); one-line errors name the key."""
    if not space:
        raise ConfigError("config key 'search.space': empty; name at least one key to search")
    dimensions = [_dimension(str(key), spec, job) for key, spec in space.items()]
    seen: dict[str, Dimension] = {}
    for d in dimensions:
        for key, value in d.when.items():
            if key not in seen or seen[key].kind != "categorical" or value not in seen[key].choices:
                raise ConfigError(
                    f"config key 'search.space.{d.key}.when': {key}={value!r} is not a choice of a categorical key "
                    "searched before it"
                )
        seen[d.key] = d
    return dimensions


def draw(trial, dimensions: Sequence[Dimension]) -> dict[str, Any]:
    """The trial's values of the keys that apply to it (in order: a `when` sees the values drawn before it)."""
    drawn: dict[str, Any] = {}
    for d in dimensions:
        if d.applies(drawn):
            drawn[d.key] = d.suggest(trial)
    return drawn


def grid(dimensions: Sequence[Dimension]) -> dict[str, list]:
    """Optuna's `GridSampler` search space: every key's values (a grid has no conditional keys)."""
    if any(d.when for d in dimensions):
        raise ConfigError("config key 'search.sampler': a grid has no conditional keys (when); use tpe or random")
    return {d.key: d.grid_values() for d in dimensions}


def job_words(values: Mapping[str, Any], dimensions: Sequence[Dimension]) -> list[str]:
    """The job's command-line words of a trial's values: group picks first (a group's file, then its keys)."""
    order = {d.key: i for i, d in enumerate(dimensions)}
    keys = sorted(values, key=lambda k: ("." in k, order.get(k, 0)))
    return [f"{key}={_word(values[key])}" for key in keys]


def _word(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, float) else str(value)
