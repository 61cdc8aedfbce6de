"""Signal-to-noise ratios (dB)."""
from typing import Optional

import torch
from torch import Tensor
from torchmetrics.functional.audio import scale_invariant_signal_distortion_ratio

from audiovae.metrics.functional.items import EPS, nan_like, per_item


def _snr_item(y: Tensor, x: Tensor) -> Tensor:
    energy = torch.sum(x ** 2)
    if energy <= EPS:
        return nan_like(x)
    return 10 * torch.log10((energy + EPS) / (torch.sum((x - y) ** 2) + EPS))


def snr(preds: Tensor, target: Tensor, lengths: Optional[Tensor] = None) -> Tensor:
    """SNR = 10·log10((Σx² + eps) / (Σ(x − y)² + eps)), x = target, y = preds, eps = float32 epsilon.

    NaN where the reference is silent (Σx² ≤ eps). Equals `torchmetrics.functional.signal_noise_ratio`.

    >>> snr(torch.tensor([1.0, -1.0, 1.0]) / 2, torch.tensor([1.0, -1.0, 1.0]))
    tensor([6.0206])
    """
    return per_item(_snr_item, preds, target, lengths)


def _si_sdr_item(y: Tensor, x: Tensor) -> Tensor:
    if torch.sum(x ** 2) <= EPS:
        return nan_like(x)
    return scale_invariant_signal_distortion_ratio(y, x, zero_mean=False)


def si_sdr(preds: Tensor, target: Tensor, lengths: Optional[Tensor] = None) -> Tensor:
    """Scale-invariant SDR (dB) as `torchmetrics.functional.scale_invariant_signal_distortion_ratio`,
    zero_mean=False: α = (⟨y,x⟩+eps)/(Σx²+eps), SI-SDR = 10·log10((Σ(αx)²+eps) / (Σ(αx − y)²+eps)).

    NaN where the reference is silent (Σx² ≤ eps).
    """
    return per_item(_si_sdr_item, preds, target, lengths)
