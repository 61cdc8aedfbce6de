"""One frozen VAE, one enhancer, one vocoder: base and enhanced reconstructions from a single encode."""
from dataclasses import dataclass
from typing import Optional

import torch
from diffusers import AutoencoderKL
from diffusers.models.autoencoders.vae import DiagonalGaussianDistribution
from torch import nn

from audiovae.enhancers.chain import EnhancerChain, check_fits


PRECISIONS = ("fp32", "bf16")  # model.vae_precision, model.vocoder_precision


@dataclass
class Reconstruction:
    latent: torch.Tensor  # [B, C, T/d, F/d], scaled by vae.config.scaling_factor
    base_mel: torch.Tensor  # [B, 1, T, F]
    enhanced_mel: torch.Tensor  # [B, 1, T, F]


class EnhancedVAE(nn.Module):
    """Wraps a frozen base VAE and an enhancer that share the VAE's weights (there is one VAE).

    encode: mel -> latent (posterior mode, or a sample when `sample_posterior` and a generator are given),
    scaled by `vae.config.scaling_factor` as in AudioLDM2's diffusion space.
    decode: latent -> mel, with the enhancer's latent stages before and mel stages after when `enhanced`.
    vocode: mel -> waveform cropped to the input length.
    """

    def __init__(self, vae: AutoencoderKL, vocoder: nn.Module, enhancer: EnhancerChain,
                 sample_posterior: bool = False, vocoder_precision: str = "fp32", vae_precision: str = "fp32"):
        super().__init__()
        for name, value in (("vocoder_precision", vocoder_precision), ("vae_precision", vae_precision)):
            if value not in PRECISIONS:
                raise ValueError(f"{name} must be one of {PRECISIONS}, got {value!r}")
        self.vae, self.vocoder, self.enhancer = vae, vocoder, enhancer
        self.sample_posterior = sample_posterior
        self.vocoder_precision, self.vae_precision = vocoder_precision, vae_precision
        self.vae.requires_grad_(False).eval()
        self.vocoder.requires_grad_(False).eval()

    @property
    def scaling_factor(self) -> float:
        return float(self.vae.config.scaling_factor)

    @property
    def downsampling(self) -> int:
        """How much the VAE shrinks each spatial axis (mel frames must be a multiple of it)."""
        return 2 ** (len(self.vae.config.block_out_channels) - 1)

    def _vae_autocast(self, device: torch.device):
        """bf16 autocast around the VAE when `vae_precision="bf16"` (its outputs are cast back to float32)."""
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=self.vae_precision == "bf16")

    def posterior(self, mel: torch.Tensor) -> DiagonalGaussianDistribution:
        """The VAE's posterior over the (unscaled) latent."""
        with self._vae_autocast(mel.device):
            parameters = self.vae.encode(mel).latent_dist.parameters
        return DiagonalGaussianDistribution(parameters.float())

    def encode(self, mel: torch.Tensor, generator: Optional[torch.Generator] = None) -> torch.Tensor:
        posterior = self.posterior(mel)
        if self.sample_posterior:
            if generator is None:
                raise ValueError("model.sample_posterior=true needs an explicit seeded generator")
            latent = posterior.sample(generator=generator)
        else:
            latent = posterior.mode()
        return latent * self.scaling_factor

    def decode(self, latent: torch.Tensor, enhanced: bool, enhancer: Optional[EnhancerChain] = None) -> torch.Tensor:
        """The base decode, or with `enhanced` the decode through `enhancer` (default: this model's own)."""
        enhancer = self.enhancer if enhancer is None else enhancer
        if enhanced:
            latent = enhancer.enhance_latent(latent)
        with self._vae_autocast(latent.device):
            mel = self.vae.decode(latent / self.scaling_factor).sample.float()
        return enhancer.enhance_mel(mel) if enhanced else mel

    def vocode(self, mel: torch.Tensor, num_samples: int) -> torch.Tensor:
        """`[B, 1, T, F]` log-mel -> `[B, num_samples]` waveform (float32; with `vocoder_precision="bf16"` the
        vocoder runs under bf16 autocast)."""
        if self.vocoder_precision == "bf16":
            with torch.autocast(device_type=mel.device.type, dtype=torch.bfloat16):
                return self.vocoder(mel.squeeze(1))[..., :num_samples].float()
        return self.vocoder(mel.squeeze(1))[..., :num_samples]

    def check_frontend(self, n_mels: int) -> None:
        """ConfigError at start-up when log-mels of `n_mels` bands cannot go through this VAE and vocoder."""
        from audiovae.errors import ConfigError

        d, vocoder_bands = self.downsampling, getattr(getattr(self.vocoder, "config", None), "model_in_dim", None)
        if n_mels % d:
            raise ConfigError(f"config key 'frontend.n_mels': the model's VAE halves the mel axis "
                              f"{d.bit_length() - 1} times, so it must be a multiple of {d}, got {n_mels}")
        if vocoder_bands is not None and vocoder_bands != n_mels:
            raise ConfigError(f"config key 'frontend.n_mels': the model's vocoder takes {vocoder_bands} mel bands, "
                              f"got {n_mels}")

    def check_enhancer(self, enhancer: EnhancerChain, frames: int, n_mels: int, where: str = "enhancement") -> None:
        """ConfigError at start-up when `enhancer` cannot take this model's latents and log-mels of `frames` frames
        (the front end is checked first: `check_frontend`)."""
        self.check_frontend(n_mels)
        d = self.downsampling
        latent = (1, int(self.vae.config.latent_channels), frames // d, n_mels // d)
        check_fits(enhancer, latent, (1, 1, frames, n_mels), where)

    def reconstruct(self, mel: torch.Tensor, generator: Optional[torch.Generator] = None) -> Reconstruction:
        latent = self.encode(mel, generator)
        return Reconstruction(latent, self.decode(latent, enhanced=False), self.decode(latent, enhanced=True))
