"""Whole-clip spectrum comparisons: high-frequency retention and spectral correlation."""
from typing import Optional

import torch
from torch import Tensor

from audiovae.metrics.functional.items import EPS, nan_like, per_item


def _hf_retention_item(y: Tensor, x: Tensor, sample_rate: int, cutoff_hz: float, power: bool) -> Tensor:
    n = x.shape[-1]
    mag_x, mag_y = torch.fft.rfft(x).abs(), torch.fft.rfft(y).abs()
    if power:
        mag_x, mag_y = mag_x ** 2, mag_y ** 2
    freqs = torch.arange(mag_x.shape[-1], device=x.device) * sample_rate / n
    high = freqs >= cutoff_hz
    denominator = mag_x[high].sum()
    if denominator <= EPS:
        return nan_like(x)
    return 100 * mag_y[high].sum() / denominator


def hf_retention(preds: Tensor, target: Tensor, sample_rate: int, cutoff_hz: Optional[float] = None,
                 power: bool = False, lengths: Optional[Tensor] = None) -> Tensor:
    """High-frequency retention (%): 100 · Σ_{f_k ≥ fc} |Y_k| / Σ_{f_k ≥ fc} |X_k|.

    X = rfft(x[:N]), Y = rfft(y[:N]) over each clip's own length N, f_k = k·sr/N, fc = sr/4 by default;
    `power=True` uses |·|². NaN where the reference has no content above fc (denominator ≤ eps).

    >>> x = torch.randn(16000); hf_retention(x / 2, x, 16000)
    tensor([50.])
    """
    cutoff = sample_rate / 4 if cutoff_hz is None else cutoff_hz
    return per_item(lambda y, x: _hf_retention_item(y, x, sample_rate, cutoff, power), preds, target, lengths)


def _correlation_item(y: Tensor, x: Tensor) -> Tensor:
    a = torch.fft.rfft(x).abs()
    b = torch.fft.rfft(y).abs()
    a, b = a - a.mean(), b - b.mean()
    norm = a.norm() * b.norm()
    if norm <= 0:
        return nan_like(x)
    return torch.clamp((a * b).sum() / norm, -1.0, 1.0)


def spectral_correlation(preds: Tensor, target: Tensor, lengths: Optional[Tensor] = None) -> Tensor:
    """Pearson correlation of |X_k| and |Y_k| over all one-sided rfft bins of each clip (−1…1).

    NaN where either magnitude spectrum is constant.
    """
    return per_item(_correlation_item, preds, target, lengths)
