"""Discriminators for adversarial fine-tuning. Each returns, per sub-discriminator, its feature maps (every
hidden activation, for feature matching) and its logits map last.

- `MelDiscriminator` (`mel`): multi-scale 2-D convolution stacks over the log-mel `[B, 1, T, n_mels]` at time
  resolutions 1, 1/2, 1/4 (average pooling), like MelGAN's multi-scale discriminator on the mel instead of the
  waveform. Cheap: it never needs the vocoder.
- `STFTDiscriminator` (`stft`): EnCodec's multi-resolution STFT discriminator on a waveform `[B, N]`: per FFT
  size (1024, 512, 256; hop n/4, Hann window) the complex STFT as 2 channels (real, imaginary) through 2-D
  convolutions strided in frequency and dilated 1, 2, 4 in time.

All convolutions are weight-normalised (HiFi-GAN, EnCodec, DAC) with LeakyReLU(0.2) between them.
"""

import torch
from torch import nn
from torch.nn.utils.parametrizations import weight_norm

from audiovae.errors import ConfigError

Outputs = list[list[torch.Tensor]]  # per sub-discriminator: [feature_1, …, feature_L, logits]


def _run(layers: nn.ModuleList, x: torch.Tensor) -> list[torch.Tensor]:
    """Every layer's output: LeakyReLU after each but the last (the logits)."""
    outs = []
    for i, layer in enumerate(layers):
        x = layer(x)
        if i < len(layers) - 1:
            x = nn.functional.leaky_relu(x, 0.2)
        outs.append(x)
    return outs


class MelScale(nn.Module):
    """One scale: conv 3×3 → 2× (conv 3×3 stride 2) → conv 3×3 → logits conv 3×3."""

    def __init__(self, channels: int):
        super().__init__()
        c = channels
        self.layers = nn.ModuleList(
            weight_norm(conv)
            for conv in (
                nn.Conv2d(1, c, 3, padding=1),
                nn.Conv2d(c, 2 * c, 3, stride=2, padding=1),
                nn.Conv2d(2 * c, 4 * c, 3, stride=2, padding=1),
                nn.Conv2d(4 * c, 4 * c, 3, padding=1),
                nn.Conv2d(4 * c, 1, 3, padding=1),
            )
        )

    def forward(self, mel: torch.Tensor) -> list[torch.Tensor]:
        return _run(self.layers, mel)


class MelDiscriminator(nn.Module):
    """Scales at time resolution 1, 1/2, 1/4 of the log-mel `[B, 1, T, n_mels]`."""

    domain = "mel"

    def __init__(self, channels: int = 32, scales: int = 3):
        super().__init__()
        self.scales = nn.ModuleList(MelScale(channels) for _ in range(scales))

    def forward(self, mel: torch.Tensor) -> Outputs:
        outs = []
        for i, scale in enumerate(self.scales):
            x = nn.functional.avg_pool2d(mel, (2**i, 1)) if i else mel
            outs.append(scale(x))
        return outs


class STFTScale(nn.Module):
    """One resolution: conv (3, 9) → 3× conv (3, 9) stride (1, 2) dilated (1|2|4, 1) in time → conv 3×3 → logits."""

    def __init__(self, n_fft: int, channels: int):
        super().__init__()
        self.n_fft, c = n_fft, channels
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)
        convs = [nn.Conv2d(2, c, (3, 9), padding=(1, 4))]
        convs += [nn.Conv2d(c, c, (3, 9), stride=(1, 2), dilation=(d, 1), padding=(d, 4)) for d in (1, 2, 4)]
        convs += [nn.Conv2d(c, c, 3, padding=1), nn.Conv2d(c, 1, 3, padding=1)]
        self.layers = nn.ModuleList(weight_norm(conv) for conv in convs)

    def forward(self, wave: torch.Tensor) -> list[torch.Tensor]:
        spec = torch.stft(wave.float(), self.n_fft, self.n_fft // 4, window=self.window, return_complex=True)
        x = torch.stack([spec.real, spec.imag], dim=1).transpose(2, 3)  # [B, 2, frames, bins]
        return _run(self.layers, x)


class STFTDiscriminator(nn.Module):
    """Resolutions `n_ffts` of the waveform `[B, N]`."""

    domain = "audio"

    def __init__(self, channels: int = 32, n_ffts: tuple[int, ...] = (1024, 512, 256)):
        super().__init__()
        self.scales = nn.ModuleList(STFTScale(n, channels) for n in n_ffts)

    def forward(self, wave: torch.Tensor) -> Outputs:
        return [scale(wave) for scale in self.scales]


DISCRIMINATORS = {"mel": MelDiscriminator, "stft": STFTDiscriminator}


def build_discriminator(kind: str, channels: int) -> nn.Module:
    """The discriminator of `adversarial.discriminator` (`mel` or `stft`) with `channels`; ConfigError otherwise."""
    if kind not in DISCRIMINATORS:
        raise ConfigError(
            f"config key 'adversarial.discriminator': '{kind}' is not one of none, {', '.join(DISCRIMINATORS)}"
        )
    return DISCRIMINATORS[kind](channels)
