"""What every enhancer is: a small differentiable module acting on the latent, the decoded log-mel or the
synthesised waveform (its `domain`: where in a model it acts; `audiovae.models.interface` says which a model has)."""

from typing import ClassVar

import torch
from torch import nn

LATENT, MEL, WAVE = "latent", "mel", "wave"
DOMAINS = (LATENT, MEL, WAVE)


class Enhancer(nn.Module):
    """Maps a tensor of its `domain` to one of the same shape.

    latent: the model's latents (`[B, C, T', F']` for a mel VAE, `[B, C, T']` for a waveform VAE or codec),
    applied between encode and decode.
    mel: `[B, 1, T, n_mels]` decoded log-mel of a mel model, applied after decode (before the vocoder).
    wave: `[B, S]` synthesised waveform, applied last.
    """

    domain: ClassVar[str]

    def is_identity(self) -> bool:
        """True when this enhancer's settings leave every input unchanged (then it is not run at all)."""
        return False

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError


def rfft_bin_frequencies(n: int, device=None) -> torch.Tensor:
    """Normalised frequency (cycles/sample) of each one-sided rfft bin of a length-n axis."""
    return torch.fft.rfftfreq(n, device=device, dtype=torch.float64)


def apply_rfft_gains(x: torch.Tensor, gains: torch.Tensor, axis: int) -> torch.Tensor:
    """irfft(rfft(x, axis) · gains): `gains` broadcasts against the spectrum with the bin axis at `axis`."""
    n = x.shape[axis]
    work = x.float() if x.dtype in (torch.float16, torch.bfloat16) else x
    spectrum = torch.fft.rfft(work, dim=axis)
    return torch.fft.irfft(spectrum * gains.to(work.dtype), n=n, dim=axis).to(x.dtype)
