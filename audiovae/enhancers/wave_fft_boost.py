"""A high-shelf on the synthesised waveform: the enhancement of models whose output has no mel stage."""

import torch

from audiovae.enhancers.base import WAVE, Enhancer, apply_rfft_gains
from audiovae.enhancers.latent_fft_boost import fft_boost_gains


class WaveFFTBoost(Enhancer):
    """x ← irfft(rfft(x) · g) over each segment `[B, S]` (each channel of `[B, S, C]`), g_k = gain if k/S > cutoff
    else 1 (cutoff in cycles per sample: 0.25 is a quarter of the sample rate, e.g. 11.025 kHz at 44.1 kHz).
    Identity at gain 1."""

    domain = WAVE

    def __init__(self, gain: float = 1.4, cutoff: float = 0.25):
        super().__init__()
        self.gain, self.cutoff = gain, cutoff

    def is_identity(self) -> bool:
        return self.gain == 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        axis = 1  # time: `[B, S]` or `[B, S, C]`
        gains = fft_boost_gains(x.shape[axis], self.cutoff, self.gain, device=x.device)
        return apply_rfft_gains(x, gains.view(-1, *([1] * (x.dim() - 2))), axis)
