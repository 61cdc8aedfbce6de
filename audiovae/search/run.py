"""`audiovae-search`: an Optuna study of a job's settings, run by one or more worker processes that share its storage
(`--workers N` here; the same command on another machine with the same storage joins the study), then the study's
outputs (`audiovae.search.outputs`).

Every worker repeats: under the study folder's budget lock, hand back the trials of workers that died, stop when the
study has its `search.trials`, ask for a trial; draw its values, run it in its run folder (a trial whose values ran
before takes that run's values instead of running again), tell the study.
"""

import argparse
import math
import multiprocessing
import os
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

from omegaconf import DictConfig, OmegaConf

from audiovae.config.compose import config_hash
from audiovae.errors import ConfigError, exit_status
from audiovae.search.space import draw, grid, job_words, parse_space
from audiovae.search.study import (
    budget_lock,
    counted,
    hand_back_stale_trials,
    open_study,
    worker_id,
)
from audiovae.search.trials import run_eval_trial, run_train_trial, trial_folder

JOBS = ("eval", "train")  # the jobs a study's trials can run
WAIT_S = 1.0  # how often a worker looks again at a trial another worker runs with the same values
STUDY_WORDS = ("search.", "out_dir=")  # command-line words that set the study; every other word is the job's


@dataclass(frozen=True)
class Consent:
    """What runs code in a study's trials with the user's consent: everything with `trust` (--trust-code);
    otherwise what comes from the installation's configs/ (the search config `source` and its job config) or was
    `typed` on the command line. A search config from a file is someone's: its `search.overrides` and space may not
    run plugins, `pipe:` commands or family modules without consent."""

    trust: bool = False
    source: str = "search"
    typed: tuple = ()


def job_words_of(overrides: Sequence[str]) -> list[str]:
    """The command-line words that are the job's (not `STUDY_WORDS`)."""
    return [w for w in overrides if not w.startswith(STUDY_WORDS)]


def compose_search(config: str, overrides: Sequence[str]) -> DictConfig:
    """The search config (`configs/search.yaml` and its descendants) with `overrides`: `search.*` and `out_dir=`
    words set the search's keys; every other word is the job's (appended to `search.overrides`: `data.dir=/x`)."""
    from audiovae.config.compose import compose
    from audiovae.config.schema import SearchConfig

    job = job_words_of(overrides)
    cfg = compose(config, [w for w in overrides if w not in job], schema=SearchConfig)
    if not job:
        return cfg
    cfg = OmegaConf.create(OmegaConf.to_container(cfg))
    cfg.search.overrides = [*cfg.search.overrides, *job]
    OmegaConf.set_readonly(cfg, True)
    return cfg


def study_name(cfg: DictConfig) -> str:
    """`search.name`, else `search-<hash>` of what decides the trials (job, its config and overrides, the space,
    the objectives, sampler and seed): the same search continues its study."""
    s = cfg.search
    if s.name:
        return str(s.name)
    keys = {k: s[k] for k in ("job", "config", "overrides", "space", "objectives", "sampler", "seed")}
    return f"search-{config_hash(OmegaConf.create(keys))}"


def study_dir(cfg: DictConfig) -> Path:
    """Where the study's journal, trials and outputs go: `out_dir`, else outputs/search/<study name>."""
    return Path(cfg.out_dir) if cfg.out_dir else Path("outputs") / "search" / study_name(cfg)


