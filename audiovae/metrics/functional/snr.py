"""Signal-to-noise ratios (dB)."""

from typing import Optional

import torch
from torch import Tensor

from audiovae.metrics.functional.items import EPS, Accumulator, nan64, per_item, whole


class SNRSums(Accumulator):
    """Σx² and Σ(x − y)²."""

    def __init__(self):
        self.signal = self.noise = torch.zeros((), dtype=torch.float64)

    def update(self, y: Tensor, x: Tensor) -> "SNRSums":
        x, y = x.double(), y.double()
        self.signal = self.signal + (x**2).sum().cpu()
        self.noise = self.noise + ((x - y) ** 2).sum().cpu()
        return self

    def value(self) -> Tensor:
        if self.signal <= EPS:
            return nan64()
        return 10 * torch.log10((self.signal + EPS) / (self.noise + EPS))


class SISDRSums(Accumulator):
    """⟨y,x⟩, Σx², Σy²: enough for SI-SDR, since Σ(αx − y)² = α²Σx² − 2α⟨y,x⟩ + Σy²."""

    def __init__(self):
        self.xy = self.xx = self.yy = torch.zeros((), dtype=torch.float64)

    def update(self, y: Tensor, x: Tensor) -> "SISDRSums":
        x, y = x.double(), y.double()
        self.xy = self.xy + (x * y).sum().cpu()
        self.xx = self.xx + (x**2).sum().cpu()
        self.yy = self.yy + (y**2).sum().cpu()
        return self

    def value(self) -> Tensor:
        if self.xx <= EPS:
            return nan64()
        alpha = (self.xy + EPS) / (self.xx + EPS)
        noise = torch.clamp(alpha**2 * self.xx - 2 * alpha * self.xy + self.yy, min=0.0)
        return 10 * torch.log10((alpha**2 * self.xx + EPS) / (noise + EPS))


def snr(preds: Tensor, target: Tensor, lengths: Optional[Tensor] = None) -> Tensor:
    """SNR = 10·log10((Σx² + eps) / (Σ(x − y)² + eps)), x = target, y = preds, eps = float32 epsilon.

    NaN where the reference is silent (Σx² ≤ eps). Equals `torchmetrics.functional.signal_noise_ratio`.

    >>> snr(torch.tensor([1.0, -1.0, 1.0]) / 2, torch.tensor([1.0, -1.0, 1.0]))
    tensor([6.0206])
    """
    return per_item(whole(SNRSums), preds, target, lengths)


def si_sdr(preds: Tensor, target: Tensor, lengths: Optional[Tensor] = None) -> Tensor:
    """Scale-invariant SDR (dB), zero_mean=False: α = (⟨y,x⟩+eps)/(Σx²+eps),
    SI-SDR = 10·log10((Σ(αx)²+eps) / (Σ(αx − y)²+eps)); equals torchmetrics'
    `scale_invariant_signal_distortion_ratio(zero_mean=False)`.

    NaN where the reference is silent (Σx² ≤ eps).
    """
    return per_item(whole(SISDRSums), preds, target, lengths)
