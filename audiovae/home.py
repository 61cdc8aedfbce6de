"""The one cache outside a run's `out_dir`: `$AUDIOVAE_HOME` (default `~/.cache/audiovae`) holds built models and
matplotlib's font cache. Nothing else is written outside `out_dir`."""
import os
from pathlib import Path


def audiovae_home() -> Path:
    return Path(os.environ.get("AUDIOVAE_HOME", "~/.cache/audiovae")).expanduser()


def use_home_for_matplotlib() -> None:
    """matplotlib's cache under `$AUDIOVAE_HOME/matplotlib` unless MPLCONFIGDIR says otherwise (call before import)."""
    os.environ.setdefault("MPLCONFIGDIR", str(audiovae_home() / "matplotlib"))
