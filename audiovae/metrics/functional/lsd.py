"""Log-spectral distance (NU-Wave convention)."""
from typing import Optional

import torch
from torch import Tensor

from audiovae.metrics.functional.frames import PairedStft
from audiovae.metrics.functional.items import Accumulator, nan64, per_item, whole

BANDS = ("all", "high", "low")


def band_mask(n_bins: int, n_fft: int, sample_rate: int, band: str, cutoff_hz: float, device=None) -> Tensor:
    """Bins k (f_k = k·sr/n_fft) of `band`: "all", "high" (f_k ≥ fc) or "low" (f_k < fc)."""
    if band not in BANDS:
        raise ValueError(f"band must be one of {BANDS}, got {band!r}")
    freqs = torch.arange(n_bins, device=device) * sample_rate / n_fft
    return {"all": torch.ones_like(freqs, dtype=torch.bool), "high": freqs >= cutoff_hz, "low": freqs < cutoff_hz}[band]


class FrameSums(Accumulator):
    """Base of the STFT metrics: frames of y and x as they complete, `add(Y, X)` per batch of frames `[bins, t]`
    (complex, float64)."""

    def __init__(self, n_fft: int, hop: int):
        self.stft, self.finished = PairedStft(n_fft, hop), False

    def add(self, Y: Tensor, X: Tensor) -> None:  # pragma: no cover
        raise NotImplementedError

    def result(self) -> Tensor:  # pragma: no cover
        raise NotImplementedError

    def update(self, y: Tensor, x: Tensor) -> "FrameSums":
        self.add(*self.stft.push(y.double(), x.double()))
        return self

    def value(self) -> Tensor:
        if not self.finished:
            self.add(*self.stft.finish())
            self.finished = True
        return self.result()


class LSDSums(FrameSums):
    """Σ_t sqrt(mean_{f in band} (log10 S_y − log10 S_x)²) and the frame count."""

    def __init__(self, sample_rate: int, n_fft: int, hop: int, band: str, cutoff_hz: float):
        super().__init__(n_fft, hop)
        self.keep = band_mask(n_fft // 2 + 1, n_fft, sample_rate, band, cutoff_hz)
        self.total, self.frames = torch.zeros((), dtype=torch.float64), 0

    def add(self, Y: Tensor, X: Tensor) -> None:
        keep = self.keep.to(X.device)
        log_x = torch.log10(torch.clamp(X[keep].abs() ** 2, min=1e-8))
        log_y = torch.log10(torch.clamp(Y[keep].abs() ** 2, min=1e-8))
        self.total = self.total + torch.sqrt(((log_y - log_x) ** 2).mean(dim=0)).sum().cpu()
        self.frames += X.shape[-1]

    def result(self) -> Tensor:
        return self.total / self.frames if self.frames else nan64()


def lsd(preds: Tensor, target: Tensor, sample_rate: int, n_fft: int = 2048, hop: int = 512, band: str = "all",
        cutoff_hz: Optional[float] = None, lengths: Optional[Tensor] = None) -> Tensor:
    """LSD = mean_t sqrt(mean_f (log10 S_y − log10 S_x)²), S = clamp(|STFT|², 1e-8); Hann window, centred frames
    with zero padding.

    `band`: "all" bins, "high" (f ≥ fc) or "low" (f < fc); fc = sr/4 by default. Lower is better; 0 for y = x.
    """
    cutoff = sample_rate / 4 if cutoff_hz is None else cutoff_hz
    band_mask(1, n_fft, sample_rate, band, cutoff)  # validates `band`
    return per_item(whole(lambda: LSDSums(sample_rate, n_fft, hop, band, cutoff)), preds, target, lengths)
