"""A study in its storage: created or loaded by name, its sampler and pruner from `search.*`, and the bookkeeping that
lets many workers share it: one trial budget for all of them, and trials whose worker died handed back.

Storage: the journal file `<out_dir>/study.journal` by default (Optuna's `JournalFileBackend`: appends under a file
lock, so the processes of one machine or of machines sharing a file system can write it together), or any RDB URL
(`sqlite:///study.db`, `postgresql://user@host/db`) for machines that share a database.
"""

import fcntl
import os
import socket
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional

from omegaconf import DictConfig

from audiovae.errors import ConfigError
from audiovae.search.space import Dimension, grid

JOURNAL = "study.journal"
STUDY_MARKER = ".audiovae-study"  # the study's name: the folder is that study's (its outputs are audiovae's own)
BUDGET_LOCK = "budget.lock"  # taken while a worker counts the trials and asks for the next one
SAMPLERS = ("tpe", "cmaes", "random", "grid")
PRUNERS = ("auto", "wilcoxon", "median", "hyperband", "none")  # auto: wilcoxon (evaluation), median (training)
COUNTED = ("COMPLETE", "PRUNED", "RUNNING")  # a trial budget's trials, with the failed ones that failed on their own


def storage_for(search: DictConfig, out_dir: Path):
    """The study's Optuna storage: the journal under `out_dir`, or `search.storage`'s RDB URL."""
    import optuna
    from optuna.storages.journal import JournalFileBackend

    if not search.storage:
        out_dir.mkdir(parents=True, exist_ok=True)
        return optuna.storages.JournalStorage(JournalFileBackend(str(out_dir / JOURNAL)))
    url = str(search.storage)
    if "://" not in url:
        raise ConfigError(f"config key 'search.storage': an RDB URL such as sqlite:///study.db, got {url!r}")
    try:
        return optuna.storages.RDBStorage(url)
    except Exception as err:  # an unknown dialect, a driver not installed, a server that refuses
        raise ConfigError(f"config key 'search.storage': {url!r} cannot be opened ({type(err).__name__}: {err})")


def sampler_for(search: DictConfig, dimensions: list[Dimension], worker: int = 0):
    """The sampler `search.sampler` names, seeded with `search.seed` + `worker` (workers drawing from one seed would
    propose the same values side by side)."""
    import optuna

    kind, seed = search.sampler, int(search.seed) + int(worker)
    if kind not in SAMPLERS:
        raise ConfigError(f"config key 'search.sampler': one of {', '.join(SAMPLERS)}, got {kind!r}")
    if kind == "grid":
        return optuna.samplers.GridSampler(grid(dimensions), seed=seed)
    if kind == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if kind == "cmaes":
        return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)
    return optuna.samplers.TPESampler(seed=seed, multivariate=True, group=True)


def pruner_for(search: DictConfig, objectives: int):
    """The pruner `search.pruner` names (none for a multi-objective study: Optuna prunes single objectives).
    WilcoxonPruner compares per-file values, so it is an evaluation study's; a training study's reports are its
    validations (median, Hyperband)."""
    import optuna

    if search.pruner not in PRUNERS:
        raise ConfigError(f"config key 'search.pruner': one of {', '.join(PRUNERS)}, got {search.pruner!r}")
    kind = {"eval": "wilcoxon", "train": "median"}[search.job] if search.pruner == "auto" else search.pruner
    if kind == "wilcoxon" and search.job == "train":
        raise ConfigError(
            "config key 'search.pruner': wilcoxon tests per-file values of evaluation trials; a training study "
            "reports validations: median, hyperband or none"
        )
    if kind == "none" or objectives > 1:
        return optuna.pruners.NopPruner()
    if kind == "median":  # a trial's validation (or file) k against the median of the others' at k
        return optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=int(search.startup_steps))
    if kind == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=max(1, int(search.startup_steps)))
    if not 0 < search.p_threshold < 1:
        raise ConfigError(f"config key 'search.p_threshold': between 0 and 1, got {search.p_threshold}")
    return optuna.pruners.WilcoxonPruner(
        p_threshold=float(search.p_threshold), n_startup_steps=int(search.startup_steps)
    )