class Search:
    """A study's constant parts, as every worker builds them from the search config: the space, the objectives,
    how a job config is composed (with the user's `consent`), where it lives."""

    def __init__(self, cfg: DictConfig, consent: Consent = Consent()):
        from audiovae.cli import job_config

        self.cfg, self.search, self.consent = cfg, cfg.search, consent
        if self.search.job not in JOBS:
            raise ConfigError(f"config key 'search.job': one of {', '.join(JOBS)}, got {self.search.job!r}")
        if self.search.trials < 1:
            raise ConfigError(f"config key 'search.trials': at least 1, got {self.search.trials}")
        self.dimensions = parse_space(OmegaConf.to_container(self.search.space), self.search.job)
        self.name, self.out_dir = study_name(cfg), study_dir(cfg).resolve()
        self.compose_job = lambda config, words: job_config(
            self.search.job, config, words, consent.trust, consent.typed, (consent.source,)
        )
        base = self.compose_job(self.search.config, list(self.search.overrides))  # refused here, before a trial
        if self.search.job == "eval" and base.get("sweep"):
            raise ConfigError("config key 'search.overrides': a trial is one setting; leave sweep.* to the space")
        self.base = base
        if self.search.job == "train":  # the monitored validation metric, in its direction
            monitor = base.checkpoint.monitor
            if list(self.search.objectives) not in ([], [monitor]):
                raise ConfigError(
                    f"config key 'search.objectives': a training study optimises checkpoint.monitor ({monitor}); "
                    "set that instead"
                )
            self.objectives, self.select = [monitor], None
            self.directions = ["minimize" if base.checkpoint.mode == "min" else "maximize"]
        else:  # improvements over base, each maximised
            from audiovae.runs.selection import check_selection

            self.objectives = list(self.search.objectives) or [base.select.metric]
            for metric in self.objectives:
                empty = OmegaConf.create({"metric": metric, "guards": [], "min_improvement": {}})
                check_selection(empty, list(base.metrics.names))
            self.select, self.directions = base.select, ["maximize"] * len(self.objectives)
        self.budget = int(self.search.trials)
        if self.search.sampler == "grid":
            self.budget = min(self.budget, math.prod(len(values) for values in grid(self.dimensions).values()))

    @property
    def group(self) -> str:
        """The W&B group of the study's runs (every trial and the summary)."""
        return self.name if self.name.startswith("search-") else f"search-{self.name}"

    def study(self, worker: int = 0):
        """The study in its storage (created by the first worker), with worker `worker`'s sampler."""
        return open_study(self.search, self.name, self.out_dir, self.dimensions, self.directions, worker)


def _same_values(study, trial, run_hash: str, out_dir: Path):
    """The finished trial with the same run (None: none); waits while another worker runs it (and hands it back,
    under the study's lock, if that worker dies)."""
    from optuna.trial import TrialState

    while True:
        same = [
            t
            for t in study.get_trials(deepcopy=False)
            if t.number != trial.number and t.user_attrs.get("run_hash") == run_hash
        ]
        done = [t for t in same if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
        if done:
            return done[0]
        if not any(t.state == TrialState.RUNNING for t in same):
            return None
        time.sleep(WAIT_S)
        with budget_lock(out_dir):
            hand_back_stale_trials(study)


def tell(study, trial, values=None, state=None) -> None:
    """`study.tell`, where the grid sampler's `study.stop()` at the grid's last point (which Optuna allows only inside
    `optimize`) is not an error: the trial is stored before it, and the budget ends the workers' loop."""
    try:
        study.tell(trial, values, state=state)
    except RuntimeError as err:
        if "Study.stop" not in str(err):
            raise


def run_one(search: Search, study, trial) -> None:
    """Draw, run and tell one trial."""
    from optuna.trial import TrialState

    values = draw(trial, search.dimensions)
    words = job_words(values, search.dimensions)
    run_dir, hash_ = trial_folder(search.search, words, search.out_dir, search.compose_job)
    trial.set_user_attr("run_hash", hash_)
    trial.set_user_attr("run_dir", str(run_dir.relative_to(search.out_dir)))
    trial.set_user_attr("words", words)
    same = _same_values(study, trial, hash_, search.out_dir)
    if same is not None:  # these values ran: their run is this trial's
        trial.set_user_attr("same_as", same.number)
        for key in ("steps", "seconds", "pruned_at", "pruned_because"):
            if key in same.user_attrs:
                trial.set_user_attr(key, same.user_attrs[key])
        if same.state == TrialState.PRUNED:
            tell(study, trial, state=TrialState.PRUNED)
        else:
            tell(study, trial, same.values)
        return
    if search.search.job == "train":
        monitor = search.objectives[0]
        run = run_train_trial(trial, search.search, words, run_dir, monitor, search.compose_job, search.group)
    else:
        run = run_eval_trial(trial, search.search, words, run_dir, search.objectives, search.compose_job, search.group)
    trial.set_user_attr("steps", run.steps)
    trial.set_user_attr("seconds", round(run.seconds, 3))
    if run.values is None:
        trial.set_user_attr("pruned_at", run.pruned_at)
        why = (
            f"pruned at step {run.pruned_at} after {run.steps} validations: behind the other trials there"
            if search.search.job == "train"
            else f"pruned after {run.steps} files: worse than the best trial on the same files"
        )
        trial.set_user_attr("pruned_because", why)
        tell(study, trial, state=TrialState.PRUNED)
    else:
        tell(study, trial, run.values)


def work(cfg: dict, consent: Consent = Consent(), threads: Optional[int] = None, worker: int = 0) -> int:
    """Worker number `worker` (its sampler's seed: search.seed + worker): trials until the study has its budget.
    Returns the trials it ran."""
    import torch

    if threads:
        torch.set_num_threads(threads)
    from optuna.trial import TrialState

    search = Search(OmegaConf.create(cfg), consent)
    study = search.study(worker)
    ran = 0
    while True:
        with budget_lock(search.out_dir):
            hand_back_stale_trials(study)
            if counted(study) >= search.budget:
                return ran
            trial = study.ask()
            trial.set_user_attr("worker", worker_id())
        try:
            run_one(search, study, trial)
        except Exception as err:  # a trial's own failure: recorded, counted, the study goes on
            reason = f"{type(err).__name__}: {err}".splitlines()[0]
            if study.get_trials(deepcopy=False)[trial.number].state.is_finished():
                raise  # not the trial's: this worker's own bookkeeping failed
            trial.set_user_attr("error", reason)
            tell(study, trial, state=TrialState.FAIL)
            print(f"trial {trial.number} failed: {reason}", file=sys.stderr)
            if os.environ.get("AUDIOVAE_DEBUG"):
                traceback.print_exc()
        ran += 1


def _worker(cfg: dict, consent: Consent, threads: int, worker: int) -> None:
    from audiovae.cli import _quiet_libraries

    _quiet_libraries()
    work(cfg, consent, threads, worker)


def run_workers(cfg: DictConfig, workers: int, consent: Consent = Consent(), first: int = 0) -> None:
    """`workers` processes (spawned: each its own torch) sharing the machine's cores, or this process for one;
    numbered from `first` (their samplers' seeds: search.seed + number)."""
    plain = OmegaConf.to_container(cfg, resolve=True)
    if workers <= 1:
        work(plain, consent, worker=first)
        return
    threads = max(1, (os.cpu_count() or 1) // workers)
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_worker, args=(plain, consent, threads, first + i)) for i in range(workers)]
    for p in processes:
        p.start()
    for p in processes:
        p.join()


