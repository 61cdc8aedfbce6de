"""Build the shared components of every run from its config."""
from omegaconf import DictConfig, OmegaConf

from audiovae.audio.frontend import MelFrontEnd
from audiovae.enhancers.registry import build_enhancer
from audiovae.models import family_builtin  # noqa: F401 (the built-in families register themselves)
from audiovae.models.families import family_of
from audiovae.models.interface import AudioAutoencoder


def build_model(model: DictConfig, enhancement: DictConfig, frontend: DictConfig) -> AudioAutoencoder:
    """The configured model of its family (`model.family`, `audiovae.models.families`) with the configured
    enhancer."""
    return family_of(model).build(model, build_enhancer(enhancement), frontend)




def build_frontend(frontend: DictConfig, frame_multiple: int) -> MelFrontEnd:
    return MelFrontEnd(**OmegaConf.to_container(frontend), frame_multiple=frame_multiple)


def frontend_for(frontend: DictConfig, model: AudioAutoencoder) -> MelFrontEnd:
    """The front end whose frames are a whole number of the model's latent frames (`model.frame_multiple`)."""
    return build_frontend(frontend, model.frame_multiple(frontend.hop_length))
