"""Load AudioLDM2's VAE and vocoder subfolders (and the embedding model of set metrics) with `from_pretrained`,
from a hub id or a local folder: the local cache first, the hub only when it answers."""
import os
import shutil
from pathlib import Path
from typing import Callable, TypeVar

from diffusers import AutoencoderKL
from transformers import SpeechT5HifiGan
from transformers.utils import logging as transformers_logging

from audiovae.errors import ConfigError, ModelUnavailableError
from audiovae.models.availability import hub_reachable, model_how_to_get
from audiovae.models.builders import BUILDERS

Loaded = TypeVar("Loaded")


def _from_pretrained(cls, path: str, subfolder: str, cache_dir, local_only: bool):
    extra = {"low_cpu_mem_usage": False} if cls is AutoencoderKL else {}  # no `accelerate` needed
    return cls.from_pretrained(path, subfolder=subfolder, cache_dir=cache_dir, local_files_only=local_only, **extra)


def ensure_built(path: str, build: str | None, marker: str = "vae/config.json", key: str = "model.build") -> str:
    """For built models (`build: tiny`): create the folder on first use (it is built when `marker` exists in it).
    Returns the expanded path."""
    folder = Path(os.path.expanduser(path))
    if build is None:
        return str(folder) if folder.exists() else path
    if build not in BUILDERS:
        raise ConfigError(f"config key '{key}': unknown builder '{build}'; choose one of {sorted(BUILDERS)}")
    if not (folder / marker).is_file():
        tmp = folder.with_name(folder.name + f".tmp{os.getpid()}")
        BUILDERS[build](tmp)
        folder.parent.mkdir(parents=True, exist_ok=True)
        try:
            tmp.rename(folder)  # atomic: concurrent first uses (DDP ranks) never see half a model
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)
    return str(folder)


def load_models(name: str, path: str, vae_subfolder: str, vocoder_subfolder: str | None, build: str | None = None,
                cache_dir: str | None = None) -> tuple[AutoencoderKL, SpeechT5HifiGan | None]:
    """Load only the VAE and the HiFi-GAN vocoder (never the whole AudioLDM2Pipeline), in eval mode.

    `path` is a hub id (cvssp/audioldm2, cvssp/audioldm2-music, cvssp/audioldm2-large) or a local folder.
    `vocoder_subfolder=None` loads the VAE alone (for a weight-free vocoder). Fails within seconds when offline
    and not cached, naming the model and how to fetch it.
    """
    source = ensure_built(path, build)

    def load(local_only: bool):
        vae = _from_pretrained(AutoencoderKL, source, vae_subfolder, cache_dir, local_only)
        if vocoder_subfolder is None:
            return vae.eval(), None
        return vae.eval(), _from_pretrained(SpeechT5HifiGan, source, vocoder_subfolder, cache_dir, local_only).eval()

    return load_offline_aware(f"model '{name}'", source, load, model_how_to_get(name, path, vae_subfolder, vocoder_subfolder))


def load_offline_aware(what: str, source: str, load: Callable[[bool], Loaded], how_to_get: str) -> Loaded:
    """`load(local_only)` from the local cache or folder first; from the hub only when `source` is not a folder and
    the hub answers a quick connect, else ModelUnavailableError(`how_to_get`) within seconds."""
    transformers_logging.disable_progress_bar()
    try:
        return load(True)
    except (OSError, ValueError) as err:
        if Path(source).is_dir():
            raise ModelUnavailableError(f"{what}: cannot load from folder {source}: {err}") from None
        if not hub_reachable():
            raise ModelUnavailableError(how_to_get) from None
        return load(False)
