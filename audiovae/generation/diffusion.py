"""The diffusion side of a generation run: the text-to-audio pipeline of `model.path` (its VAE and vocoder the very
modules evaluation decodes with), one diffusion per (prompt, seed) to latents (`output_type="latent"`), kept in the
cross-run cache with their base decode so that every further decoder setting costs only its own decode and vocoder
pass, and the pipeline's
own CLAP re-ranking of several candidates (`generation.rerank`).

A cache entry's key: the pipeline's weights (every network's tensors), its scheduler's class and config, the prompt,
negative prompt, seed, steps, guidance, audio length, candidates per prompt, the torch version and device type.
"""

import time
from dataclasses import dataclass
from typing import Callable, Optional

import torch
from omegaconf import DictConfig

from audiovae import __version__
from audiovae.cache.keys import digest, weights_fingerprint
from audiovae.cache.store import CacheStore
from audiovae.errors import ConfigError, ModelUnavailableError
from audiovae.generation.bridge import compatible_pipeline
from audiovae.generation.prompts import Item
from audiovae.models.availability import model_how_to_get
from audiovae.models.loading import ensure_built, load_offline_aware

LATENTS_FORMAT = 1  # bump when an entry's layout changes


def load_pipeline(model_cfg: DictConfig, model, device: torch.device = torch.device("cpu")):
    """The text-to-audio pipeline of `model.path` (a hub id or a local folder; the class its model_index.json
    names, e.g. AudioLDM2Pipeline), sharing `model`'s VAE and vocoder, runnable under the installed transformers
    (`compatible_pipeline`), without progress bars."""
    from diffusers import DiffusionPipeline
    from diffusers.utils import logging as diffusers_logging

    diffusers_logging.disable_progress_bar()
    diffusers_logging.set_verbosity_error()  # the checkpoints' GPT2Model is wrapped below (compatible_pipeline)
    if model.family != "audioldm":
        raise ConfigError(
            f"config key 'model': generation runs a latent diffusion pipeline of the audioldm family "
            f"(audioldm2, audioldm2-music, tiny_pipeline), not the {model.family} model"
        )
    source = ensure_built(model_cfg.path, model_cfg.build, marker="model_index.json")

    def load(local_only: bool):
        return DiffusionPipeline.from_pretrained(
            source,
            vae=model.vae,
            vocoder=model.vocoder,
            cache_dir=model_cfg.cache_dir,
            local_files_only=local_only,
            low_cpu_mem_usage=False,
        )

    pipe = load_offline_aware(
        f"pipeline '{model_cfg.name}'",
        source,
        load,
        model_how_to_get(model_cfg.name, model_cfg.path, None, None, "audioldm"),
    )
    if not hasattr(pipe, "unet"):
        raise ModelUnavailableError(
            f"pipeline '{model_cfg.name}': {source} holds a {type(pipe).__name__}, not a "
            f"text-to-audio latent diffusion pipeline"
        )
    pipe.set_progress_bar_config(disable=True)
    return compatible_pipeline(pipe.to(device))


def output_samples(pipe, seconds: float) -> int:
    """The waveform length the pipeline returns for `seconds` (it crops its vocoder's output to it)."""
    return int(seconds * pipe.vocoder.config.sampling_rate)


def pipeline_key(pipe) -> dict:
    """What decides the pipeline's latents besides the request: every network's weights and config (GPT-2's
    `max_new_tokens` lives there) and the scheduler's class and config."""
    networks = {name: module for name, module in sorted(pipe.components.items()) if isinstance(module, torch.nn.Module)}
    configs = {
        name: (module.config.to_dict() if hasattr(module.config, "to_dict") else dict(module.config))
        for name, module in networks.items()
        if getattr(module, "config", None) is not None
    }
    return {
        "weights": weights_fingerprint(*networks.values()),
        "configs": digest(configs),
        "scheduler": type(pipe.scheduler).__name__,
        "scheduler_config": dict(pipe.scheduler.config),
    }


@dataclass
class Diffusion:
    """The latents of one (prompt, seed): `[N, C, T', F']` for N candidates, with the seconds the diffusion took
    (0 when read from the cache)."""

    latents: torch.Tensor
    seconds: float
    from_cache: bool


