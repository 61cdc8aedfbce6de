"""Build the shared components of every run from its config."""
from omegaconf import DictConfig, OmegaConf

from audiovae.audio.frontend import MelFrontEnd
from audiovae.enhancers.registry import build_enhancer
from audiovae.models.enhanced_vae import EnhancedVAE
from audiovae.models.loading import load_models


def build_enhanced_vae(model: DictConfig, enhancement: DictConfig) -> EnhancedVAE:
    kwargs = OmegaConf.to_container(model)
    sample_posterior = kwargs.pop("sample_posterior")
    vae, vocoder = load_models(**kwargs)
    return EnhancedVAE(vae, vocoder, build_enhancer(enhancement), sample_posterior=sample_posterior)


def build_frontend(frontend: DictConfig, frame_multiple: int) -> MelFrontEnd:
    return MelFrontEnd(**OmegaConf.to_container(frontend), frame_multiple=frame_multiple)
