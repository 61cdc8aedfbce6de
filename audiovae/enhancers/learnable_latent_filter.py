"""A trainable per-channel, per-frequency-bin gain in the latent rfft domain."""

import torch
from torch import nn

from audiovae.enhancers.base import LATENT, Enhancer, apply_rfft_gains
from audiovae.enhancers.latent_fft_boost import fft_boost_gains


class LearnableLatentFilter(Enhancer):
    """z ← irfft(rfft(z, axis) · G[c, k]) with G trainable, shape `[channels, axis_length // 2 + 1]`.

    Initialised to `LatentFFTBoost(gain, cutoff, axis)` exactly, so fine-tuning starts from the known setting.
    The filtered axis must have length `axis_length` (16 for a 64-band mel and a 4× downsampling VAE).
    """

    domain = LATENT

    def __init__(
        self, channels: int = 8, axis_length: int = 16, gain: float = 1.4, cutoff: float = 0.3, axis: int = -1
    ):
        super().__init__()
        self.channels, self.axis_length, self.axis = channels, axis_length, axis
        init = fft_boost_gains(axis_length, cutoff, gain)
        self.gains = nn.Parameter(init.float().repeat(channels, 1))

    def is_identity(self) -> bool:
        return bool(torch.all(self.gains == 1))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.shape[1] != self.channels or z.shape[self.axis] != self.axis_length:
            raise ValueError(
                f"learnable_latent_filter expects {self.channels} channels and axis {self.axis} of length "
                f"{self.axis_length}; got latent shape {tuple(z.shape)}: set enhancement.channels/axis_length"
            )
        axis = self.axis % z.dim()
        shape = [1] * z.dim()
        shape[1], shape[axis] = self.channels, self.gains.shape[1]
        return apply_rfft_gains(z, self.gains.view(shape), axis)