class LatentSource:
    """`latents(item)`: from the cross-run cache, or by running the pipeline (and storing them); `diffusions`
    counts the pipeline runs of this process."""

    def __init__(self, pipe, settings: DictConfig, store: Optional[CacheStore], device: torch.device):
        self.pipe, self.settings, self.store, self.device = pipe, settings, store, device
        self.diffusions = 0
        self._pipeline_part = pipeline_key(pipe) if store is not None else None

    def key(self, item: Item) -> str:
        """The cache key of an item's latents: the pipeline's weights, the generation settings, the prompt and the
        seed."""
        s = self.settings
        return digest(
            {
                "format": LATENTS_FORMAT,
                "kind": "generation_latents",
                **self._pipeline_part,
                "prompt": item.prompt.text,
                "negative_prompt": s.negative_prompt,
                "seed": item.seed,
                "steps": s.steps,
                "guidance_scale": s.guidance_scale,
                "audio_length_s": s.audio_length_s,
                "waveforms_per_prompt": s.waveforms_per_prompt,
                "torch": torch.__version__,
                "device_type": self.device.type,
                "audiovae": __version__,
            }
        )

    def run(self, item: Item) -> torch.Tensor:
        """Run the pipeline's diffusion for one (prompt, seed) and return its latents (seeded generator on the CPU)."""
        s = self.settings
        generator = torch.Generator(device="cpu").manual_seed(item.seed)
        out = self.pipe(
            item.prompt.text,
            negative_prompt=s.negative_prompt,
            num_inference_steps=s.steps,
            guidance_scale=s.guidance_scale,
            audio_length_in_s=s.audio_length_s,
            num_waveforms_per_prompt=s.waveforms_per_prompt,
            generator=generator,
            output_type="latent",
        )
        self.diffusions += 1
        return out.audios.detach().float()

    def _cached(self, key: Optional[str], compute: Callable[[], dict]) -> tuple[dict, bool]:
        """(the tensors of the cache entry `key`, True), or (`compute()`, False) stored under `key`; a damaged entry
        is a miss, written again. No key (cache off): always computed."""
        entry = self.store.get(key) if key else None
        if entry is not None:
            try:
                return {name: t.to(self.device) for name, t in entry.segment(0).items()}, True
            except Exception:  # noqa: BLE001 - whatever an unreadable file raises
                self.store.discard(key)
        tensors = compute()
        if key:
            self.store.finish(key, [self.store.put_segment(key, 0, tensors)], {})
        return tensors, False

    def latents(self, item: Item) -> Diffusion:
        """An item's latents, from the cache when there, else diffused (and stored), with the seconds it took."""
        key = self.key(item) if self.store is not None else None
        start = time.perf_counter()
        tensors, from_cache = self._cached(key, lambda: {"latents": self.run(item)})
        return Diffusion(tensors["latents"], 0.0 if from_cache else time.perf_counter() - start, from_cache)

    def base_decode(self, item: Item, decode: Callable[[], tuple], settings: dict) -> tuple:
        """The item's base decode `(log-mel, waveform)`: from the cache (an entry beside its latents' entry, keyed
        also by the decode's `settings`: precisions, length), or `decode()` stored there."""
        key = (
            digest({"latents": self.key(item), "kind": "generation_base_decode", **settings})
            if self.store is not None
            else None
        )
        tensors, _ = self._cached(key, lambda: dict(zip(("mel", "wave"), decode())))
        return tensors["mel"], tensors["wave"]


@torch.no_grad()
def clap_ranking(pipe, prompt: str, waves: torch.Tensor) -> list[int]:
    """The candidates `waves` `[N, S]` ordered by the pipeline's own CLAP text–audio score, best first: its
    `score_waveforms` (tokenizer, librosa resampling to the feature extractor's rate, `logits_per_text`), returning
    the order instead of the reordered audio."""
    import librosa

    inputs = pipe.tokenizer(prompt, return_tensors="pt", padding=True)
    resampled = librosa.resample(
        waves.cpu().numpy(), orig_sr=pipe.vocoder.config.sampling_rate, target_sr=pipe.feature_extractor.sampling_rate
    )
    inputs["input_features"] = pipe.feature_extractor(
        list(resampled), return_tensors="pt", sampling_rate=pipe.feature_extractor.sampling_rate
    ).input_features
    logits = pipe.text_encoder(**inputs.to(pipe.text_encoder.device)).logits_per_text  # [1, N]
    return [int(i) for i in torch.argsort(logits[0], descending=True)]


def check_generation_settings(settings: DictConfig) -> None:
    """ConfigError (one line, at start-up) for settings the pipeline cannot take."""
    if settings.steps < 1:
        raise ConfigError("config key 'generation.steps': at least 1 diffusion step")
    if not settings.audio_length_s > 0:
        raise ConfigError("config key 'generation.audio_length_s': a positive length in seconds")
    if settings.waveforms_per_prompt < 1:
        raise ConfigError("config key 'generation.waveforms_per_prompt': at least 1")
    if settings.rerank and settings.waveforms_per_prompt < 2:
        raise ConfigError(
            "config key 'generation.rerank': re-ranking picks the best of several candidates; set "
            "generation.waveforms_per_prompt to 2 or more"
        )
