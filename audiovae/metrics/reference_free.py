"""Reference-free metrics of one waveform's high band: what generated audio, which has no reference, can be measured
by. Each reads the clip's long-term power spectrum P_k = Σ_t |X_tk|² (STFT: Hann `n_fft`, `hop`, centred, zero
padded, as `hf_retention`; f_k = k·sr/n_fft) or its frames, so chunked and whole clips agree.

- `hf_energy_share` (%, higher: more of the energy above the cutoff fc): 100 · Σ_{f_k ≥ fc} P_k / Σ_k P_k.
- `rolloff_85`, `rolloff_95` (Hz, higher): the lowest f_k with Σ_{j ≤ k} P_j ≥ q · Σ_j P_j (librosa's
  spectral_rolloff, on the long-term spectrum instead of per frame).
- `effective_bandwidth` (Hz, higher): the highest f_k with P_k ≥ max_j P_j · 10^(−FLOOR_DB/10), FLOOR_DB = 60.
- `hf_flatness` (0…1, lower): spectral flatness (geometric over arithmetic mean of max(|X_tk|², 1e-10),
  librosa's) of the bins above fc, per frame, averaged over the frames with energy there: e^−γ ≈ 0.56 for white
  noise, near 0 for a few partials, 1 only for an exactly flat spectrum. A decode
  that lost the band leaves a featureless (flat) noise floor there, so lower counts as better; a pure gain does
  not change it.

They say whether a high band is present and how it is shaped, not whether it is right: the report says so beside
their verdicts, and FAD/KL against a reference set or the blind pages judge realism.

>>> import torch
>>> x = torch.randn(16000, generator=torch.Generator().manual_seed(0))
>>> round(float(HighBandShare(16000).per_item(x[None], x[None], None)), 0)  # white noise: half above sr/4
50.0
"""

from typing import ClassVar, Optional

import torch
from torch import Tensor

from audiovae.metrics.base import ABSOLUTE, HIGHER, LOWER, PERCENT, FFTSize, Hop, PerItemMetric
from audiovae.metrics.functional.frames import FrameSums, band_mask, hf_cutoff
from audiovae.metrics.functional.items import EPS, nan64
from audiovae.metrics.table import register_metric, register_prompt_metric

AMIN = 1e-10  # hf_flatness: powers below it count as it (librosa.feature.spectral_flatness's amin)
FLOOR_DB = 60.0  # effective_bandwidth: bins within this many dB of the long-term spectrum's peak count


