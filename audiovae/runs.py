"""Run directories shared by every job: where outputs go, and refusing to mix two configs in one."""
import os
from datetime import datetime
from pathlib import Path
from typing import Sequence

from omegaconf import DictConfig, OmegaConf

from audiovae.config.compose import config_hash, save_config
from audiovae.errors import ConfigError

RUN_DIR_ENV = "AUDIOVAE_RUN_DIR"  # lets DDP worker processes find the run directory rank 0 chose


def run_hash(cfg: DictConfig, ignore: Sequence[str]) -> str:
    """Hash of the top-level sections that decide a run's results (those in `ignore` left out)."""
    return config_hash(OmegaConf.masked_copy(cfg, [k for k in cfg if k not in ignore]))


def is_launcher_process() -> bool:
    """True in the process a user started (rank 0 of node 0), false in DDP workers it launched."""
    return int(os.environ.get("LOCAL_RANK", 0)) == 0 and int(os.environ.get("NODE_RANK", 0)) == 0


def resolve_out_dir(out_dir: str | None, job: str, hash_: str) -> Path:
    """`out_dir`, else the directory the launching process chose, else outputs/<job>/<timestamp>-<hash>;
    exported to the environment so DDP workers started later agree."""
    if out_dir:
        path = Path(out_dir).expanduser()
    elif os.environ.get(RUN_DIR_ENV):
        path = Path(os.environ[RUN_DIR_ENV])
    else:
        path = Path("outputs") / job / f"{datetime.now().strftime('%Y%m%d-%H%M%S')}-{hash_}"
    os.environ[RUN_DIR_ENV] = str(path)
    return path


def prepare_out_dir(cfg: DictConfig, out_dir: Path, hash_: str) -> None:
    """Save the resolved config; an out_dir holding another config's results is refused rather than mixed."""
    marker = out_dir / "run_hash.txt"
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"config key 'out_dir': '{out_dir}' is a file, not a folder: choose another out_dir")
    if marker.exists() and marker.read_text().strip() != hash_:
        raise ConfigError(f"out_dir '{out_dir}' holds results of another config (run hash "
                          f"{marker.read_text().strip()}, this config {hash_}): choose a new out_dir")
    try:
        save_config(cfg, out_dir)
        marker.write_text(hash_ + "\n")
    except OSError as err:
        raise ConfigError(f"config key 'out_dir': cannot write to '{out_dir}' ({err.strerror}): choose a writable "
                          f"folder") from None