def open_study(
    search: DictConfig, name: str, out_dir: Path, dimensions: list[Dimension], directions: list[str], worker: int = 0
):
    """The study `name` in its storage, created on first use (every worker calls this; the first creates it), each
    objective in its direction (maximize, minimize), with worker `worker`'s sampler. Its settings and `out_dir` are
    checked before anything is written (`claim_study_dir`)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # WilcoxonPruner and TPE's `group` are marked experimental (their interface may change): said in docs/search.md
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    sampler, pruner = sampler_for(search, dimensions, worker), pruner_for(search, len(directions))
    claim_study_dir(out_dir, name)
    return optuna.create_study(
        storage=storage_for(search, out_dir),
        study_name=name,
        sampler=sampler,
        pruner=pruner,
        directions=list(directions),
        load_if_exists=True,
    )


def claim_study_dir(out_dir: Path, name: str) -> None:
    """ConfigError, before anything is written, for an `out_dir` that is a file, holds files that are not a study's,
    or holds another study; then the folder is marked as study `name`'s (`STUDY_MARKER`), so its outputs may be
    rewritten by the study's later commands and workers."""
    marker = out_dir / STUDY_MARKER
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"config key 'out_dir': '{out_dir}' is a file, not a folder: choose another out_dir")
    if marker.is_file():
        held = marker.read_text().strip()
        if held != name:
            raise ConfigError(
                f"config key 'out_dir': '{out_dir}' holds the study {held!r}, not {name!r}: choose another out_dir "
                "(or search.name to continue that study)"
            )
        return
    foreign = sorted(p.name for p in out_dir.iterdir()) if out_dir.is_dir() else []
    if foreign:
        raise ConfigError(
            f"config key 'out_dir': '{out_dir}' holds files that are not an audiovae study's "
            f"({', '.join(foreign[:3])}{', …' if len(foreign) > 3 else ''}): choose an empty or new folder"
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    marker.write_text(name + "\n")


@contextmanager
def budget_lock(out_dir: Path) -> Iterator[None]:
    """Exclusive among the workers that share `out_dir` (one machine, or a shared file system)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with open(out_dir / BUDGET_LOCK, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def worker_id() -> str:
    """This process as a trial records it: host:pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _alive(worker: str) -> Optional[bool]:
    """Whether the process `host:pid` runs (None: on another host, unknown here)."""
    host, _, pid = worker.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return None
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def hand_back_stale_trials(study) -> list[int]:
    """Trials left RUNNING by a worker of this host that no longer runs (killed, the machine's power lost): each is
    marked FAIL with the reason, and its values are queued again, so the study finishes it (its run folder resumes
    from the rows it stored). Returns their numbers. Call it under `budget_lock`: then one worker hands a trial
    back once."""
    from optuna.exceptions import UpdateFinishedTrialError
    from optuna.trial import TrialState

    handed = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        worker = trial.user_attrs.get("worker", "")
        if _alive(worker) is not False:
            continue
        storage = study._storage
        try:
            storage.set_trial_user_attr(trial._trial_id, "failed_because", f"its worker {worker} stopped mid-trial")
            storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
        except UpdateFinishedTrialError:  # another worker handed it back first
            continue
        study.enqueue_trial(dict(trial.params), user_attrs={"retry_of": trial.number}, skip_if_exists=False)
        handed.append(trial.number)
    return handed


def counted(study) -> int:
    """The trials that use the budget: finished, pruned, running, and failed by their own error (a trial handed back
    from a dead worker is retried as a new trial instead)."""
    from optuna.trial import TrialState

    states = tuple(getattr(TrialState, s) for s in COUNTED)
    trials = study.get_trials(deepcopy=False)
    return sum(t.state in states or (t.state == TrialState.FAIL and "error" in t.user_attrs) for t in trials)