class PowerSpectrum(FrameSums):
    """Σ_t |X_tk|² per bin (of the estimate; a reference-free metric is given it as both arguments), and the
    per-frame flatness of the bins in `band` summed over frames with energy there."""

    def __init__(self, n_fft: int, hop: int, band: Optional[Tensor] = None):
        super().__init__(n_fft, hop)
        self.power = torch.zeros(n_fft // 2 + 1, dtype=torch.float64)
        self.band, self.flatness, self.frames = band, torch.zeros((), dtype=torch.float64), 0

    def add(self, Y: Tensor, X: Tensor) -> None:
        if Y.shape[-1] == 0:  # no frame completed by this chunk
            return
        power = Y.abs().cpu() ** 2  # [..., bins, t]
        power = power.reshape(-1, *power.shape[-2:]).sum(0)  # channels summed
        self.power += power.sum(-1)
        if self.band is not None:
            high = power[self.band]  # [bins above fc, t]
            energetic = high.sum(0) > EPS
            if energetic.any():
                h = high[:, energetic].clamp(min=AMIN)  # librosa's spectral_flatness floor
                self.flatness += (h.log().mean(0).exp() / h.mean(0)).sum()
                self.frames += int(energetic.sum())


class ReferenceFreeMetric(PerItemMetric):
    """A reference-free metric of the long-term power spectrum; `per_item(preds, target)` reads only `preds`."""

    nan_reason = "silent clip"
    high_band: ClassVar[bool] = False
    reference_free: ClassVar[bool] = True

    def __init__(
        self, sample_rate: int, n_fft: FFTSize = 2048, hop: Hop = 512, cutoff_hz: Optional[float] = None, **kwargs
    ):
        super().__init__(**kwargs)
        self.sample_rate, self.n_fft, self.hop = sample_rate, n_fft, hop
        self.cutoff_hz = hf_cutoff(sample_rate, cutoff_hz)
        self.freqs = torch.arange(n_fft // 2 + 1, dtype=torch.float64) * sample_rate / n_fft

    def per_item(self, preds: Tensor, target: Tensor, lengths: Optional[Tensor]) -> Tensor:
        return super().per_item(preds, preds, lengths)

    def accumulator(self) -> "_Value":
        return _Value(self)

    def value(self, spectrum: PowerSpectrum) -> Tensor:  # pragma: no cover
        """The metric from the estimate's accumulated long-term power spectrum (and its high-band flatness sums)."""
        raise NotImplementedError

    def flatness_band(self) -> Optional[Tensor]:
        """The bins whose per-frame flatness the spectrum also sums (None: none)."""
        return None


class _Value(PowerSpectrum):
    """The spectrum of one clip, valued by its metric (NaN for a silent clip)."""

    def __init__(self, metric: ReferenceFreeMetric):
        super().__init__(metric.n_fft, metric.hop, metric.flatness_band())
        self.metric = metric

    def result(self) -> Tensor:
        return self.metric.value(self) if self.power.sum() > EPS else nan64()


class HighBandShare(ReferenceFreeMetric):
    """100 · Σ_{f ≥ fc} P / Σ P: the share of the clip's energy above the cutoff, in %."""

    name, direction, unit, delta_kind = "hf_energy_share", HIGHER, "%", ABSOLUTE
    high_band = True
    plot_lower_bound, plot_upper_bound = 0.0, 100.0

    def value(self, s: PowerSpectrum) -> Tensor:
        """100 · Σ_{f_k ≥ fc} P_k / Σ_k P_k."""
        high = band_mask(len(s.power), self.n_fft, self.sample_rate, "high", self.cutoff_hz)
        return 100 * s.power[high].sum() / s.power.sum()


class SpectralRolloff(ReferenceFreeMetric):
    """The lowest f_k below which `fraction` of the clip's energy lies (Hz)."""

    direction, unit, delta_kind = HIGHER, "Hz", PERCENT
    plot_lower_bound = 0.0

    def __init__(self, sample_rate: int, fraction: float = 0.85, n_fft: FFTSize = 2048, hop: Hop = 512, **kwargs):
        kwargs.setdefault("name", f"rolloff_{round(100 * fraction)}")
        super().__init__(sample_rate, n_fft, hop, **kwargs)
        self.fraction = fraction

    def value(self, s: PowerSpectrum) -> Tensor:
        """The lowest f_k whose cumulative power reaches `fraction` of the total."""
        cumulative = torch.cumsum(s.power, 0)
        k = int(torch.searchsorted(cumulative, self.fraction * cumulative[-1]))
        return self.freqs[min(k, len(self.freqs) - 1)]


class EffectiveBandwidth(ReferenceFreeMetric):
    """The highest f_k whose long-term power is within FLOOR_DB of the peak's (Hz)."""

    name, direction, unit, delta_kind = "effective_bandwidth", HIGHER, "Hz", PERCENT
    plot_lower_bound = 0.0

    def value(self, s: PowerSpectrum) -> Tensor:
        """The highest f_k whose power is within FLOOR_DB (60 dB) of the peak bin's."""
        above = torch.nonzero(s.power >= s.power.max() * 10 ** (-FLOOR_DB / 10)).flatten()
        return self.freqs[int(above[-1])]


class HighBandFlatness(ReferenceFreeMetric):
    """Mean over frames with energy above fc of the high band's spectral flatness (0…1)."""

    name, direction, unit, delta_kind = "hf_flatness", LOWER, "", PERCENT
    nan_reason = "no energy above the cutoff"
    high_band = True
    plot_lower_bound, plot_upper_bound = 0.0, 1.0

    def flatness_band(self) -> Tensor:
        return band_mask(self.n_fft // 2 + 1, self.n_fft, self.sample_rate, "high", self.cutoff_hz)

    def value(self, s: PowerSpectrum) -> Tensor:
        """The mean high-band flatness over the frames with energy there (NaN without any)."""
        return s.flatness / s.frames if s.frames else nan64()


class PromptMetric(PerItemMetric):
    """A per-item metric the generation job computes itself from models (not from a waveform pair): it declares
    direction and unit for the statistics; `needs` says what it takes."""

    needs: ClassVar[str] = ""
    is_differentiable = False

    def __init__(self, **kwargs):
        super().__init__(**kwargs)

    def accumulator(self):  # pragma: no cover - computed by audiovae.generation.scores
        raise NotImplementedError(f"{self.name} is computed by the generation job")


class ClapScore(PromptMetric):
    """cos(text embedding of the prompt, audio embedding of the clip) in the `embedding` model's CLAP space, −1…1."""

    name, direction, unit, delta_kind = "clap_score", HIGHER, "", ABSOLUTE
    nan_reason = "never undefined"
    needs = "a prompt and the embedding model (embedding=...)"


class LabelKL(PromptMetric):
    """KL(p_ref ‖ p_gen) = Σ_c p_ref,c · (log p_ref,c − log(p_gen,c + 1e-6)) of the classifier's softmax label
    probabilities of the item's reference audio and of the clip (audioldm_eval's and AudioGen's "KL", softmax)."""

    name, direction, unit, delta_kind = "kl_softmax", LOWER, "", PERCENT
    nan_reason = "the prompt has no reference audio"
    needs = "a classifier (classifier=...) and reference audio per prompt (an audio column in the prompts file)"
    plot_lower_bound = 0.0


# one section for the long-term spectrum that every reference-free metric reads
register_metric("hf_energy_share", HighBandShare, "spectrum")
register_metric("rolloff_85", SpectralRolloff, "spectrum", fraction=0.85)
register_metric("rolloff_95", SpectralRolloff, "spectrum", fraction=0.95)
register_metric("effective_bandwidth", EffectiveBandwidth, "spectrum")
register_metric("hf_flatness", HighBandFlatness, "spectrum")
register_prompt_metric("clap_score", ClapScore)
register_prompt_metric("kl_softmax", LabelKL)
