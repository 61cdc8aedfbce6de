"""Bookkeeping shared by every reconstruction metric: per-item values, NaN exclusion, DDP-safe sums."""
from typing import Any, ClassVar, Optional

import torch
from torch import Tensor
from torchmetrics import Metric

from audiovae.errors import ConfigError
from audiovae.metrics.functional.items import Accumulator, per_item, whole

WAVEFORM, MEL = "waveform", "mel"
ABSOLUTE, PERCENT = "absolute", "percent"
HIGHER, LOWER, TARGET = "higher", "lower", "target"  # which way is better: up, down, or towards `target`


def check_rate(name: str, sample_rate: int, defined_at: int) -> None:
    """ConfigError (at start-up) when a metric defined at one rate is configured for a front end at another."""
    if sample_rate != defined_at:
        raise ConfigError(f"config key 'metrics.names': {name} is defined at {defined_at} Hz, the front end runs at "
                          f"{sample_rate} Hz")


class PerItemMetric(Metric):
    """Mean over items of a per-item functional; NaN items are excluded and counted.

    Subclasses set `name` and the class attributes below and implement `accumulator()`: the statistics of one
    item, fed in consecutive chunks (how evaluation follows a long file) or whole (`per_item`, `update`).
    States are named after the metric (`<name>_sum`, …) so that no two metrics in a MetricCollection look alike.
    `values()` holds every item's value (NaN included) in update order.
    """

    full_state_update: ClassVar[bool] = False
    is_differentiable: ClassVar[bool] = True
    direction: ClassVar[str]                  # HIGHER, LOWER or TARGET
    target: ClassVar[Optional[float]] = None  # TARGET: the ideal value (hf_retention: 100 %)
    higher_is_better: ClassVar[Optional[bool]]  # torchmetrics' flag, derived: None for a target metric
    domain: ClassVar[str] = WAVEFORM          # what update() receives: waveforms [B, T] or log-mels [B, 1, T, F]
    delta_kind: ClassVar[str] = ABSOLUTE      # how Δ (enhanced − base) is reported: absolute or percent change
    unit: ClassVar[str] = ""
    nan_reason: ClassVar[str] = ""            # the one case in which an item's value is undefined
    name: str
    high_band: ClassVar[bool] = False  # measures only the band above `cutoff_hz` (undefined for inputs without one)

    @property
    def min_samples(self) -> int:
        """The shortest clip this metric is defined on (its longest STFT window; 1 without one)."""
        return int(getattr(self, "n_fft", 1))

    def __init_subclass__(cls, **kwargs: Any):
        super().__init_subclass__(**kwargs)
        if "direction" in cls.__dict__:
            cls.higher_is_better = {HIGHER: True, LOWER: False}.get(cls.direction)

    def __init__(self, name: Optional[str] = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.name = name or self.name
        self._state = {k: f"{self.name}_{k}" for k in ("sum", "count", "excluded", "values")}
        self.add_state(self._state["sum"], torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state(self._state["count"], torch.tensor(0), dist_reduce_fx="sum")
        self.add_state(self._state["excluded"], torch.tensor(0), dist_reduce_fx="sum")
        self.add_state(self._state["values"], [], dist_reduce_fx="cat")

    def accumulator(self) -> Accumulator:  # pragma: no cover
        raise NotImplementedError

    def per_item(self, preds: Tensor, target: Tensor, lengths: Optional[Tensor]) -> Tensor:
        """`[B]` values of a padded batch, each item at its own length (`lengths` in samples, or frames for MEL)."""
        return per_item(whole(self.accumulator), preds, target, lengths, time_dim=-2 if self.domain == MEL else -1)

    def update(self, preds: Tensor, target: Tensor, lengths: Optional[Tensor] = None) -> None:
        values = self.per_item(preds, target, lengths).detach().double()
        valid = ~torch.isnan(values)
        setattr(self, self._state["sum"], getattr(self, self._state["sum"]) + values[valid].sum())
        setattr(self, self._state["count"], getattr(self, self._state["count"]) + valid.sum())
        setattr(self, self._state["excluded"], getattr(self, self._state["excluded"]) + (~valid).sum())
        getattr(self, self._state["values"]).append(values)

    def compute(self) -> Tensor:
        count = getattr(self, self._state["count"])
        total = getattr(self, self._state["sum"])
        return total / count if count > 0 else torch.tensor(float("nan"), dtype=torch.float64)

    @property
    def excluded(self) -> int:
        """How many items were NaN (undefined) and left out of the mean."""
        return int(getattr(self, self._state["excluded"]))

    def values(self) -> Tensor:
        """Every item's value seen so far, `[N]`, NaN where undefined."""
        vals = getattr(self, self._state["values"])
        if isinstance(vals, Tensor):
            return vals
        return torch.cat(vals) if vals else torch.zeros(0, dtype=torch.float64)
