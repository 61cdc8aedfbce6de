"""The one model interface every audio autoencoder implements.

A model is four stages, each a method:

    analysis   waveform [B, S] -> features     (a log-mel [B, 1, T, F] for mel models: the front end;
                                                the waveform itself for waveform models)
    encode     features -> latent               ([B, C, T', F'] for a mel VAE, [B, C, T'] for a waveform VAE/codec)
    decode     latent -> features
    synthesis  features -> waveform [B, S]      (the vocoder for mel models; a crop for waveform models)

It declares its `sample_rate`, `channels`, latent shape, where an enhancer may act (`places`: latent, mel, wave)
and the variants it yields (`variants`): a mel model has a vocoder ceiling (the reference log-mel straight through
the vocoder, "vocoder"), a waveform model has none. The evaluation and training code speak of these alone.
One waveform layout across the package: samples first, channels last, as audio files hold frames: a batch is
mono `[B, S]` or, for a model of C > 1 channels whose `io_channels` is C (`data.channels=model`, the default),
`[B, S, C]`; a file's chunks are `[N]` or `[N, C]`. The `[B, C, S]` of the networks a family wraps exists only
inside its `encode` and `decode_raw`, between `to_network` and `from_network`; with `io_channels` 1 a model of
several channels receives the mono signal on every channel and its output channels are averaged.
"""

import math
from abc import ABC, abstractmethod
from typing import ClassVar, Optional

import torch
from torch import nn

from audiovae.enhancers.base import LATENT, MEL, WAVE
from audiovae.enhancers.chain import EnhancerChain, check_fits
from audiovae.models.variants import BASE, CEILING, ENHANCED

PRECISIONS = ("fp32", "bf16")  # model.vae_precision, the mel family's options.vocoder_precision


def to_network(wave: torch.Tensor, channels: int) -> torch.Tensor:
    """A batch in the package's layout as a wrapped network takes it: `[B, S]` mono -> `[B, channels, S]` (the same
    signal on every channel); `[B, S, C]` -> `[B, C, S]`."""
    return wave.transpose(1, 2) if wave.dim() == 3 else wave.unsqueeze(1).expand(-1, channels, -1)


def mix(wave: torch.Tensor) -> torch.Tensor:
    """A batch `[B, S, C]` of several channels as their mean `[B, S]`; mono `[B, S]` as it is (what the measurement
    log-mel of a multi-channel run reads)."""
    return wave.mean(dim=-1) if wave.dim() == 3 else wave


