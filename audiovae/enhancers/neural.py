"""Neural enhancers: residual convolution stacks, the identity at initialisation (their last convolution is
zero), so fine-tuning starts from the base decode.

    y = x + f(x),  f = conv_L ∘ SiLU ∘ … ∘ SiLU ∘ conv_1,  conv_L = 0 at init

3×3 convolutions with "same" padding; the middle ones dilated 1, 2, 4, … along time (the receptive field grows
with depth); the residual is computed in the weights' dtype (or under autocast) and returned in the input's.

>>> f = MelPostFilter(channels=8, layers=3)
>>> x = torch.randn(2, 1, 20, 64)
>>> f.is_identity(), torch.equal(f(x), x)
(True, True)
"""

import torch
from torch import nn

from audiovae.enhancers.base import LATENT, MEL, Enhancer


def residual_stack(in_channels: int, hidden: int, layers: int, kernel_size: int) -> nn.Sequential:
    """`layers` ≥ 2 convolutions in → hidden → … → in with SiLU between; the last one zero-initialised."""
    if layers < 2:
        raise ValueError(f"layers must be at least 2, got {layers}")
    if kernel_size % 2 != 1:
        raise ValueError(f"kernel_size must be odd, got {kernel_size}")
    convs = []
    for i in range(layers):
        dilation = 2 ** max(i - 1, 0) if 0 < i < layers - 1 else 1
        pad = (dilation * (kernel_size // 2), kernel_size // 2)
        convs.append(
            nn.Conv2d(
                in_channels if i == 0 else hidden,
                in_channels if i == layers - 1 else hidden,
                kernel_size,
                padding=pad,
                dilation=(dilation, 1),
            )
        )
    nn.init.zeros_(convs[-1].weight)
    nn.init.zeros_(convs[-1].bias)
    modules = []
    for conv in convs[:-1]:
        modules += [conv, nn.SiLU()]
    return nn.Sequential(*modules, convs[-1])


class _Residual(Enhancer):
    net: nn.Sequential

    def is_identity(self) -> bool:
        last = self.net[-1]
        return bool(torch.all(last.weight == 0) and torch.all(last.bias == 0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x + f(x): f runs in its weights' dtype (or autocast's), the result has x's dtype."""
        return x + self.net(x.to(self.net[0].weight.dtype)).to(x.dtype)


class MelPostFilter(_Residual):
    """A residual post-filter on the decoded log-mel `[B, 1, T, n_mels]`: `channels` hidden channels, `layers`
    convolutions (32 × 6: 38 k parameters)."""

    domain = MEL

    def __init__(self, channels: int = 32, layers: int = 6, kernel_size: int = 3):
        super().__init__()
        self.net = residual_stack(1, channels, layers, kernel_size)


class LatentResNet(_Residual):
    """A residual network on the scaled latent `[B, latent_channels, T', F']` (64 × 4 with 8 latent channels:
    83 k parameters); a waveform model's `[B, latent_channels, T']` latent goes through it as `[B, C, T', 1]`
    (the kernels' centre column: 1-D convolutions along time)."""

    domain = LATENT

    def __init__(self, latent_channels: int = 8, channels: int = 64, layers: int = 4, kernel_size: int = 3):
        super().__init__()
        self.net = residual_stack(latent_channels, channels, layers, kernel_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] != self.net[0].in_channels:
            raise ValueError(
                f"latent_resnet expects {self.net[0].in_channels} latent channels, got latent shape "
                f"{tuple(x.shape)}: set enhancement.latent_channels"
            )
        if x.dim() == 3:
            return super().forward(x.unsqueeze(-1)).squeeze(-1)
        return super().forward(x)
