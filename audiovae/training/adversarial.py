"""Adversarial and feature-matching losses (HiFi-GAN, MelGAN, EnCodec, DAC), averaged over sub-discriminators.

With D_k(x) the logits of sub-discriminator k and F_kl its l-th feature map (K sub-discriminators, L_k maps):

    lsgan  D: mean_k [ E(1 − D_k(real))² + E D_k(fake)² ]      G: mean_k E(1 − D_k(fake))²
    hinge  D: mean_k [ E relu(1 − D_k(real)) + E relu(1 + D_k(fake)) ]      G: mean_k E(−D_k(fake))
    feature matching: mean_k mean_l E|F_kl(fake) − F_kl(real)|   (real features are targets: no gradient)

`real` is the reference log-mel (`mel` discriminator) or, for an audio discriminator, the vocoder's output on the
reference log-mel (the ceiling: what the enhancer can reach through this vocoder); `fake` is the enhanced log-mel
or its vocoder output.
"""

import torch
from torch import nn

from audiovae.errors import ConfigError
from audiovae.training.discriminators import Outputs, build_discriminator

GAN_LOSSES = ("lsgan", "hinge")


def discriminator_loss(kind: str, real: Outputs, fake: Outputs) -> torch.Tensor:
    """Mean over the discriminator's scales of LSGAN's (1 − D(x))² + D(G(z))², or hinge's relu(1 − D(x)) +
    relu(1 + D(G(z))), on each scale's last output."""
    terms = []
    for r, f in zip(real, fake):
        if kind == "lsgan":
            terms.append(((1 - r[-1]) ** 2).mean() + (f[-1] ** 2).mean())
        else:
            terms.append(torch.relu(1 - r[-1]).mean() + torch.relu(1 + f[-1]).mean())
    return torch.stack(terms).mean()


def generator_loss(kind: str, fake: Outputs) -> torch.Tensor:
    """Mean over scales of LSGAN's (1 − D(G(z)))², or hinge's −D(G(z))."""
    terms = [((1 - f[-1]) ** 2).mean() if kind == "lsgan" else (-f[-1]).mean() for f in fake]
    return torch.stack(terms).mean()


def feature_matching(real: Outputs, fake: Outputs) -> torch.Tensor:
    """HiFi-GAN's feature matching: the mean over scales of the mean L1 distance between the discriminator's
    intermediate features of the real (detached) and generated inputs."""
    per_scale = [
        torch.stack([(ff - rf.detach()).abs().mean() for rf, ff in zip(r[:-1], f[:-1])]).mean()
        for r, f in zip(real, fake)
    ]
    return torch.stack(per_scale).mean()


class AdversarialTraining(nn.Module):
    """The discriminator and how its losses enter training: the generator's total gains
    `weight · G + feature_matching · FM` from generator step `start_step` on, when the discriminator starts
    training too."""

    def __init__(
        self, discriminator: str, loss: str, weight: float, feature_matching: float, start_step: int, channels: int
    ):
        super().__init__()
        if loss not in GAN_LOSSES:
            raise ConfigError(f"config key 'adversarial.loss': '{loss}' is not one of {', '.join(GAN_LOSSES)}")
        self.discriminator = build_discriminator(discriminator, channels)
        self.kind, self.weight, self.fm_weight, self.start_step = loss, weight, feature_matching, start_step

    @property
    def on_audio(self) -> bool:
        """Whether the discriminator judges waveforms (else log-mels)."""
        return self.discriminator.domain == "audio"

    def active(self, step: int) -> bool:
        """Whether the adversarial terms apply at optimizer step `step` (from `start_step` on)."""
        return step >= self.start_step

    def discriminator_step_loss(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        """The discriminator's loss on `real` and `fake` (detached: no gradient to the generator)."""
        return discriminator_loss(self.kind, self.discriminator(real.detach()), self.discriminator(fake.detach()))

    def generator_terms(self, real: torch.Tensor, fake: torch.Tensor) -> dict[str, torch.Tensor]:
        """`adv` (G) and `fm` (feature matching), unweighted, with gradients to the generator only."""
        self.discriminator.requires_grad_(False)
        try:
            with torch.no_grad():
                real_out = self.discriminator(real)
            fake_out = self.discriminator(fake)
        finally:
            self.discriminator.requires_grad_(True)
        return {"adv": generator_loss(self.kind, fake_out), "fm": feature_matching(real_out, fake_out)}

    def weighted(self, terms: dict[str, torch.Tensor]) -> torch.Tensor:
        """The generator's adversarial loss: weight · adv + feature_matching · fm."""
        return self.weight * terms["adv"] + self.fm_weight * terms["fm"]
