"""The first enhancement: boost latent FFT bins above a normalised cutoff."""

import torch

from audiovae.enhancers.base import LATENT, Enhancer, apply_rfft_gains, rfft_bin_frequencies


def fft_boost_gains(n: int, cutoff: float, gain: float, device=None) -> torch.Tensor:
    """Per rfft bin of a length-n axis: `gain` where frequency > cutoff (cycles/sample), else 1."""
    freqs = rfft_bin_frequencies(n, device=device)
    return torch.where(freqs > cutoff, torch.full_like(freqs, gain), torch.ones_like(freqs))


class LatentFFTBoost(Enhancer):
    """z ← irfft(rfft(z, axis) · g), g_k = gain if k/n > cutoff else 1.

    Equal to the two-sided rule (scale every bin with |f| > cutoff, keep the real part of the inverse).
    Identity at gain 1. `axis=-1` is the latent's mel axis.
    """

    domain = LATENT

    def __init__(self, gain: float = 1.4, cutoff: float = 0.3, axis: int = -1):
        super().__init__()
        self.gain, self.cutoff, self.axis = gain, cutoff, axis

    def is_identity(self) -> bool:
        return self.gain == 1

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        gains = fft_boost_gains(z.shape[self.axis], self.cutoff, self.gain, device=z.device)
        shape = [1] * z.dim()
        shape[self.axis] = gains.numel()
        return apply_rfft_gains(z, gains.view(shape), self.axis)
