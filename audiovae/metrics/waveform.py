"""Metrics between a reference waveform x (target) and a reconstruction y (preds), `[B, T]` + lengths."""

from typing import Optional

from audiovae.metrics.base import ABSOLUTE, HIGHER, LOWER, PERCENT, TARGET, FFTSize, Hop, PerItemMetric
from audiovae.metrics.functional.frames import band_mask, hf_cutoff
from audiovae.metrics.functional.items import Accumulator
from audiovae.metrics.functional.lsd import Scaling, lsd_accumulator
from audiovae.metrics.functional.mel_distance import N_MELS, WINDOW_LENGTHS, MelDistanceSums
from audiovae.metrics.functional.snr import SISDRSums, SNRSums
from audiovae.metrics.functional.spectrum import AverageSpectra, HighBandSums
from audiovae.metrics.table import register_metric


class SNR(PerItemMetric):
    """10·log10((Σx² + eps) / (Σ(x − y)² + eps)) in dB."""

    name, direction, unit, delta_kind = "snr", HIGHER, "dB", ABSOLUTE
    nan_reason = "silent reference"

    def accumulator(self) -> SNRSums:
        return SNRSums()


class SISDR(PerItemMetric):
    """Scale-invariant SDR in dB (torchmetrics' definition, zero_mean=False)."""

    name, direction, unit, delta_kind = "si_sdr", HIGHER, "dB", ABSOLUTE
    nan_reason = "silent reference"

    def accumulator(self) -> SISDRSums:
        return SISDRSums()


class HFRetention(PerItemMetric):
    """100 · Σ_t Σ_{f ≥ fc}|Y| / Σ_t Σ_{f ≥ fc}|X| over the clips' STFTs, in %. Its target is 100 %: a
    reconstruction with more high band than the reference is as wrong as one with less (see `metrics.scoring`)."""

    name, direction, target, unit, delta_kind = "hf_retention", TARGET, 100.0, "%", ABSOLUTE
    nan_reason = "reference has no content above the cutoff"
    high_band = True
    plot_lower_bound = 0.0

    def __init__(
        self,
        sample_rate: int,
        cutoff_hz: Optional[float] = None,
        power: bool = False,
        n_fft: FFTSize = 2048,
        hop: Hop = 512,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.sample_rate, self.power, self.n_fft, self.hop = sample_rate, power, n_fft, hop
        self.cutoff_hz = hf_cutoff(sample_rate, cutoff_hz)

    def accumulator(self) -> HighBandSums:
        return HighBandSums(self.sample_rate, self.n_fft, self.hop, self.cutoff_hz, self.power)


class SpectralCorrelation(PerItemMetric):
    """Pearson correlation of the long-term average magnitude spectra, −1…1."""

    name, direction, unit, delta_kind = "spectral_correlation", HIGHER, "", PERCENT
    nan_reason = "flat average magnitude spectrum"
    plot_lower_bound, plot_upper_bound = -1.0, 1.0

    def __init__(self, n_fft: FFTSize = 2048, hop: Hop = 512, **kwargs):
        super().__init__(**kwargs)
        self.n_fft, self.hop = n_fft, hop

    def accumulator(self) -> AverageSpectra:
        return AverageSpectra(self.n_fft, self.hop)


class LSD(PerItemMetric):
    """Log-spectral distance in log10-power units over all, high (f ≥ fc) or low (f < fc) bins; `scaling`:
    "raw" spectra or "low_band_energy", the estimate scaled to the reference's low-band energy first (AudioSR's
    evaluation; `audiovae.metrics.functional.lsd`)."""

    name, direction, unit, delta_kind = "lsd", LOWER, "", PERCENT
    nan_reason = "never undefined"
    plot_lower_bound = 0.0

    def __init__(
        self,
        sample_rate: int,
        n_fft: FFTSize = 2048,
        hop: Hop = 512,
        band: str = "all",
        cutoff_hz: Optional[float] = None,
        scaling: Scaling = "raw",
        **kwargs,
    ):
        kwargs.setdefault("name", {"all": "lsd", "high": "lsd_hf", "low": "lsd_lf"}.get(band, "lsd"))
        super().__init__(**kwargs)
        self.sample_rate, self.n_fft, self.hop, self.band = sample_rate, n_fft, hop, band
        self.scaling = scaling
        self.cutoff_hz = hf_cutoff(sample_rate, cutoff_hz)
        band_mask(1, n_fft, sample_rate, band, self.cutoff_hz)  # validates `band`
        self.high_band = band == "high"

    def accumulator(self) -> Accumulator:
        return lsd_accumulator(self.sample_rate, self.n_fft, self.hop, self.band, self.cutoff_hz, self.scaling)


class MelDistance(PerItemMetric):
    """Multi-scale log10-mel L1 distance (DAC's 7 scales)."""

    name, direction, unit, delta_kind = "mel_distance", LOWER, "", PERCENT
    nan_reason = "never undefined"
    plot_lower_bound = 0.0

    def __init__(self, sample_rate: int, **kwargs):
        super().__init__(**kwargs)
        self.sample_rate = sample_rate
        self.n_fft = max(WINDOW_LENGTHS)  # its longest scale

    def accumulator(self) -> MelDistanceSums:
        return MelDistanceSums(self.sample_rate, WINDOW_LENGTHS, N_MELS)


register_metric("snr", SNR)
register_metric("si_sdr", SISDR)
register_metric("hf_retention", HFRetention)
register_metric("spectral_correlation", SpectralCorrelation)
# one section for the three bands of one LSD: their STFT agrees, so lsd_hf and lsd_lf split what lsd measures
register_metric("lsd", LSD, "lsd", band="all")
register_metric("lsd_hf", LSD, "lsd", band="high")
register_metric("lsd_lf", LSD, "lsd", band="low")
register_metric("mel_distance", MelDistance)
