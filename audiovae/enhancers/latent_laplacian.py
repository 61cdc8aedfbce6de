"""Sharpen the latent grid with a discrete Laplacian."""

import torch

from audiovae.enhancers.base import LATENT, Enhancer


class LatentLaplacian(Enhancer):
    """z ← z + gain · scale · (4z − z_up − z_down − z_left − z_right) on the interior of a mel VAE's `[T', F']`
    latent grid; on a waveform model's `[B, C, T']` latent along time: z ← z + gain · scale · (2z − z_prev − z_next).

    Border rows and columns are left unchanged. Identity at gain 0 or scale 0.
    """

    domain = LATENT

    def __init__(self, gain: float = 1.0, scale: float = 0.1):
        super().__init__()
        self.gain, self.scale = gain, scale

    def is_identity(self) -> bool:
        return self.gain * self.scale == 0

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.dim() == 3:
            centre = z[..., 1:-1]
            out = z.clone()
            out[..., 1:-1] = centre + self.gain * self.scale * (2 * centre - z[..., :-2] - z[..., 2:])
            return out
        centre = z[..., 1:-1, 1:-1]
        neighbours = z[..., :-2, 1:-1] + z[..., 2:, 1:-1] + z[..., 1:-1, :-2] + z[..., 1:-1, 2:]
        out = z.clone()
        out[..., 1:-1, 1:-1] = centre + self.gain * self.scale * (4 * centre - neighbours)
        return out