def main(argv: Sequence[str]) -> int:
    """`audiovae-search [--config NAME] [--workers N] [--trust-code] [key=value ...]`."""
    from audiovae.cli import _quiet_libraries

    _quiet_libraries()
    parser = argparse.ArgumentParser(
        prog="audiovae-search",
        description="audiovae search: an Optuna study of a job's settings (docs: Search). search.* and out_dir= "
        "words set the study (search.trials=40); every other word is the job's, for every trial (data.dir=/x)",
    )
    parser.add_argument("--config", default="search", help="a search config in configs/ or a YAML file")
    parser.add_argument("--workers", type=int, default=1, help="worker processes on this machine (default 1)")
    parser.add_argument(
        "--first-worker",
        type=int,
        default=0,
        help="the number of this command's first worker (its sampler draws with search.seed + number): give each "
        "machine that joins a study its own range, e.g. 0 here, 4 on the next machine with --workers 4",
    )
    parser.add_argument("--trust-code", action="store_true", help="run code the job's config names (plugins)")
    parser.add_argument("overrides", nargs="*", help="search.key=value (the study) or key=value (the job's)")
    args = parser.parse_args(argv)

    def run() -> int:
        from audiovae.home import check_home
        from audiovae.search.outputs import write_study_outputs

        check_home()
        if args.workers < 1:
            raise ConfigError(f"--workers: at least 1, got {args.workers}")
        cfg = compose_search(args.config, args.overrides)
        consent = Consent(args.trust_code, args.config, tuple(job_words_of(args.overrides)))
        search = Search(cfg, consent)  # every one-line config error before a worker starts
        search.study()
        run_workers(cfg, args.workers, consent, args.first_worker)
        best = write_study_outputs(search)
        print(f"study {search.name}: {search.out_dir / 'study.html'}; " + best)
        return 0

    return exit_status(run)
