"""Build the shared components of every run from its config."""
from omegaconf import DictConfig, OmegaConf

from audiovae.audio.frontend import MelFrontEnd
from audiovae.errors import ConfigError
from audiovae.enhancers.registry import build_enhancer
from audiovae.models.availability import vocoder_weights
from audiovae.models.enhanced_vae import EnhancedVAE
from audiovae.models.griffin_lim import GriffinLimVocoder
from audiovae.models.loading import load_models

VOCODERS = ("hifigan", "griffin_lim")


def build_enhanced_vae(model: DictConfig, enhancement: DictConfig, frontend: DictConfig) -> EnhancedVAE:
    """The configured VAE, enhancer and vocoder: HiFi-GAN weights from `model.path`, or Griffin-Lim on the
    front end's mel filterbank (no weights)."""
    kwargs = OmegaConf.to_container(model)
    sample_posterior, vocoder_kind = kwargs.pop("sample_posterior"), kwargs.pop("vocoder")
    vocoder_precision, vae_precision = kwargs.pop("vocoder_precision"), kwargs.pop("vae_precision")
    griffin_lim_iters = kwargs.pop("griffin_lim_iters")
    if vocoder_kind not in VOCODERS:
        raise ConfigError(f"config key 'model.vocoder': '{vocoder_kind}' is not one of {', '.join(VOCODERS)}")
    kwargs["vocoder_subfolder"] = vocoder_weights(model)
    vae, vocoder = load_models(**kwargs)
    if vocoder is None:
        vocoder = GriffinLimVocoder(build_frontend(frontend, frame_multiple=1), griffin_lim_iters)
    return EnhancedVAE(vae, vocoder, build_enhancer(enhancement), sample_posterior=sample_posterior,
                       vocoder_precision=vocoder_precision, vae_precision=vae_precision)


def build_frontend(frontend: DictConfig, frame_multiple: int) -> MelFrontEnd:
    return MelFrontEnd(**OmegaConf.to_container(frontend), frame_multiple=frame_multiple)
