"""Whether a configured model can be loaded, answered before any heavy import (torch, diffusers, Lightning): a
built or local folder can; a hub id can when the local Hugging Face cache has its config files or the hub
answers a quick connect. Otherwise ModelUnavailableError with the download command, within seconds."""

import os
import socket
from pathlib import Path
from typing import Optional, Sequence
from urllib.parse import urlparse

from audiovae.errors import ModelUnavailableError
from audiovae.metrics.sets import needs_embedding
from audiovae.models.mel_options import mel_options


def hub_reachable(timeout_s: float = 3.0) -> bool:
    """One quick TCP connect to the hub endpoint (no retries); false when offline mode is set."""
    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false", "False"):
        return False
    host = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co")).hostname
    try:
        socket.create_connection((host, 443), timeout=timeout_s).close()
        return True
    except OSError:
        return False


GATED = {"stable_audio_open": "accept the model's licence on its hub page and log in (huggingface-cli login), then "}
OFFLINE_MODELS = {"stable_audio_open": "tiny_oobleck", "encodec": "tiny_encodec", "dac": "tiny_dac"}


def model_how_to_get(
    name: str, path: str, vae_subfolder: Optional[str], vocoder_subfolder: Optional[str], family: Optional[str] = None
) -> str:
    """The one-line message for weights that are neither local nor downloadable: the download command and the config key
    to set."""
    folders = " ".join(f"'{sub}/*'" for sub in (vae_subfolder, vocoder_subfolder) if sub)
    include = f" --include {folders}" if folders else ""
    return (
        f"model '{name}' ({path}) is not in the local cache and the Hugging Face hub is unreachable. "
        f"On a machine with internet {GATED.get(family, '')}run: huggingface-cli download {path}{include} "
        f"--local-dir /some/dir, copy /some/dir here and set model.path=/some/dir (or "
        f"model={OFFLINE_MODELS.get(family, 'tiny')} for an offline test model)."
    )


def embedding_how_to_get(name: str, path: str) -> str:
    """The same message for an embedding model (CLAP)."""
    return (
        f"embedding model '{name}' ({path}) is not in the local cache and the Hugging Face hub is unreachable. "
        f"On a machine with internet run: huggingface-cli download {path} --local-dir /some/dir, copy /some/dir "
        f"here and set embedding.path=/some/dir (or embedding=tiny_clap for an offline test model; "
        f"metrics.names without set metrics (fad, fad_inf, kad) and clap_score needs no embedding model)."
    )


def in_hub_cache(repo: str, files: Sequence[str], cache_dir: Optional[str]) -> bool:
    """Whether every one of `files` of `repo` is in the local Hugging Face cache."""
    from huggingface_hub import try_to_load_from_cache

    try:
        return all(isinstance(try_to_load_from_cache(repo, f, cache_dir=cache_dir), str) for f in files)
    except Exception:  # not a valid repo id: the loader reports it
        return True


def check_available(
    path: str, build: Optional[str], config_files: Sequence[str], cache_dir: Optional[str], how_to_get: str
) -> None:
    """ModelUnavailableError(`how_to_get`) when `path` is neither built on use, a folder, in the local hub cache
    (`config_files`), nor reachable on the hub."""
    if build is not None or Path(os.path.expanduser(path)).is_dir():
        return
    if not in_hub_cache(path, config_files, cache_dir) and not hub_reachable():
        raise ModelUnavailableError(how_to_get)


def vocoder_weights(model) -> Optional[str]:
    """The subfolder of a mel model's vocoder weights, None for a vocoder without weights (`griffin_lim`)."""
    options = mel_options(model)
    return None if options.vocoder == "griffin_lim" else options.vocoder_subfolder


def model_subfolders(model) -> list[str]:
    """The subfolders of the weights a model config loads: the autoencoder's, and a mel model's vocoder's unless it
    has no weights (`vocoder_weights`); None stands for the folder itself."""
    vocoder = vocoder_weights(model) if model.get("family", "audioldm") == "audioldm" else None
    return [model.vae_subfolder, *([vocoder] if vocoder is not None else [])]


def preflight(cfg) -> None:
    """The models a job will load (the VAE and vocoder; the embedding model when `fad` is measured), checked
    before the heavy imports so an offline run without them stops in seconds."""
    model = cfg.model
    if model.path is None:  # a family without weights to load
        return
    subs = model_subfolders(model)
    files = [f"{sub}/config.json" if sub else "config.json" for sub in subs]
    if cfg.get("generation") is not None:  # a generation run loads the whole pipeline of model.path
        files.append("model_index.json")
    check_available(
        model.path,
        model.build,
        files,
        model.cache_dir,
        model_how_to_get(model.name, model.path, *subs[:1], subs[1] if len(subs) > 1 else None, model.get("family")),
    )
    metrics = cfg.get("metrics")
    names = (metrics.get("names") or []) if metrics is not None else []
    generation_clap = "clap_score" in names and cfg.get("generation") is not None  # (evaluation refuses it)
    if (needs_embedding(names) or generation_clap) and cfg.get("embedding") is not None:
        e = cfg.embedding
        check_available(e.path, e.build, ["config.json"], e.cache_dir, embedding_how_to_get(e.name, e.path))
