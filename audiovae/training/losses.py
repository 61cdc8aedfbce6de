"""Training losses: cheap mel-domain terms, and an optional waveform term through the frozen vocoder."""

from typing import Callable, Optional

import auraloss
import torch
from diffusers.models.autoencoders.vae import DiagonalGaussianDistribution
from torch import nn


def band_weighted_l1(preds: torch.Tensor, target: torch.Tensor, cutoff_band: int, band_weight: float) -> torch.Tensor:
    """Σ w_b |preds − target| / Σ w_b over `[B, 1, T, n_mels]`, w_b = band_weight for bands ≥ cutoff_band else 1."""
    bands = torch.arange(preds.shape[-1], device=preds.device)
    weights = torch.where(bands >= cutoff_band, band_weight, 1.0).to(preds.dtype)
    return ((preds - target).abs() * weights).mean() / weights.mean()


def mean_kl(posterior: DiagonalGaussianDistribution) -> torch.Tensor:
    """KL(posterior ‖ N(0, I)) per latent element, averaged over the batch."""
    return posterior.kl().mean() / posterior.mean[0].numel()


class ReconstructionLoss(nn.Module):
    """total = mel_l1 · L1(log-mel) + mel_hf_l1 · band-weighted L1 + stft · multi-resolution STFT (auraloss)
    + kl · KL of the VAE posterior per latent element (only when the encoder is trained).

    Terms with weight 0 are not computed. `forward` returns the total and each term's unweighted value.
    """

    def __init__(
        self, mel_l1: float, mel_hf_l1: float, hf_cutoff_band: int, hf_band_weight: float, stft: float, kl: float = 0.0
    ):
        super().__init__()
        self.weights = {"mel_l1": mel_l1, "mel_hf_l1": mel_hf_l1, "stft": stft, "kl": kl}
        self.hf_cutoff_band, self.hf_band_weight = hf_cutoff_band, hf_band_weight
        self.stft_loss = auraloss.freq.MultiResolutionSTFTLoss() if stft > 0 else None

    @property
    def needs_waveform(self) -> bool:
        """Whether a term reads waveforms (the multi-resolution STFT loss), so the vocoder must run."""
        return self.stft_loss is not None

    def forward(
        self,
        mel: torch.Tensor,
        target_mel: torch.Tensor,
        wave: Optional[torch.Tensor] = None,
        target_wave: Optional[torch.Tensor] = None,
        posterior: Optional[DiagonalGaussianDistribution] = None,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        terms: dict[str, Callable[[], torch.Tensor]] = {
            "mel_l1": lambda: (mel - target_mel).abs().mean(),
            "mel_hf_l1": lambda: band_weighted_l1(mel, target_mel, self.hf_cutoff_band, self.hf_band_weight),
            "stft": lambda: self.stft_loss(wave.unsqueeze(1), target_wave.unsqueeze(1)),
            "kl": lambda: mean_kl(posterior),
        }
        values = {
            name: terms[name]() for name, w in self.weights.items() if w > 0 and (name != "kl" or posterior is not None)
        }
        total = sum(self.weights[name] * value for name, value in values.items())
        return total, values
