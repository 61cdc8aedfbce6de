"""Load a model's networks (and the embedding model of set metrics) with `from_pretrained`, from a hub id or a local
folder: the local cache first, the hub only when it answers."""

import json
import os
import shutil
from pathlib import Path
from typing import Callable, TypeVar

from transformers.utils import logging as transformers_logging

from audiovae.errors import ConfigError, ModelUnavailableError
from audiovae.models.availability import hub_reachable, model_how_to_get
from audiovae.models.builders import BUILDERS

Loaded = TypeVar("Loaded")


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


def check_model_kind(source: str, subfolder: str | None, cls, model) -> None:
    """ConfigError when a local folder's `config.json` names another kind of model than `cls` (a DAC folder given to
    the EnCodec family): transformers would load it with a warning and fail later on a missing attribute."""
    config = Path(source) / (subfolder or "") / "config.json"
    try:
        spec = json.loads(config.read_text()) if config.is_file() else {}
    except (OSError, ValueError):
        return
    if not isinstance(spec, dict):
        return
    expected = getattr(getattr(cls, "config_class", None), "model_type", None)
    found = spec.get("model_type")
    if cls.__module__.startswith("diffusers"):
        expected, found = cls.__name__, spec.get("_class_name")
    if expected and found and expected != found:
        raise ConfigError(
            f"config key 'model.path': {config} describes a {found} model; the {model.get('family')} family loads "
            f"{expected} (model.family and model.path must agree)"
        )


def load_pretrained(model, cls, subfolder: str | None):
    """`cls.from_pretrained(model.path, subfolder=subfolder)` in eval mode (a model built on first use is built
    first): the local cache or folder, the hub only when it answers (`load_offline_aware`)."""
    marker = f"{model.vae_subfolder}/config.json" if model.vae_subfolder else "config.json"
    source = ensure_built(model.path, model.build, marker)
    check_model_kind(source, subfolder, cls, model)
    extra = {"low_cpu_mem_usage": False} if cls.__module__.startswith("diffusers") else {}  # no `accelerate` needed
    sub = {"subfolder": subfolder} if subfolder else {}

    def load(local_only: bool):
        return cls.from_pretrained(
            source, cache_dir=model.cache_dir, local_files_only=local_only, **sub, **extra
        ).eval()

    return load_offline_aware(
        f"model '{model.name}'",
        source,
        load,
        model_how_to_get(model.name, model.path, subfolder, None, model.get("family")),
    )


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
