"""The one cache outside a run's `out_dir`: `$AUDIOVAE_HOME` (default `~/.cache/audiovae`) holds built models and
matplotlib's font cache. Nothing else is written outside `out_dir`."""

import os
from pathlib import Path


def audiovae_home() -> Path:
    """`$AUDIOVAE_HOME` (default `~/.cache/audiovae`): where audiovae writes outside `out_dir` (models, cache)."""
    return Path(os.environ.get("AUDIOVAE_HOME", "~/.cache/audiovae")).expanduser()


def use_home_for_matplotlib() -> None:
    """matplotlib's cache under `$AUDIOVAE_HOME/matplotlib` unless MPLCONFIGDIR says otherwise (call before import)."""
    os.environ.setdefault("MPLCONFIGDIR", str(audiovae_home() / "matplotlib"))


def check_home() -> None:
    """ConfigError (one line) when `$AUDIOVAE_HOME` (or `$AUDIOVAE_CACHE_DIR`) names something that is not a folder."""
    from audiovae.errors import ConfigError

    for variable, path in (
        ("AUDIOVAE_HOME", audiovae_home()),
        ("AUDIOVAE_CACHE_DIR", os.environ.get("AUDIOVAE_CACHE_DIR")),
    ):
        if path and Path(path).expanduser().exists() and not Path(path).expanduser().is_dir():
            raise ConfigError(f"${variable} '{path}' is a file, not a folder: point it at a folder (or unset it)")
