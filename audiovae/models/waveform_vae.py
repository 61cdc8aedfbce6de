"""The waveform VAE family (Stable Audio Open's `AutoencoderOobleck`, diffusers): waveform -> latent `[B, C, T']`
-> waveform, no mel stage and no vocoder ceiling."""

import math
from typing import Optional

import torch
from torch import nn

from audiovae.enhancers.chain import EnhancerChain
from audiovae.models.interface import WaveformAutoencoder, to_network


class WaveformVAE(WaveformAutoencoder):
    """encode: `[B, S]` mono (put on every channel) or `[B, S, C]` -> posterior mode (or a seeded sample)
    `[B, C_latent, S / hop]`; decode: latent -> `[B, S, C]`, or `[B, S]` (its output channels averaged) for a
    mono run (`io_channels`); synthesis: a crop to the input length."""

    family = "stable_audio_open"

    def __init__(
        self, vae: nn.Module, enhancer: EnhancerChain, sample_posterior: bool = False, vae_precision: str = "fp32"
    ):
        config = vae.config
        super().__init__(
            enhancer,
            config.sampling_rate,
            config.audio_channels,
            math.prod(config.downsampling_ratios),
            config.decoder_input_channels,
            sample_posterior,
            vae_precision,
        )
        self.vae = vae
        self.vae.requires_grad_(False).eval()

    def weights(self) -> tuple[nn.Module, ...]:
        return (self.vae,)

    def config_summary(self) -> dict:
        return {"vae_config": dict(self.vae.config)}

    def encode(self, wave: torch.Tensor, generator: Optional[torch.Generator] = None) -> torch.Tensor:
        with self._vae_autocast(wave.device):
            posterior = self.vae.encode(to_network(wave, self.channels)).latent_dist
        if self.sample_posterior:
            if generator is None:
                raise ValueError("model.sample_posterior=true needs an explicit seeded generator")
            return posterior.sample(generator=generator).float()
        return posterior.mode().float()

    def decode_raw(self, latent: torch.Tensor) -> torch.Tensor:
        with self._vae_autocast(latent.device):
            return self.from_network(self.vae.decode(latent).sample.float())
