"""Long-term spectrum comparisons: high-frequency retention and spectral correlation.

Both read the clip's STFT (Hann window, centred frames with zero padding, as LSD), so they follow a long file
segment by segment and mean the same thing for a 1 s clip and a 1 h recording.
"""

from typing import Optional

import torch
from torch import Tensor

from audiovae.metrics.functional.frames import FrameSums, band_mask, hf_cutoff
from audiovae.metrics.functional.items import EPS, nan64, per_item, whole


class HighBandSums(FrameSums):
    """Σ_t Σ_{f_k ≥ fc} |Y_tk| and the same of X (or of |·|² with `power`)."""

    def __init__(self, sample_rate: int, n_fft: int, hop: int, cutoff_hz: float, power: bool):
        super().__init__(n_fft, hop)
        self.high, self.power = band_mask(n_fft // 2 + 1, n_fft, sample_rate, "high", cutoff_hz), power
        self.y = self.x = torch.zeros((), dtype=torch.float64)

    def add(self, Y: Tensor, X: Tensor) -> None:
        high = self.high.to(X.device)
        mag_y, mag_x = Y[high].abs(), X[high].abs()
        if self.power:
            mag_y, mag_x = mag_y**2, mag_x**2
        self.y, self.x = self.y + mag_y.sum().cpu(), self.x + mag_x.sum().cpu()

    def result(self) -> Tensor:
        return 100 * self.y / self.x if self.x > EPS else nan64()


class AverageSpectra(FrameSums):
    """Σ_t |Y_tk| and Σ_t |X_tk| per bin k: the long-term average magnitude spectra (up to the frame count)."""

    def __init__(self, n_fft: int, hop: int):
        super().__init__(n_fft, hop)
        self.y = self.x = torch.zeros(n_fft // 2 + 1, dtype=torch.float64)

    def add(self, Y: Tensor, X: Tensor) -> None:
        self.y, self.x = self.y + Y.abs().sum(-1).cpu(), self.x + X.abs().sum(-1).cpu()

    def result(self) -> Tensor:
        a, b = self.x - self.x.mean(), self.y - self.y.mean()
        scale = max(float(self.x.abs().max()), float(self.y.abs().max()))
        if a.norm() <= 1e-12 * scale * a.numel() ** 0.5 or b.norm() <= 1e-12 * scale * b.numel() ** 0.5:
            return nan64()  # a flat spectrum, up to rounding
        return torch.clamp((a * b).sum() / (a.norm() * b.norm()), -1.0, 1.0)


def hf_retention(
    preds: Tensor,
    target: Tensor,
    sample_rate: int,
    cutoff_hz: Optional[float] = None,
    power: bool = False,
    n_fft: int = 2048,
    hop: int = 512,
    lengths: Optional[Tensor] = None,
) -> Tensor:
    """High-frequency retention (%): 100 · Σ_t Σ_{f_k ≥ fc} |Y_tk| / Σ_t Σ_{f_k ≥ fc} |X_tk|.

    X, Y: STFTs of the reference and the estimate (Hann n_fft, hop, centred, zero padded), f_k = k·sr/n_fft,
    fc = sr/4 by default; `power=True` uses |·|² (then, by Parseval, the high band's share of energy). NaN where
    the reference has no content above fc (denominator ≤ eps).

    >>> x = torch.randn(16000); hf_retention(x / 2, x, 16000)
    tensor([50.])
    """
    cutoff = hf_cutoff(sample_rate, cutoff_hz)
    return per_item(whole(lambda: HighBandSums(sample_rate, n_fft, hop, cutoff, power)), preds, target, lengths)


def spectral_correlation(
    preds: Tensor, target: Tensor, n_fft: int = 2048, hop: int = 512, lengths: Optional[Tensor] = None
) -> Tensor:
    """Pearson correlation (−1…1) over bins k of the long-term average magnitude spectra mean_t |X_tk| and
    mean_t |Y_tk| (STFT as in `hf_retention`).

    NaN where either average spectrum is flat.
    """
    return per_item(whole(lambda: AverageSpectra(n_fft, hop)), preds, target, lengths)
