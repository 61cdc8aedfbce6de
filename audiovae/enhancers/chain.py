"""An ordered list of enhancers, split by domain."""

import torch
from torch import nn

from audiovae.enhancers.base import LATENT, MEL, WAVE, Enhancer


class EnhancerChain(nn.Module):
    """Latent stages run in order before decode, mel stages in order after it (mel models), wave stages on the
    synthesised waveform. Empty = no enhancement."""

    def __init__(self, stages: list[Enhancer]):
        super().__init__()
        self.latent_stages = nn.ModuleList(s for s in stages if s.domain == LATENT)
        self.mel_stages = nn.ModuleList(s for s in stages if s.domain == MEL)
        self.wave_stages = nn.ModuleList(s for s in stages if s.domain == WAVE)

    @property
    def domains(self) -> set[str]:
        """Where this chain's stages act."""
        return {stage.domain for stage in [*self.latent_stages, *self.mel_stages, *self.wave_stages]}

    def is_identity(self) -> bool:
        """Every stage is the identity (an empty chain is): the enhanced decode is the base decode, exactly."""
        return all(stage.is_identity() for stage in [*self.latent_stages, *self.mel_stages, *self.wave_stages])

    def enhance_latent(self, z: torch.Tensor) -> torch.Tensor:
        """The latent through the latent stages, in order (unchanged without any)."""
        for stage in self.latent_stages:
            z = run_stage(stage, z, "latents")
        return z

    def enhance_mel(self, logmel: torch.Tensor) -> torch.Tensor:
        """The decoded log-mel through the mel stages, in order."""
        for stage in self.mel_stages:
            logmel = run_stage(stage, logmel, "log-mels")
        return logmel

    def enhance_wave(self, wave: torch.Tensor) -> torch.Tensor:
        """The synthesised waveform through the wave stages, in order."""
        for stage in self.wave_stages:
            wave = run_stage(stage, wave, "waveforms")
        return wave


def run_stage(stage: Enhancer, x: torch.Tensor, what: str) -> torch.Tensor:
    """`stage(x)`, or EnhancerError naming the stage when it raises or returns anything but a tensor of x's shape."""
    from audiovae.errors import EnhancerError, debugging, one_line
    from audiovae.plugins import labelled

    name = labelled(type(stage).__name__, type(stage))
    try:
        y = stage(x)
    except (Exception, SystemExit) as err:  # a plugin's sys.exit would end the batch as if it had finished
        if debugging():
            raise
        raise EnhancerError(f"enhancer {name} failed on {what}: {one_line(err)}") from None
    if not isinstance(y, torch.Tensor):
        raise EnhancerError(f"enhancer {name} returned a {type(y).__name__} for {what}, not a tensor")
    if y.shape != x.shape:
        raise EnhancerError(f"enhancer {name} turned {what} of shape {list(x.shape)} into {list(y.shape)}")
    return y


def check_fits(
    chain: EnhancerChain, latent_shape: tuple, mel_shape: tuple, where: str = "enhancement", wave_shape: tuple = (1, 1)
) -> None:
    """ConfigError (one line, at start-up) when the chain's stages cannot take the model's latents, log-mels
    `[1, 1, T, F]` or waveforms `[1, S]` (e.g. an enhancer made for another number of latent channels), found by one
    pass over zeros of those shapes instead of at the first file."""
    from audiovae.errors import ConfigError

    with torch.no_grad():
        for stages, shape, what in (
            (chain.latent_stages, latent_shape, "latents"),
            (chain.mel_stages, mel_shape, "log-mels"),
            (chain.wave_stages, wave_shape, "waveforms"),
        ):
            x = torch.zeros(shape)
            for stage in stages:
                try:
                    y = stage(x)
                except (RuntimeError, ValueError, IndexError) as err:
                    raise ConfigError(
                        f"config key '{where}': {type(stage).__name__} does not fit this model's "
                        f"{what} of shape {list(shape)} ({str(err).splitlines()[0]})"
                    ) from None
                if tuple(y.shape) != tuple(shape):
                    raise ConfigError(
                        f"config key '{where}': {type(stage).__name__} turns this model's {what} of "
                        f"shape {list(shape)} into {list(y.shape)}"
                    )
                x = y
