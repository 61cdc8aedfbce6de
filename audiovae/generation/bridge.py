"""A fine-tuned enhancement in generation, in two lines:

    pipe = AudioLDM2Pipeline.from_pretrained("cvssp/audioldm2")
    audio = enhanced_pipeline(pipe, load_enhancer("enhancer.pt"))("a dog barks").audios

`enhanced_pipeline` returns a copy of the pipeline (its modules shared, the original untouched) whose post-processing
decodes through the enhancer exactly as evaluation does (`audiovae.models.enhanced_vae.EnhancedVAE`): the latent
stages on the diffusion-space latent (scaled by `vae.config.scaling_factor`), the VAE decode, the mel stages on the
decoded log-mel, the vocoder, the wave stages. Only decoding changes: the diffusion, its seeds and its latents are
the pipeline's own. It also makes the pipeline run under transformers ≥ 5 (`compatible_pipeline`)."""

import copy
import types
from dataclasses import dataclass

import torch
from torch import nn

from audiovae.enhancers.chain import EnhancerChain


@dataclass
class _Decoded:
    sample: torch.Tensor


class EnhancedDecoder(nn.Module):
    """Stands in for the pipeline's `vae` where it decodes: `decode(latent / scaling_factor)` → the enhanced
    log-mel. Everything else (`config`, `dtype`, `encode`) is the VAE's."""

    def __init__(self, vae: nn.Module, enhancer: EnhancerChain):
        super().__init__()
        self.vae, self.enhancer = vae, enhancer

    @property
    def config(self):
        """The VAE's config (the pipeline reads its scaling factor)."""
        return self.vae.config

    @property
    def dtype(self) -> torch.dtype:
        """The VAE's dtype."""
        return self.vae.dtype

    @property
    def device(self) -> torch.device:
        """The VAE's device."""
        return self.vae.device

    def encode(self, *args, **kwargs):
        """The VAE's own encode."""
        return self.vae.encode(*args, **kwargs)

    def decode(self, unscaled: torch.Tensor, *args, **kwargs) -> _Decoded:
        """Decode a pipeline latent (unscaled) through the enhancer: its latent stages on the diffusion-space latent,
        the VAE's decode, its mel stages."""
        scale = float(self.vae.config.scaling_factor)
        latent = self.enhancer.enhance_latent(unscaled * scale)  # the diffusion-space latent, as in evaluation
        mel = self.vae.decode(latent / scale, *args, **kwargs).sample
        return _Decoded(self.enhancer.enhance_mel(mel))


def compatible_language_model(language_model: nn.Module) -> nn.Module:
    """The pipeline's GPT-2 as a model that can step generation under transformers ≥ 5 (whose `GPT2Model` no
    longer carries the generation helpers the pipeline calls): a `GPT2LMHeadModel` around the same transformer
    (the same weights and hidden states; its head is never used). Unchanged when it already can."""
    if hasattr(language_model, "_update_model_kwargs_for_generation"):
        return language_model
    from transformers import GPT2LMHeadModel

    with torch.device("meta"):
        wrapped = GPT2LMHeadModel(language_model.config)
    wrapped.transformer = language_model
    wrapped.lm_head = nn.Linear(language_model.config.n_embd, language_model.config.vocab_size, bias=False)
    wrapped.lm_head.weight = language_model.wte.weight  # tied, as GPT-2's head is
    return wrapped.eval().to(language_model.device)


def compatible_pipeline(pipe):
    """A shallow copy of `pipe` (its modules shared) that runs under the installed transformers
    (`compatible_language_model`); `pipe` and its config are left as they are."""
    copied = copy.copy(pipe)
    object.__setattr__(copied, "language_model", compatible_language_model(pipe.language_model))  # not a config
    return copied  # change: DiffusionPipeline.__setattr__ would record it in the shared config


def enhanced_pipeline(pipe, enhancer: EnhancerChain):
    """`pipe` (diffusers `AudioLDM2Pipeline`) decoding through `enhancer` (an `EnhancerChain`, e.g. a loaded
    export); a shallow copy: `pipe` itself keeps decoding as before."""
    bridged = compatible_pipeline(pipe)
    object.__setattr__(bridged, "vae", EnhancedDecoder(pipe.vae, enhancer.to(pipe.vae.device).eval()))

    def mel_spectrogram_to_waveform(self, mel: torch.Tensor) -> torch.Tensor:
        wave = type(pipe).mel_spectrogram_to_waveform(self, mel)
        return enhancer.enhance_wave(wave)

    object.__setattr__(bridged, "mel_spectrogram_to_waveform", types.MethodType(mel_spectrogram_to_waveform, bridged))
    return bridged
