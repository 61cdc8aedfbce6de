"""Log-mel comparisons (no vocoder involved): the VAE's own error."""
from typing import Optional

import torch
from torch import Tensor

from audiovae.metrics.functional.items import nan_like, per_item


def mel_l1(preds: Tensor, target: Tensor, lengths: Optional[Tensor] = None) -> Tensor:
    """mean |log-mel_y − log-mel_x| over each item's valid frames; inputs `[B, 1, T, F]`, lengths in frames."""
    return per_item(lambda y, x: (y - x).abs().mean(), preds, target, lengths, time_dim=-2)


def _psnr_item(y: Tensor, x: Tensor) -> Tensor:
    data_range = x.max() - x.min()
    if data_range <= 0:
        return nan_like(x)
    return 10 * torch.log10(data_range ** 2 / ((y - x) ** 2).mean())


def mel_psnr(preds: Tensor, target: Tensor, lengths: Optional[Tensor] = None) -> Tensor:
    """PSNR (dB) = 10·log10(R² / mean (log-mel_y − log-mel_x)²), R = max − min of the reference log-mel.

    Inputs `[B, 1, T, F]`, lengths in frames. NaN where the reference is constant; +inf where y = x.
    """
    return per_item(_psnr_item, preds, target, lengths, time_dim=-2)
