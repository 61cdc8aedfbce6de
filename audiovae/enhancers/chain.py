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
