"""The signal columns of ESPnet-Codec's evaluation (VERSA's codec configuration: `mcd_f0`, `signal_metric`, `pesq`,
`stoi`, `visqol`), computed as VERSA's functions compute them, so that `protocol=espnet_codec` gives its numbers.

With reference x and estimate y (float64 mono at the run's rate r, the same length):

- `espnet_sdr` (VERSA's `sdr`, dB, higher): BSS Eval's SDR (mir_eval `bss_eval_sources`, one source): x is
  projected on y by the least-squares FIR filter h of L = 512 taps, SDR = 10·log10(|h∗x|² / |y − h∗x|²) (y padded
  by L − 1 zeros): a filter of the reference is not counted as distortion. (BSS Eval's SIR is infinite and its SAR
  equals the SDR for one source: not columns.)
- `espnet_ci_sdr` (`ci_sdr`, dB, higher): the same quantity as the ci_sdr package computes it, in float32 (VERSA
  hands it float32 tensors): its FFT size, Toeplitz solve and sums, so its last digits (1e-4 relative at 35 dB)
  are its own.
- `espnet_si_snr` (`si_snr`, dB, higher): fast_bss_eval's `si_sdr_loss`, negated, in float32, without removing the
  mean: c = ⟨x̂, ŷ⟩² with x̂, ŷ scaled to unit norm (norms clamped at 1e-6), 10·log10(c / (1 − c)).
- `espnet_pesq` (`pesq`, MOS, higher): wide-band PESQ of y against x at 16 kHz (librosa's soxr HQ resampling from
  a higher rate); where PESQ fails (a silent reference) VERSA writes 0.0, and so does this column.
- `espnet_mcd` (`mcd`, dB, lower): mel cepstral distortion of WORLD analysis: each signal scaled by 32767, a 70 Hz
  high-pass (255-tap FIR), F0 by Harvest (40–800 Hz, 5 ms frames), the spectral envelope by CheapTrick (FFT 1024),
  39th-order mel cepstra c (α = 0.466, c₀ included), then the mean over frames of (10 / ln 10)·√(2·Σ_d (c_y,d −
  c_x,d)²) without time warping (VERSA's codec setting `dtw: false`). Needs pyworld and pysptk (`pip install
  'audiovae[espnet]'`).

VERSA's `stoi` and `visqol` (default model, audio mode) are the `stoi` and `visqol` metrics unchanged. Every value
is computed on the whole file (a whole-signal metric).
"""

import math
from functools import lru_cache
from importlib.util import find_spec
from typing import Literal

import numpy as np
import torch
from torch import Tensor

from audiovae.errors import ConfigError
from audiovae.metrics.base import ABSOLUTE, HIGHER, LOWER, PERCENT
from audiovae.metrics.perceptual import WholeSignalMetric
from audiovae.metrics.table import register_metric

TAPS = 512  # BSS Eval's distortion filter length (mir_eval's default, VERSA's ci_sdr filter_length)
UNIT_NORM_FLOOR = 1e-6  # fast_bss_eval's _normalize
PESQ_RATE = 16000
INT16_SCALE = float(np.iinfo(np.int16).max)
WORLD = {"f0_floor": 40.0, "f0_ceil": 800.0, "frame_period": 5.0, "fft_size": 1024}  # VERSA's codec mcd_f0 settings
MCEP_ORDER, MCEP_ALPHA = 39, 0.466
LOW_CUT_HZ, LOW_CUT_TAPS = 70.0, 255

SignalKind = Literal["sdr", "ci_sdr", "si_snr"]


def _toeplitz(first: Tensor) -> Tensor:
    """The symmetric Toeplitz matrix whose first row and column are `first`."""
    n = first.shape[-1]
    index = (torch.arange(n)[:, None] - torch.arange(n)[None, :]).abs()
    return first[index]


def projection_sdr(x: Tensor, y: Tensor, taps: int = TAPS) -> float:
    """10·log10(|h∗x|² / |y − h∗x|²), h the `taps`-tap least-squares filter from x to y, in `x.dtype` with ci_sdr's
    FFT size (2^⌈log2(2T − 1)⌉) and order of operations (float64: mir_eval's SDR within 1e-5 relative)."""
    length = x.shape[-1]
    size = 2 ** math.ceil(math.log2(2 * length - 1))
    spectrum = torch.fft.rfft(x, size)
    autocorrelation = torch.fft.irfft(spectrum.conj() * spectrum, size)
    crosscorrelation = torch.fft.irfft(spectrum.conj() * torch.fft.rfft(y, size), size)
    h = torch.linalg.solve(_toeplitz(autocorrelation[:taps]), crosscorrelation[:taps, None])[:, 0]
    projected = torch.fft.irfft(spectrum * torch.fft.rfft(h, size), size)[: length + taps - 1]
    padded = torch.nn.functional.pad(y, (0, taps - 1))
    return float(10 * torch.log10((projected**2).sum() / ((projected - padded) ** 2).sum()))


def si_snr(x: Tensor, y: Tensor) -> float:
    """fast_bss_eval's SI-SDR without mean removal: c = ⟨x̂, ŷ⟩², 10·log10(c / (1 − c)), in `x.dtype`."""
    x, y = (s[None] / s[None].norm(dim=-1, keepdim=True).clamp(min=UNIT_NORM_FLOOR) for s in (x, y))
    coherence = torch.einsum("...n,...n->...", x, y) ** 2  # its order of summation: the float32 digits agree
    coherence = coherence.clamp(min=0.0, max=1.0)
    return float(-10 * torch.log10((1 - coherence) / coherence))


