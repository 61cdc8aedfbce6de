"""Log-mel comparisons (no vocoder involved): the VAE's own error."""

from typing import Optional

import torch
from torch import Tensor

from audiovae.metrics.functional.items import Accumulator, nan64, per_item, whole


class MelErrorSums(Accumulator):
    """Σ|y − x|, Σ(y − x)², the element count, and the reference's min and max."""

    def __init__(self):
        self.abs = self.square = torch.zeros((), dtype=torch.float64)
        self.count = 0
        self.low, self.high = float("inf"), float("-inf")

    def update(self, y: Tensor, x: Tensor) -> "MelErrorSums":
        diff = y.double() - x.double()
        self.abs = self.abs + diff.abs().sum().cpu()
        self.square = self.square + (diff**2).sum().cpu()
        self.count += diff.numel()
        if x.numel():
            self.low, self.high = min(self.low, float(x.min())), max(self.high, float(x.max()))
        return self


class MelL1(MelErrorSums):
    """Mean absolute log-mel error over the frames and bands seen: Σ|y − x| / count."""

    def value(self) -> Tensor:
        return self.abs / self.count if self.count else nan64()


class MelPSNR(MelErrorSums):
    """Log-mel PSNR: 10·log10(range² / MSE), the range of the reference log-mel seen."""

    def value(self) -> Tensor:
        data_range = self.high - self.low
        if not self.count or data_range <= 0:
            return nan64()
        return 10 * torch.log10(data_range**2 / (self.square / self.count))


def mel_l1(preds: Tensor, target: Tensor, lengths: Optional[Tensor] = None) -> Tensor:
    """mean |log-mel_y − log-mel_x| over each item's valid frames; inputs `[B, 1, T, F]`, lengths in frames."""
    return per_item(whole(MelL1), preds, target, lengths, time_dim=-2)


def mel_psnr(preds: Tensor, target: Tensor, lengths: Optional[Tensor] = None) -> Tensor:
    """PSNR (dB) = 10·log10(R² / mean (log-mel_y − log-mel_x)²), R = max − min of the reference log-mel.

    Inputs `[B, 1, T, F]`, lengths in frames. NaN where the reference is constant; +inf where y = x.
    """
    return per_item(whole(MelPSNR), preds, target, lengths, time_dim=-2)


class BandEnergySums(Accumulator):
    """Per mel band, the energies Σ_t exp(2·y) and Σ_t exp(2·x) of a decoded and a reference log-mel (natural log
    of mel magnitudes, `[..., T, F]`); `value()` is the per-band retention `10·log10(Σ exp(2y) / Σ exp(2x))` in dB,
    `[F]`: 0 dB where the band kept the reference's energy, negative where it lost some. NaN where the reference
    band has no energy."""

    def __init__(self):
        self.estimate = self.reference = None

    def update(self, y: Tensor, x: Tensor) -> "BandEnergySums":
        y, x = band_energies(y), band_energies(x)
        self.estimate = y if self.estimate is None else self.estimate + y
        self.reference = x if self.reference is None else self.reference + x
        return self

    def value(self) -> Tensor:
        if self.reference is None:
            return nan64()
        return retention_db(self.estimate, self.reference)


def band_energies(log_mel: Tensor) -> Tensor:
    """`[F]` float64: Σ over frames of exp(2·log-mel) (mel magnitude squared) per band of `[..., T, F]`."""
    return torch.exp(2 * log_mel.double()).reshape(-1, log_mel.shape[-1]).sum(0).cpu()


def retention_db(estimate: Tensor, reference: Tensor) -> Tensor:
    """Per band 10·log10(estimate / reference) of band energies, dB; NaN where the reference has none."""
    ratio = estimate / reference
    return torch.where(reference > 0, 10 * torch.log10(ratio), torch.full_like(ratio, float("nan")))


def band_retention(preds: Tensor, target: Tensor) -> Tensor:
    """Per-band retention (dB) of one decoded log-mel `preds` against the reference `target`, both `[T, F]`.

    >>> x = torch.zeros(10, 3)
    >>> y = x + torch.tensor([0.0, -0.3466, 0.6931])  # magnitudes ×1, ×1/√2, ×2
    >>> band_retention(y, x).round(decimals=2).tolist()
    [0.0, -3.01, 6.02]
    """
    return BandEnergySums().update(preds, target).value()
