"""Neural codecs as baselines (transformers `EncodecModel`, `DacModel`): waveform -> quantised latent `[B, D, T']`
(the continuous embeddings of the chosen codes, what the decoder takes) -> waveform. No mel stage, no vocoder
ceiling; a latent enhancer acts on the quantised embeddings."""

import math
from typing import Optional

import torch
from torch import nn

from audiovae.enhancers.chain import EnhancerChain
from audiovae.models.interface import WaveformAutoencoder, to_network


class _Codec(WaveformAutoencoder):
    """Shared by the codecs: no posterior (encode is deterministic), latent `[B, hidden, S / hop]`."""

    def __init__(
        self,
        codec: nn.Module,
        enhancer: EnhancerChain,
        sample_rate: int,
        channels: int,
        hop_length: int,
        latent_channels: int,
        vae_precision: str = "fp32",
    ):
        super().__init__(enhancer, sample_rate, channels, hop_length, latent_channels, False, vae_precision)
        self.codec = codec
        self.codec.requires_grad_(False).eval()

    def weights(self) -> tuple[nn.Module, ...]:
        return (self.codec,)

    def config_summary(self) -> dict:
        return {"codec_config": self.codec.config.to_dict()}


class EncodecAutoencoder(_Codec):
    """EnCodec at `bandwidth` kbps (its number of residual codebooks); the 24 kHz model does not normalise, so
    one segment is one frame."""

    family = "encodec"

    def __init__(
        self, codec: nn.Module, enhancer: EnhancerChain, bandwidth: Optional[float] = None, vae_precision: str = "fp32"
    ):
        config = codec.config
        bandwidths = list(config.target_bandwidths)
        chosen = float(bandwidth if bandwidth is not None else bandwidths[0])
        if chosen not in bandwidths:
            from audiovae.errors import ConfigError

            raise ConfigError(
                f"config key 'model.options.bandwidth': {chosen:g} kbps is not one of this EnCodec's {bandwidths}"
            )
        super().__init__(
            codec,
            enhancer,
            config.sampling_rate,
            config.audio_channels,
            math.prod(config.upsampling_ratios),
            config.codebook_dim,
            vae_precision,
        )
        self.bandwidth = chosen

    def encode(self, wave: torch.Tensor, generator: Optional[torch.Generator] = None) -> torch.Tensor:
        """The waveform's codes at `bandwidth`, decoded by the quantizer to continuous latents `[B, C, T']` (the
        quantized embedding that latent enhancers act on)."""
        with self._vae_autocast(wave.device):
            codes = self.codec.encode(to_network(wave, self.channels), bandwidth=self.bandwidth).audio_codes
            return self.codec.quantizer.decode(codes[0].transpose(0, 1)).float()

    def decode_raw(self, latent: torch.Tensor) -> torch.Tensor:
        with self._vae_autocast(latent.device):
            return self.from_network(self.codec.decoder(latent).float())


class DacAutoencoder(_Codec):
    """The Descript Audio Codec with its first `n_quantizers` codebooks (None: all)."""

    family = "dac"

    def __init__(
        self, codec: nn.Module, enhancer: EnhancerChain, n_quantizers: Optional[int] = None, vae_precision: str = "fp32"
    ):
        config = codec.config
        if n_quantizers is not None and not 1 <= n_quantizers <= config.n_codebooks:
            from audiovae.errors import ConfigError

            raise ConfigError(
                f"config key 'model.options.n_quantizers': this DAC has {config.n_codebooks} codebooks, "
                f"got {n_quantizers}"
            )
        super().__init__(codec, enhancer, config.sampling_rate, 1, config.hop_length, config.hidden_size, vae_precision)
        self.n_quantizers = n_quantizers

    def encode(self, wave: torch.Tensor, generator: Optional[torch.Generator] = None) -> torch.Tensor:
        """The quantized representation `[B, C, T']` of the waveform with `n_quantizers` codebooks (all when None)."""
        with self._vae_autocast(wave.device):
            out = self.codec.encode(wave.unsqueeze(1), n_quantizers=self.n_quantizers)
            return out.quantized_representation.float()

    def decode_raw(self, latent: torch.Tensor) -> torch.Tensor:
        with self._vae_autocast(latent.device):
            return self.codec.decode(quantized_representation=latent).audio_values.float()
