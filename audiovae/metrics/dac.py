"""The columns of DAC's evaluation (descript-audio-codec 1.0.0 `scripts/evaluate.py` with audiotools 0.7.2), computed
as that script computes them, so that `protocol=dac` gives its numbers.

For each rate r of `RATES` (22050 Hz: `_22k`, 44100 Hz: `_44k`), the reference x and the estimate y are resampled from
the run's rate with julius' `resample_frac` (audiotools' `AudioSignal.resample`), then, with the losses' defaults (the
script builds them without arguments):

- `dac_mel_<k>` (DAC's `mel-<k>`, lower is better): Σ_s mean|log10(max(M_s x, ε)²) − log10(max(M_s y, ε)²)| +
  mean|M_s x − M_s y|, ε = 1e-5, over the scales s = (150 mels, 2048-sample window), (80 mels, 512): M_s the
  librosa (Slaney) mel filters from 0 Hz to r/2 applied to the STFT magnitude (periodic Hann window, hop a quarter of
  it, centred with reflection).
- `dac_stft_<k>` (`stft-<k>`, lower): the same on the STFT magnitudes of windows 2048 and 512.
- `dac_waveform_<k>` (`waveform-<k>`, lower): mean|x − y|.
- `dac_sisdr_<k>` (`sisdr-<k>`, dB, higher): SI-SDR with DAC's ε = 1e-8 placement, x and y made zero-mean:
  10·log10(|αx|² / |y − αx|² + ε), α = (⟨y, x⟩ + ε) / (|x|² + ε): the sign the paper reports (the script negates
  its loss).
- `dac_visqol_audio_<k>`, `dac_visqol_speech_<k>` (`visqol-audio-<k>`, `visqol-speech-<k>`, MOS, higher): ViSQOL v3
  after a second julius resampling to 48 kHz (audio mode) or 16 kHz (speech mode). The script calls audiotools'
  `visqol(estimates, references)` as `visqol(signal, recons)`: the reference file is scored as the degraded signal
  against the reconstruction. These columns keep that order, so they equal DAC's; the `visqol` metric scores the
  estimate against the reference. (visqol-python stands in for Google's C++ binding, which is not on the registry.)

Every value is computed on the whole file at once (these are not the chunk-additive metrics).
"""

import math
from functools import lru_cache
from typing import ClassVar, Literal

import torch
from torch import Tensor

from audiovae.metrics.base import ABSOLUTE, HIGHER, LOWER, PERCENT
from audiovae.metrics.perceptual import WholeSignalMetric
from audiovae.metrics.table import register_metric
from audiovae.metrics.visqol import MODE_RATES, ViSQOL

RATES = {"22k": 22050, "44k": 44100}
SUFFIXES = {rate: k for k, rate in RATES.items()}
MEL_SCALES = ((150, 2048), (80, 512))  # (mels, window) of MelSpectrogramLoss()
STFT_WINDOWS = (2048, 512)  # MultiScaleSTFTLoss()
CLAMP = 1e-5  # both losses' clamp_eps
SISDR_EPS = 1e-8

Kind = Literal["mel", "stft", "waveform", "sisdr"]


def resample(x: Tensor, old: int, new: int) -> Tensor:
    """`x` (float32, time last) from `old` to `new` Hz as audiotools resamples (julius' windowed sinc)."""
    import julius

    return x if old == new else julius.resample_frac(x, old, new)


@lru_cache(maxsize=16)
def _window(length: int) -> Tensor:
    from scipy.signal import get_window

    return torch.from_numpy(get_window("hann", length)).float()


@lru_cache(maxsize=16)
def _mel_filters(rate: int, n_fft: int, n_mels: int) -> Tensor:
    import librosa

    return torch.from_numpy(librosa.filters.mel(sr=rate, n_fft=n_fft, n_mels=n_mels, fmin=0.0, fmax=None))