def _silent(s: Tensor) -> bool:
    return not bool(s.abs().max() > 0)


class ESPnetSignal(WholeSignalMetric):
    """VERSA's `signal_metric` columns (`kind`: sdr, ci_sdr, si_snr; dB, higher is better)."""

    direction, unit, delta_kind = HIGHER, "dB", ABSOLUTE
    nan_reason = "BSS Eval is undefined for a silent reference or estimate (VERSA skips the file)"

    def __init__(self, sample_rate: int, kind: SignalKind, **kwargs):
        kwargs.setdefault("name", f"espnet_{kind}")
        super().__init__(sample_rate, **kwargs)
        self.kind = kind

    def score(self, y: Tensor, x: Tensor) -> float:
        """The `kind` value for estimate `y` and reference `x` (whole mono signals)."""
        if _silent(x) or _silent(y):
            raise ValueError("a silent signal")  # mir_eval's validate; VERSA catches it and writes no value
        if self.kind == "sdr":
            return projection_sdr(x.double(), y.double())
        if self.kind == "ci_sdr":
            return projection_sdr(x.float(), y.float())
        return si_snr(x.float(), y.float())


def to_rate(s: np.ndarray, old: int, new: int) -> np.ndarray:
    """`s` from `old` to `new` Hz as librosa's default resampler does (soxr HQ)."""
    import soxr

    return s if old == new else soxr.resample(s, old, new, quality="HQ")


class ESPnetPESQ(WholeSignalMetric):
    """VERSA's `pesq` column: wide-band PESQ at 16 kHz, 0.0 where PESQ fails (MOS-LQO, higher is better)."""

    name, direction, unit, delta_kind = "espnet_pesq", HIGHER, "MOS", ABSOLUTE
    speech_only = True
    nan_reason = "never undefined: VERSA writes 0.0 where PESQ fails"

    def __init__(self, sample_rate: int, **kwargs):
        if sample_rate < PESQ_RATE:
            raise ConfigError(
                f"config key 'metrics.names': espnet_pesq is defined from {PESQ_RATE} Hz (VERSA's path below it "
                f"scores 8 kHz audio as 16 kHz), the front end runs at {sample_rate} Hz"
            )
        super().__init__(sample_rate, **kwargs)

    def score(self, y: Tensor, x: Tensor) -> float:
        """PESQ of estimate `y` against reference `x` as VERSA's `pesq_metric` computes it."""
        from pesq import pesq

        ref, deg = (to_rate(s.double().numpy(), self.sample_rate, PESQ_RATE) for s in (x, y))
        try:
            return float(pesq(PESQ_RATE, ref, deg, "wb"))
        except Exception:
            return 0.0


def _need_world() -> None:
    missing = [p for p in ("pyworld", "pysptk") if find_spec(p) is None]
    if missing:
        raise ConfigError(
            f"config key 'metrics.names': espnet_mcd needs {' and '.join(missing)} (WORLD analysis): "
            "pip install 'audiovae[espnet]'"
        )


@lru_cache(maxsize=8)
def _low_cut(rate: int) -> np.ndarray:
    from scipy.signal import firwin

    return firwin(LOW_CUT_TAPS, LOW_CUT_HZ / (rate // 2), pass_zero=False)


def mel_cepstra(s: np.ndarray, rate: int) -> np.ndarray:
    """`[frames, 40]` mel cepstra of WORLD's spectral envelope of `s` (float64 in [−1, 1]) at `rate`, as VERSA's
    `world_extract` computes them."""
    import warnings

    from scipy.signal import lfilter

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # both import setuptools' deprecated pkg_resources (pinned below 81)
        import pysptk
        import pyworld

    s = lfilter(_low_cut(rate), 1, s * INT16_SCALE)
    period = WORLD["frame_period"]
    f0, times = pyworld.harvest(s, rate, f0_floor=WORLD["f0_floor"], f0_ceil=WORLD["f0_ceil"], frame_period=period)
    envelope = pyworld.cheaptrick(s, f0, times, rate, fft_size=WORLD["fft_size"])
    return pysptk.sp2mc(envelope, MCEP_ORDER, MCEP_ALPHA)


class ESPnetMCD(WholeSignalMetric):
    """VERSA's `mcd` column: mel cepstral distortion of WORLD analysis, frame by frame (dB, lower is better)."""

    name, direction, unit, delta_kind = "espnet_mcd", LOWER, "dB", PERCENT
    nan_reason = "WORLD analysis failed on this pair"
    plot_lower_bound = 0.0

    def __init__(self, sample_rate: int, **kwargs):
        _need_world()
        super().__init__(sample_rate, **kwargs)

    def score(self, y: Tensor, x: Tensor) -> float:
        """MCD of estimate `y` against reference `x` (whole mono signals)."""
        cy, cx = (mel_cepstra(s.double().numpy(), self.sample_rate) for s in (y, x))
        frames = min(len(cy), len(cx))
        distance = np.sqrt(2 * np.sum((cy[:frames] - cx[:frames]) ** 2, axis=1))
        return float(np.mean(10 / np.log(10.0) * distance))


for _kind in ("sdr", "ci_sdr", "si_snr"):
    register_metric(f"espnet_{_kind}", ESPnetSignal, "espnet", kind=_kind)
register_metric("espnet_pesq", ESPnetPESQ)
register_metric("espnet_mcd", ESPnetMCD)
