"""What every reconstruction metric is: its direction, domain and unit, per-item values and NaN exclusion."""

from typing import Annotated, Any, ClassVar, Optional

import torch
from torch import Tensor

from audiovae.config.keywords import Range
from audiovae.errors import ConfigError
from audiovae.metrics.functional.items import Accumulator, per_item, whole

WAVEFORM, MEL = "waveform", "mel"
ABSOLUTE, PERCENT = "absolute", "percent"
HIGHER, LOWER, TARGET = "higher", "lower", "target"  # which way is better: up, down, or towards `target`
FFTSize = Annotated[int, Range(2, 65536)]  # a metric's STFT size (bounded: it sizes memory)
Hop = Annotated[int, Range(1, 65536)]  # a metric's STFT hop


def check_rate(name: str, sample_rate: int, defined_at: int) -> None:
    """ConfigError (at start-up) when a metric defined at one rate is configured for a front end at another."""
    if sample_rate != defined_at:
        raise ConfigError(
            f"config key 'metrics.names': {name} is defined at {defined_at} Hz, the front end runs at {sample_rate} Hz"
        )


class ItemValues:
    """The mean over per-item values and how many were left out, from `values()` (NaN: undefined)."""

    def values(self) -> Tensor:  # pragma: no cover
        """Every item's value so far, `[N]` float64, NaN where undefined."""
        raise NotImplementedError

    def compute(self) -> Tensor:
        """The mean over the items that are not NaN (float64); NaN when there are none."""
        return nan_excluded_mean(self.values())

    @property
    def excluded(self) -> int:
        """How many items were NaN (undefined) and left out of the mean."""
        return int(torch.isnan(self.values()).sum())


class PerItemMetric(ItemValues):
    """Mean over items of a per-item functional; NaN items are excluded and counted.

    Subclasses set `name` and the class attributes below and implement `accumulator()`: the statistics of one
    item, fed in consecutive chunks (how evaluation follows a long file) or whole (`per_item`, `update`).
    `update`/`compute`/`values()` keep this process's items (NaN included, in update order); training sums them
    across DDP ranks through `audiovae.metrics.synced` (torchmetrics), which evaluation does not import.
    """

    direction: ClassVar[str]  # HIGHER, LOWER or TARGET
    target: ClassVar[Optional[float]] = None  # TARGET: the ideal value (hf_retention: 100 %)
    higher_is_better: ClassVar[Optional[bool]]  # derived from `direction`: None for a target metric
    domain: ClassVar[str] = WAVEFORM  # what update() receives: waveforms [B, T] or log-mels [B, 1, T, F]
    delta_kind: ClassVar[str] = ABSOLUTE  # how Δ (enhanced − base) is reported: absolute or percent change
    unit: ClassVar[str] = ""
    nan_reason: ClassVar[str] = ""  # the one case in which an item's value is undefined
    scale_note: ClassVar[str] = ""  # what its values can reach, where that is not obvious (the report says it)
    reference_free: ClassVar[bool] = False  # reads only the estimate (usable on generated audio)
    speech_only: ClassVar[bool] = False  # a model of speech: a run warns where the reference is not speech-like
    is_differentiable: ClassVar[bool] = True  # per_item passes gradients (training losses may use it)
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

    def __init__(self, name: Optional[str] = None):
        self.name = name or self.name
        self.reset()

    @classmethod
    def settings_problem(cls, settings: dict) -> Optional[tuple[str, str]]:
        """(argument, reason) when the settings of `metrics.<section>` are each in range but together describe
        nothing (a hop longer than its window); None when they fit. Checked at start-up."""
        n_fft, hop = settings.get("n_fft"), settings.get("hop")
        if isinstance(n_fft, int) and isinstance(hop, int) and hop > n_fft:
            return "hop", f"must be <= n_fft = {n_fft}, got {hop}"
        return None

    def accumulator(self) -> Accumulator:  # pragma: no cover
        """A fresh accumulator for one item: the metric's statistics, fed chunk by chunk (`Accumulator`)."""
        raise NotImplementedError

    def per_item(self, preds: Tensor, target: Tensor, lengths: Optional[Tensor]) -> Tensor:
        """`[B]` values of a padded batch, each item at its own length (`lengths` in samples, or frames for MEL)."""
        return per_item(whole(self.accumulator), preds, target, lengths, time_dim=-2 if self.domain == MEL else -1)

    def reset(self) -> None:
        """Forget the items seen so far."""
        self._values: list[Tensor] = []

    def update(self, preds: Tensor, target: Tensor, lengths: Optional[Tensor] = None) -> None:
        """Add the per-item values of a padded batch (`per_item`), kept on the CPU in float64."""
        self._values.append(self.per_item(preds, target, lengths).detach().double().cpu())

    def values(self) -> Tensor:
        """Every item's value seen so far, `[N]`, NaN where undefined."""
        return concat_values(self._values)


def concat_values(parts: list[Tensor]) -> Tensor:
    """Per-item value batches as one float64 `[N]` tensor (empty without any)."""
    return torch.cat(parts) if parts else torch.zeros(0, dtype=torch.float64)


def nan_excluded_mean(values: Tensor) -> Tensor:
    """Σ v / n over the n values that are not NaN, in float64; NaN when n = 0."""
    valid = values[~torch.isnan(values)].double()
    return valid.sum() / valid.numel() if valid.numel() else torch.tensor(float("nan"), dtype=torch.float64)