def magnitude(x: Tensor, window: int) -> Tensor:
    """|STFT| `[F, T]` of `x` `[S]`: periodic Hann `window`, hop window / 4, centred, reflect-padded."""
    return torch.stft(x[None], window, window // 4, window=_window(window), center=True, return_complex=True)[0].abs()


def log_and_linear_l1(a: Tensor, b: Tensor) -> Tensor:
    """mean|log10(max(a, ε)²) − log10(max(b, ε)²)| + mean|a − b| (the two halves of DAC's spectral losses)."""
    log = (a.clamp(CLAMP).pow(2.0).log10() - b.clamp(CLAMP).pow(2.0).log10()).abs().mean()
    return log + (a - b).abs().mean()


def mel_distance(x: Tensor, y: Tensor, rate: int) -> float:
    """DAC's multi-scale mel distance of `x` and `y` `[S]` at `rate`."""
    total = 0.0
    for n_mels, window in MEL_SCALES:
        basis = _mel_filters(rate, window, n_mels)
        mx, my = (basis @ magnitude(s, window) for s in (x, y))
        total = total + log_and_linear_l1(mx, my)
    return float(total)


def stft_distance(x: Tensor, y: Tensor) -> float:
    """DAC's multi-scale STFT distance of `x` and `y` `[S]`."""
    return float(sum(log_and_linear_l1(magnitude(x, w), magnitude(y, w)) for w in STFT_WINDOWS))


def si_sdr(x: Tensor, y: Tensor) -> float:
    """SI-SDR (dB) of estimate `y` against reference `x`, with DAC's ε placement (`SISDRLoss`, negated)."""
    x, y = x - x.mean(), y - y.mean()
    alpha = ((y * x).sum() + SISDR_EPS) / ((x**2).sum() + SISDR_EPS)
    target = alpha * x
    return float(10 * torch.log10((target**2).sum() / ((y - target) ** 2).sum() + SISDR_EPS))


class DACMetric(WholeSignalMetric):
    """One of DAC's distances (`kind`) at one of its rates (`rate`, Hz), both fixed by the metric's name."""

    is_differentiable = False
    nan_reason = "DAC's formula is undefined on this pair (a silent reference)"

    def __init__(self, sample_rate: int, kind: Kind, rate: int, **kwargs):
        kwargs.setdefault("name", f"dac_{kind}_{SUFFIXES[rate]}")
        super().__init__(sample_rate, **kwargs)
        self.kind, self.rate = kind, rate

    @property
    def min_samples(self) -> int:
        return math.ceil(max(STFT_WINDOWS) // 2 * self.sample_rate / self.rate) + 1  # its reflect padding

    def score(self, y: Tensor, x: Tensor) -> float:
        """The value of `kind` for estimate `y` and reference `x` (whole mono signals at `sample_rate`)."""
        x, y = (resample(s.float(), self.sample_rate, self.rate) for s in (x, y))
        if self.kind == "mel":
            return mel_distance(x, y, self.rate)
        if self.kind == "stft":
            return stft_distance(x, y)
        if self.kind == "waveform":
            return float((x - y).abs().mean())
        return si_sdr(x, y)


class DACDistance(DACMetric):
    """DAC's mel, STFT or waveform distance (lower is better)."""

    direction, unit, delta_kind = LOWER, "", PERCENT
    plot_lower_bound = 0.0


class DACSISDR(DACMetric):
    """DAC's SI-SDR column (dB, higher is better)."""

    direction, unit, delta_kind = HIGHER, "dB", ABSOLUTE


class DACViSQOL(ViSQOL):
    """DAC's ViSQOL column: both signals at `rate`, then at the mode's rate, the reference scored against the
    estimate (the script's argument order)."""

    scale_note: ClassVar[str] = (
        "dac_visqol_* keep DAC's evaluate.py argument order (the reference scored against the reconstruction); "
        "audio mode's ceiling is 4.73, not 5; speech mode is for speech only"
    )

    def __init__(self, sample_rate: int, rate: int, mode: Literal["audio", "speech"] = "audio", **kwargs):
        kwargs.setdefault("name", f"dac_visqol_{mode}_{SUFFIXES[rate]}")
        super().__init__(sample_rate, mode, **kwargs)
        self.rate = rate

    def score(self, y: Tensor, x: Tensor) -> float:
        """MOS-LQO as DAC computes it for estimate `y` and reference `x` (whole mono signals at `sample_rate`)."""
        target = MODE_RATES[self.mode]
        x, y = (resample(resample(s.float(), self.sample_rate, self.rate), self.rate, target) for s in (x, y))
        return self.measure(y.double().numpy(), x.double().numpy())  # the script's order: y as the reference


for _k, _rate in RATES.items():
    for _kind in ("mel", "stft", "waveform"):
        register_metric(f"dac_{_kind}_{_k}", DACDistance, "dac", kind=_kind, rate=_rate)
    register_metric(f"dac_sisdr_{_k}", DACSISDR, "dac", kind="sisdr", rate=_rate)
    for _mode in ("audio", "speech"):
        register_metric(f"dac_visqol_{_mode}_{_k}", DACViSQOL, "dac", rate=_rate, mode=_mode)
