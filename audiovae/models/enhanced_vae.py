"""The mel family (AudioLDM, MusicLDM, AudioLDM2): a frozen log-mel VAE (diffusers `AutoencoderKL`), an enhancer
and a vocoder (transformers `SpeechT5HifiGan`, or Griffin-Lim); base and enhanced reconstructions from one encode."""

from typing import Optional

import torch
from diffusers import AutoencoderKL
from diffusers.models.autoencoders.vae import DiagonalGaussianDistribution
from torch import nn

from audiovae.enhancers.base import MEL
from audiovae.enhancers.chain import EnhancerChain
from audiovae.models.interface import PRECISIONS, AudioAutoencoder

__all__ = ["EnhancedVAE", "PRECISIONS"]


class EnhancedVAE(AudioAutoencoder):
    """Wraps a frozen base VAE and an enhancer that share the VAE's weights (there is one VAE).

    analysis: the front end's log-mel (`audiovae.audio.frontend`), outside the model.
    encode: mel -> latent (posterior mode, or a sample when `sample_posterior` and a generator are given),
    scaled by `vae.config.scaling_factor` as in AudioLDM2's diffusion space.
    decode: latent -> mel, with the enhancer's latent stages before and mel stages after when `enhanced`.
    synthesis: mel -> waveform cropped to the input length (the vocoder; the reference mel through it is the
    vocoder ceiling).
    """

    family = "audioldm"
    analysis = MEL
    has_ceiling = True

    def __init__(
        self,
        vae: AutoencoderKL,
        vocoder: nn.Module,
        enhancer: EnhancerChain,
        sample_posterior: bool = False,
        vocoder_precision: str = "fp32",
        vae_precision: str = "fp32",
        sample_rate: int = 16000,
        vocoder_options: Optional[dict] = None,
    ):
        if vocoder_precision not in PRECISIONS:
            raise ValueError(f"vocoder_precision must be one of {PRECISIONS}, got {vocoder_precision!r}")
        super().__init__(enhancer, sample_rate, 1, sample_posterior, vae_precision)
        self.vae, self.vocoder = vae, vocoder
        self.vocoder_precision = vocoder_precision
        self.vocoder_options = dict(vocoder_options or {"vocoder_precision": vocoder_precision})
        self.vae.requires_grad_(False).eval()
        self.vocoder.requires_grad_(False).eval()

    @property
    def scaling_factor(self) -> float:
        """The VAE's latent scaling factor (the diffusion space's latent = the VAE's latent · scaling_factor)."""
        return float(self.vae.config.scaling_factor)

    @property
    def downsampling(self) -> int:
        """How much the VAE shrinks each spatial axis (mel frames must be a multiple of it)."""
        return 2 ** (len(self.vae.config.block_out_channels) - 1)

    def frame_multiple(self, hop_length: int) -> int:
        return self.downsampling

    def latent_shape(self, frames: int, n_mels: int, hop_length: int) -> tuple[int, ...]:
        d = self.downsampling
        return (1, int(self.vae.config.latent_channels), frames // d, n_mels // d)

    def weights(self) -> tuple[nn.Module, ...]:
        return (self.vae, self.vocoder)

    def config_summary(self) -> dict:
        return {"vae_config": dict(self.vae.config), "vocoder": self.vocoder_options}

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

    def decode_raw(self, latent: torch.Tensor) -> torch.Tensor:
        with self._vae_autocast(latent.device):
            return self.vae.decode(latent / self.scaling_factor).sample.float()

    def synthesise(self, mel: torch.Tensor, num_samples: int) -> torch.Tensor:
        """`[B, 1, T, F]` log-mel -> `[B, num_samples]` waveform (float32; with `vocoder_precision="bf16"` the
        vocoder runs under bf16 autocast)."""
        if self.vocoder_precision == "bf16":
            with torch.autocast(device_type=mel.device.type, dtype=torch.bfloat16):
                return self.vocoder(mel.squeeze(1))[..., :num_samples].float()
        return self.vocoder(mel.squeeze(1))[..., :num_samples]

    def check_frontend(self, sample_rate: int, n_mels: int) -> None:
        """ConfigError at start-up when log-mels of `n_mels` bands cannot go through this VAE and vocoder."""
        from audiovae.errors import ConfigError

        d, vocoder_bands = self.downsampling, getattr(getattr(self.vocoder, "config", None), "model_in_dim", None)
        if n_mels % d:
            raise ConfigError(
                f"config key 'frontend.n_mels': the model's VAE halves the mel axis "
                f"{d.bit_length() - 1} times, so it must be a multiple of {d}, got {n_mels}"
            )
        if vocoder_bands is not None and vocoder_bands != n_mels:
            raise ConfigError(
                f"config key 'frontend.n_mels': the model's vocoder takes {vocoder_bands} mel bands, got {n_mels}"
            )
