"""The mel family's own settings (`model.options` of `family: audioldm`): which vocoder turns a decoded log-mel into
sound, where its weights are and at which precision it runs."""

from dataclasses import asdict, dataclass
from typing import Annotated, Optional

from omegaconf import DictConfig, OmegaConf

from audiovae.config.keywords import Range, check_keywords
from audiovae.errors import ConfigError

VOCODERS = ("hifigan", "griffin_lim")  # HiFi-GAN (`SpeechT5HifiGan`, weights in vocoder_subfolder) | no weights
PRECISIONS = ("fp32", "bf16")


@dataclass(frozen=True)
class MelOptions:
    """`vocoder`: hifigan | griffin_lim; `vocoder_subfolder`: where a HiFi-GAN's weights are under `model.path`;
    `griffin_lim_iters`: Griffin-Lim's iterations (its cost grows with them); `vocoder_precision`: fp32 | bf16
    (the vocoder under bf16 autocast)."""

    vocoder: str = "hifigan"
    vocoder_subfolder: Optional[str] = "vocoder"
    griffin_lim_iters: Annotated[int, Range(1, 10000)] = 32
    vocoder_precision: str = "fp32"

    def __post_init__(self):
        for key, value, choices in (
            ("vocoder", self.vocoder, VOCODERS),
            ("vocoder_precision", self.vocoder_precision, PRECISIONS),
        ):
            if value not in choices:
                raise ConfigError(
                    f"config key 'model.options.{key}': must be one of {', '.join(choices)}, got {value!r}"
                )

    def as_dict(self) -> dict:
        """Every option with its value (defaults included): what decides the vocoder's output."""
        return asdict(self)


def mel_options(model: DictConfig) -> MelOptions:
    """A mel model config's `options`, checked against `MelOptions` (one line naming the key) with its defaults."""
    given = OmegaConf.to_container(model.get("options") or OmegaConf.create({}), resolve=True)
    return MelOptions(**check_keywords(MelOptions, given, "model.options", "audioldm family"))
