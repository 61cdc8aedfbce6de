"""Build the shared components of every run from its config."""

from omegaconf import DictConfig

from audiovae.audio.frontend import MelFrontEnd, build_frontend
from audiovae.enhancers.registry import build_enhancer
from audiovae.errors import AudiovaeError, ConfigError, debugging, one_line
from audiovae.models import family_builtin  # noqa: F401 (the built-in families register themselves)
from audiovae.models.families import family_of, family_options
from audiovae.models.interface import AudioAutoencoder
from audiovae.plugins import is_builtin, labelled

__all__ = ["build_frontend", "build_model", "frontend_for"]


def build_model(model: DictConfig, enhancement: DictConfig, frontend: DictConfig) -> AudioAutoencoder:
    """The configured model of its family (`model.family`, `audiovae.models.families`) with the configured
    enhancer."""
    family = family_of(model)
    family_options(family, model)  # every family's `model.options`, a plugin's too, before anything loads
    enhancer = build_enhancer(enhancement)
    if is_builtin(family.build):
        return family.build(model, enhancer, frontend)
    try:
        return family.build(model, enhancer, frontend)
    except AudiovaeError:
        raise
    except Exception as err:  # a plugin family that cannot build: one line naming it, before any file
        if debugging():
            raise
        raise ConfigError(
            f"config key 'model.family': the {labelled(family.name + ' family', family.build)} failed to build the "
            f"model: {one_line(err)}"
        ) from None


def frontend_for(frontend: DictConfig, model: AudioAutoencoder) -> MelFrontEnd:
    """The front end whose frames are a whole number of the model's latent frames (`model.frame_multiple`)."""
    return build_frontend(frontend, model.frame_multiple(frontend.hop_length))
