"""An ordered list of enhancers, split by domain."""
import torch
from torch import nn

from audiovae.enhancers.base import LATENT, MEL, Enhancer


class EnhancerChain(nn.Module):
    """Latent stages run in order before decode, mel stages in order after it. Empty = no enhancement."""

    def __init__(self, stages: list[Enhancer]):
        super().__init__()
        self.latent_stages = nn.ModuleList(s for s in stages if s.domain == LATENT)
        self.mel_stages = nn.ModuleList(s for s in stages if s.domain == MEL)

    def is_identity(self) -> bool:
        """Every stage is the identity (an empty chain is): the enhanced decode is the base decode, exactly."""
        return all(stage.is_identity() for stage in [*self.latent_stages, *self.mel_stages])

    def enhance_latent(self, z: torch.Tensor) -> torch.Tensor:
        for stage in self.latent_stages:
            z = stage(z)
        return z

    def enhance_mel(self, logmel: torch.Tensor) -> torch.Tensor:
        for stage in self.mel_stages:
            logmel = stage(logmel)
        return logmel


def check_fits(chain: EnhancerChain, latent_shape: tuple, mel_shape: tuple, where: str = "enhancement") -> None:
    """ConfigError (one line, at start-up) when the chain's stages cannot take the model's latents `[1, C, T, F]` or
    log-mels `[1, 1, T, F]` (e.g. an enhancer made for another number of latent channels), found by one pass over
    zeros of those shapes instead of at the first file."""
    from audiovae.errors import ConfigError

    with torch.no_grad():
        for stages, shape, what in ((chain.latent_stages, latent_shape, "latents"), (chain.mel_stages, mel_shape,
                                                                                      "log-mels")):
            x = torch.zeros(shape)
            for stage in stages:
                try:
                    y = stage(x)
                except (RuntimeError, ValueError, IndexError) as err:
                    raise ConfigError(f"config key '{where}': {type(stage).__name__} does not fit this model's "
                                      f"{what} of shape {list(shape)} ({str(err).splitlines()[0]})") from None
                if tuple(y.shape) != tuple(shape):
                    raise ConfigError(f"config key '{where}': {type(stage).__name__} turns this model's {what} of "
                                      f"shape {list(shape)} into {list(y.shape)}")
                x = y
