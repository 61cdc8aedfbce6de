"""A decode-side high-shelf on the log-mel."""

import math

import torch

from audiovae.enhancers.base import MEL, Enhancer


def shelf_ramp(n_mels: int, cutoff_band: int, transition_bands: int, device=None) -> torch.Tensor:
    """0 below `cutoff_band − transition_bands`, rising linearly to 1 at `cutoff_band` and above."""
    bands = torch.arange(n_mels, dtype=torch.float32, device=device)
    width = max(transition_bands, 0) + 1
    return torch.clamp((bands - cutoff_band + width) / width, 0.0, 1.0)


class MelHFShelf(Enhancer):
    """log-mel ← log-mel + log(gain) · ramp(band): multiplies mel magnitudes above the cutoff band by `gain`.

    Identity at gain 1.
    """

    domain = MEL

    def __init__(self, gain: float = 1.4, cutoff_band: int = 40, transition_bands: int = 4):
        super().__init__()
        self.gain, self.cutoff_band, self.transition_bands = gain, cutoff_band, transition_bands

    def is_identity(self) -> bool:
        return self.gain == 1

    def forward(self, logmel: torch.Tensor) -> torch.Tensor:
        ramp = shelf_ramp(logmel.shape[-1], self.cutoff_band, self.transition_bands, device=logmel.device)
        return logmel + math.log(self.gain) * ramp.to(logmel.dtype)