class AudioAutoencoder(nn.Module, ABC):
    """Base class of every model family: frozen weights, an enhancer chain, the four stages.

    Subclasses set `family`, `analysis` (MEL: encodes log-mels from the front end; WAVE: encodes waveforms) and
    `has_ceiling`, and implement the abstract methods `encode`, `decode_raw`, `synthesise`, `frame_multiple`,
    `latent_shape` and `weights` (the modules whose weights decide its outputs: the cache key): a family missing
    one fails when it is built, naming the method. `config_summary` adds what else decides its outputs."""

    family: ClassVar[str] = ""
    analysis: ClassVar[str] = WAVE
    has_ceiling: ClassVar[bool] = False

    def __init__(
        self,
        enhancer: EnhancerChain,
        sample_rate: int,
        channels: int,
        sample_posterior: bool = False,
        vae_precision: str = "fp32",
    ):
        super().__init__()
        if vae_precision not in PRECISIONS:
            raise ValueError(f"vae_precision must be one of {PRECISIONS}, got {vae_precision!r}")
        self.enhancer, self.sample_rate, self.channels = enhancer, int(sample_rate), int(channels)
        self.sample_posterior, self.vae_precision = sample_posterior, vae_precision
        self.io_channels = 1  # the channels of the waveforms it takes and gives (`read_channels`)

    def read_channels(self, rule: str) -> int:
        """Set and return the channels waveforms have on the way in and out under `data.channels` = `rule`: the
        model's own with "model", else 1 (mono)."""
        self.io_channels = self.channels if rule == "model" else 1
        return self.io_channels

    def from_network(self, wave: torch.Tensor) -> torch.Tensor:
        """A wrapped network's `[B, C, S]` output in the package's layout: `[B, S, C]`, or mono `[B, S]` (the mean
        of its channels) when `io_channels` is 1."""
        return wave.transpose(1, 2) if self.io_channels > 1 else wave.mean(dim=1)

    # --- what the model declares -------------------------------------------------------------------------------
    @property
    def places(self) -> tuple[str, ...]:
        """Where an enhancer may act: the latent always, the decoded log-mel for mel models, the waveform."""
        return (LATENT, MEL, WAVE) if self.analysis == MEL else (LATENT, WAVE)

    @property
    def variants(self) -> tuple[str, ...]:
        """The reconstructions each file gets: the vocoder ceiling (mel models), base, enhanced."""
        return (CEILING, BASE, ENHANCED) if self.has_ceiling else (BASE, ENHANCED)

    def describe(self) -> dict:
        """What the model is, for summaries and cache keys."""
        return {
            "family": self.family,
            "sample_rate": self.sample_rate,
            "channels": self.channels,
            "analysis": self.analysis,
            "variants": list(self.variants),
        }

    @abstractmethod
    def frame_multiple(self, hop_length: int) -> int:
        """Segments are a whole number of this many front-end frames (of `hop_length` samples) so that every
        stage maps them to whole latent frames."""
        raise NotImplementedError

    @abstractmethod
    def latent_shape(self, frames: int, n_mels: int, hop_length: int) -> tuple[int, ...]:
        """The latent of one segment of `frames` front-end frames of `hop_length` samples (`[1, ...]`)."""
        raise NotImplementedError

    @abstractmethod
    def weights(self) -> tuple[nn.Module, ...]:
        """The modules whose weights decide the outputs (hashed into the cross-run cache's keys)."""
        raise NotImplementedError

    def config_summary(self) -> dict:
        """The loaded networks' configs and the family's own settings (with `weights`, what decides a cache
        entry)."""
        return {}

    # --- the stages -------------------------------------------------------------------------------------------
    def _vae_autocast(self, device: torch.device):
        """bf16 autocast around the autoencoder when `vae_precision="bf16"` (outputs are cast back to float32)."""
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=self.vae_precision == "bf16")

    @abstractmethod
    def encode(self, features: torch.Tensor, generator: Optional[torch.Generator] = None) -> torch.Tensor:
        """features -> latent: the posterior's mode, or with `sample_posterior` a sample drawn with `generator`."""
        raise NotImplementedError

    @abstractmethod
    def decode_raw(self, latent: torch.Tensor) -> torch.Tensor:
        """latent -> features, without any enhancer."""
        raise NotImplementedError

    @abstractmethod
    def synthesise(self, features: torch.Tensor, num_samples: int) -> torch.Tensor:
        """features -> `[B, num_samples]` (or `[B, num_samples, C]`) waveform (float32), without any enhancer."""
        raise NotImplementedError

    def decode(self, latent: torch.Tensor, enhanced: bool, enhancer: Optional[EnhancerChain] = None) -> torch.Tensor:
        """The base decode, or with `enhanced` the decode through `enhancer` (default: this model's own): its latent
        stages before, its mel stages after (mel models)."""
        enhancer = self.enhancer if enhancer is None else enhancer
        if enhanced:
            latent = enhancer.enhance_latent(latent)
        features = self.decode_raw(latent)
        return enhancer.enhance_mel(features) if enhanced and self.analysis == MEL else features

    def vocode(
        self, features: torch.Tensor, num_samples: int, enhanced: bool = False, enhancer: Optional[EnhancerChain] = None
    ) -> torch.Tensor:
        """Synthesis, then with `enhanced` the enhancer's wave stages."""
        wave = self.synthesise(features, num_samples)
        if enhanced:
            wave = (self.enhancer if enhancer is None else enhancer).enhance_wave(wave)
        return wave

    # --- start-up checks --------------------------------------------------------------------------------------
    def check_frontend(self, sample_rate: int, n_mels: int) -> None:
        """ConfigError when the front end cannot serve this model (its rate, its mel bands)."""
        from audiovae.errors import ConfigError

        if sample_rate != self.sample_rate:
            raise ConfigError(
                f"config key 'frontend.sample_rate': the {self.family} model runs at {self.sample_rate} "
                f"Hz, the front end at {sample_rate} Hz; pick a front end of that rate "
                f"(frontend=..., configs/frontend)"
            )

    def check_places(self, enhancer: EnhancerChain, where: str = "enhancement") -> None:
        """ConfigError (one line) when `enhancer` acts where this model has no stage (a mel enhancer on a
        waveform model)."""
        from audiovae.errors import ConfigError

        missing = sorted(enhancer.domains - set(self.places))
        if missing:
            stage = next(
                s
                for s in [*enhancer.latent_stages, *enhancer.mel_stages, *enhancer.wave_stages]
                if s.domain == missing[0]
            )
            raise ConfigError(
                f"config key '{where}': {type(stage).__name__} acts on the {missing[0]} stage, which "
                f"the {self.family} model has not (its stages: {', '.join(self.places)})"
            )

    def check_enhancer(
        self,
        enhancer: EnhancerChain,
        frames: int,
        n_mels: int,
        hop_length: int,
        sample_rate: int,
        where: str = "enhancement",
    ) -> None:
        """ConfigError at start-up when the front end cannot serve this model (`check_frontend`), or `enhancer`
        acts where the model has no stage or cannot take its latents, log-mels and waveforms of a segment of
        `frames` front-end frames (one pass over zeros)."""
        self.check_frontend(sample_rate, n_mels)
        self.check_places(enhancer, where)
        check_fits(
            enhancer,
            self.latent_shape(frames, n_mels, hop_length),
            (1, 1, frames, n_mels),
            where,
            (1, frames * hop_length),
        )


class WaveformAutoencoder(AudioAutoencoder):
    """A model that encodes the waveform itself (a waveform VAE, a codec): `hop_length` samples per latent frame of
    `latent_channels`; synthesis is a crop to the input length."""

    def __init__(
        self,
        enhancer: EnhancerChain,
        sample_rate: int,
        channels: int,
        hop_length: int,
        latent_channels: int,
        sample_posterior: bool = False,
        vae_precision: str = "fp32",
    ):
        super().__init__(enhancer, sample_rate, channels, sample_posterior, vae_precision)
        self.hop_length, self.latent_channels = int(hop_length), int(latent_channels)

    def frame_multiple(self, hop_length: int) -> int:
        return math.lcm(hop_length, self.hop_length) // hop_length

    def latent_shape(self, frames: int, n_mels: int, hop_length: int) -> tuple[int, ...]:
        return (1, self.latent_channels, frames * hop_length // self.hop_length)

    def synthesise(self, wave: torch.Tensor, num_samples: int) -> torch.Tensor:
        return wave[:, :num_samples]
