"""Run directories shared by every job: where outputs go, refusing to mix two configs in one or to write into a
folder that is not a run's, and a lock so that two runs never work in one folder at once."""

import json
import os
import socket
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Sequence

from omegaconf import DictConfig, OmegaConf

from audiovae.config.compose import config_hash, save_config
from audiovae.data.files import RUN_MARKERS, is_run_folder
from audiovae.errors import ConfigError

LOCK = ".audiovae-lock"

RUN_DIR_ENV = "AUDIOVAE_RUN_DIR"  # lets DDP worker processes find the run directory rank 0 chose


def run_hash(cfg: DictConfig, ignore: Sequence[str]) -> str:
    """Hash of the config's keys that decide a run's results: `ignore` names the ones left out, a top-level section
    (`cache`) or a key in one (`metrics.workers`)."""
    kept = OmegaConf.to_container(OmegaConf.masked_copy(cfg, [k for k in cfg if k not in ignore]), resolve=True)
    for key in ignore:
        section, _, name = key.partition(".")
        if name and isinstance(kept.get(section), dict):
            kept[section].pop(name, None)
    return config_hash(OmegaConf.create(kept))


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
    check_out_dir(out_dir, hash_)
    marker = out_dir / "run_hash.txt"
    try:
        save_config(cfg, out_dir)
        marker.write_text(hash_ + "\n")
        (out_dir / RUN_MARKERS[0]).write_text(json.dumps({"run_hash": hash_}) + "\n")
    except OSError as err:
        raise ConfigError(
            f"config key 'out_dir': cannot write to '{out_dir}' ({err.strerror}): choose a writable folder"
        ) from None


def check_out_dir(out_dir: Path, hash_: str) -> None:
    """ConfigError, before anything is loaded or written, for an out_dir that is a file, holds files that are not a
    run's, or holds another config's results."""
    marker = out_dir / "run_hash.txt"
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"config key 'out_dir': '{out_dir}' is a file, not a folder: choose another out_dir")
    if out_dir.is_dir() and not is_run_folder(out_dir):
        foreign = sorted(p.name for p in out_dir.iterdir() if p.name != LOCK)
        if foreign:
            raise ConfigError(
                f"config key 'out_dir': '{out_dir}' holds files that are not an audiovae run's "
                f"({', '.join(foreign[:3])}{', …' if len(foreign) > 3 else ''}): choose an empty or "
                f"new folder"
            )
    if marker.exists() and marker.read_text().strip() != hash_:
        raise ConfigError(
            f"out_dir '{out_dir}' holds results of another config (run hash "
            f"{marker.read_text().strip()}, this config {hash_}): choose a new out_dir"
        )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextmanager
def run_lock(out_dir: Path):
    """While the block runs, `out_dir/.audiovae-lock` names this process (pid, host); a second run on the folder
    is refused with one line. A lock whose process is gone (killed) is stale and taken over. DDP workers do not
    lock: the process that launched them holds it."""
    if not is_launcher_process():
        yield
        return
    path, host = Path(out_dir) / LOCK, socket.gethostname()
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            try:
                holder = json.loads(path.read_text() or "{}")
            except (OSError, ValueError):
                holder = {}
            if (
                holder.get("host") == host
                and _alive(int(holder.get("pid", 0) or 0))
                and holder.get("pid") != os.getpid()
            ):
                raise ConfigError(
                    f"config key 'out_dir': '{out_dir}' is in use by another run (pid {holder['pid']} on "
                    f"{host}): wait for it to finish or choose another out_dir"
                ) from None
            path.unlink(missing_ok=True)  # stale: its process is gone
            continue
        with os.fdopen(fd, "w") as f:
            f.write(json.dumps({"pid": os.getpid(), "host": host}) + "\n")
        break
    try:
        yield
    finally:
        path.unlink(missing_ok=True)
