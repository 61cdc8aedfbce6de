"""Metrics between a reference waveform x (target) and a reconstruction y (preds), `[B, T]` + lengths."""
from typing import Optional

from torch import Tensor

from audiovae.metrics import functional as F
from audiovae.metrics.base import ABSOLUTE, PERCENT, PerItemMetric


class SNR(PerItemMetric):
    """10·log10((Σx² + eps) / (Σ(x − y)² + eps)) in dB."""

    name, higher_is_better, unit, delta_kind = "snr", True, "dB", ABSOLUTE
    nan_reason = "silent reference"

    def per_item(self, preds: Tensor, target: Tensor, lengths: Optional[Tensor]) -> Tensor:
        return F.snr(preds, target, lengths)


class SISDR(PerItemMetric):
    """Scale-invariant SDR in dB (torchmetrics, zero_mean=False)."""

    name, higher_is_better, unit, delta_kind = "si_sdr", True, "dB", ABSOLUTE
    nan_reason = "silent reference"

    def per_item(self, preds: Tensor, target: Tensor, lengths: Optional[Tensor]) -> Tensor:
        return F.si_sdr(preds, target, lengths)


class HFRetention(PerItemMetric):
    """100 · Σ_{f ≥ fc}|Y| / Σ_{f ≥ fc}|X| over each clip's one-sided spectrum, in %."""

    name, higher_is_better, unit, delta_kind = "hf_retention", True, "%", PERCENT
    nan_reason = "reference has no content above the cutoff"
    plot_lower_bound = 0.0

    def __init__(self, sample_rate: int, cutoff_hz: Optional[float] = None, power: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.sample_rate, self.cutoff_hz, self.power = sample_rate, cutoff_hz, power

    def per_item(self, preds: Tensor, target: Tensor, lengths: Optional[Tensor]) -> Tensor:
        return F.hf_retention(preds, target, self.sample_rate, self.cutoff_hz, self.power, lengths)


class SpectralCorrelation(PerItemMetric):
    """Pearson correlation of one-sided magnitude spectra, −1…1."""

    name, higher_is_better, unit, delta_kind = "spectral_correlation", True, "", PERCENT
    nan_reason = "constant magnitude spectrum"
    plot_lower_bound, plot_upper_bound = -1.0, 1.0

    def per_item(self, preds: Tensor, target: Tensor, lengths: Optional[Tensor]) -> Tensor:
        return F.spectral_correlation(preds, target, lengths)


class LSD(PerItemMetric):
    """Log-spectral distance in log10-power units over all, high (f ≥ fc) or low (f < fc) bins."""

    name, higher_is_better, unit, delta_kind = "lsd", False, "", PERCENT
    nan_reason = "never undefined"
    plot_lower_bound = 0.0

    def __init__(self, sample_rate: int, n_fft: int = 2048, hop: int = 512, band: str = "all",
                 cutoff_hz: Optional[float] = None, **kwargs):
        kwargs.setdefault("name", {"all": "lsd", "high": "lsd_hf", "low": "lsd_lf"}.get(band, "lsd"))
        super().__init__(**kwargs)
        self.sample_rate, self.n_fft, self.hop, self.band, self.cutoff_hz = sample_rate, n_fft, hop, band, cutoff_hz

    def per_item(self, preds: Tensor, target: Tensor, lengths: Optional[Tensor]) -> Tensor:
        return F.lsd(preds, target, self.sample_rate, self.n_fft, self.hop, self.band, self.cutoff_hz, lengths)


class MelDistance(PerItemMetric):
    """Multi-scale log10-mel L1 distance (DAC's 7 scales)."""

    name, higher_is_better, unit, delta_kind = "mel_distance", False, "", PERCENT
    nan_reason = "never undefined"
    plot_lower_bound = 0.0

    def __init__(self, sample_rate: int, **kwargs):
        super().__init__(**kwargs)
        self.sample_rate = sample_rate

    def per_item(self, preds: Tensor, target: Tensor, lengths: Optional[Tensor]) -> Tensor:
        return F.mel_distance(preds, target, self.sample_rate, lengths=lengths)
