"""The families this package ships: the mel VAE + vocoder family (AudioLDM, MusicLDM, AudioLDM2), Stable Audio
Open's waveform VAE, and the EnCodec and DAC codecs."""

from omegaconf import DictConfig

from audiovae.audio.frontend import build_frontend
from audiovae.errors import ConfigError
from audiovae.models.availability import vocoder_weights
from audiovae.models.codecs import DacAutoencoder, EncodecAutoencoder
from audiovae.models.enhanced_vae import EnhancedVAE
from audiovae.models.families import Family, family_options, register_family
from audiovae.models.griffin_lim import GriffinLimVocoder
from audiovae.models.loading import load_pretrained
from audiovae.models.mel_options import MelOptions, mel_options
from audiovae.models.waveform_vae import WaveformVAE


def build_mel(model: DictConfig, enhancer, frontend: DictConfig) -> EnhancedVAE:
    """The VAE (`AutoencoderKL` in `vae_subfolder`) and HiFi-GAN (`SpeechT5HifiGan` in `options.vocoder_subfolder`),
    or Griffin-Lim on the front end's mel filterbank (no weights): `model.options` (`MelOptions`)."""
    from diffusers import AutoencoderKL
    from transformers import SpeechT5HifiGan

    options = mel_options(model)
    vae = load_pretrained(model, AutoencoderKL, model.vae_subfolder)
    sub = vocoder_weights(model)
    if sub is None:
        vocoder = GriffinLimVocoder(build_frontend(frontend, frame_multiple=1), options.griffin_lim_iters)
    else:
        vocoder = load_pretrained(model, SpeechT5HifiGan, sub)
    return EnhancedVAE(
        vae,
        vocoder,
        enhancer,
        sample_posterior=model.sample_posterior,
        vocoder_precision=options.vocoder_precision,
        vae_precision=model.vae_precision,
        sample_rate=frontend.sample_rate,
        vocoder_options=options.as_dict(),
    )


def build_oobleck(model: DictConfig, enhancer, frontend: DictConfig) -> WaveformVAE:
    """Stable Audio Open's Oobleck VAE (a waveform model) from `model.path`, with the enhancer chain."""
    from diffusers import AutoencoderOobleck

    return WaveformVAE(
        load_pretrained(model, AutoencoderOobleck, model.vae_subfolder),
        enhancer,
        model.sample_posterior,
        model.vae_precision,
    )


def _no_posterior(model: DictConfig) -> None:
    if model.sample_posterior:
        raise ConfigError(f"config key 'model.sample_posterior': the {model.family} codec has no posterior to sample")


def build_encodec(model: DictConfig, enhancer, frontend: DictConfig) -> EncodecAutoencoder:
    """EnCodec (a neural codec: its quantised latent, `options.bandwidth`) from `model.path`."""
    from transformers import EncodecModel

    _no_posterior(model)
    options = family_options(ENCODEC_FAMILY, model)
    return EncodecAutoencoder(
        load_pretrained(model, EncodecModel, model.vae_subfolder),
        enhancer,
        vae_precision=model.vae_precision,
        **options,
    )


def build_dac(model: DictConfig, enhancer, frontend: DictConfig) -> DacAutoencoder:
    """DAC (a neural codec: `options.n_quantizers`) from `model.path`."""
    from transformers import DacModel

    _no_posterior(model)
    options = family_options(DAC_FAMILY, model)
    return DacAutoencoder(
        load_pretrained(model, DacModel, model.vae_subfolder), enhancer, vae_precision=model.vae_precision, **options
    )


MEL_FAMILY = register_family(Family("audioldm", build_mel, MelOptions))
OOBLECK_FAMILY = register_family(Family("stable_audio_open", build_oobleck))
ENCODEC_FAMILY = register_family(
    Family("encodec", build_encodec, EncodecAutoencoder, ("codec", "enhancer", "vae_precision"))
)
DAC_FAMILY = register_family(Family("dac", build_dac, DacAutoencoder, ("codec", "enhancer", "vae_precision")))
