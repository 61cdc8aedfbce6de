"""One trial: an ordinary run of the study's job with the trial's values, in the run folder its run hash names, so
that its `config.yaml` reproduces it alone, the same values never run twice, and an interrupted trial resumes (an
evaluation from its stored rows, a training from its `last.ckpt`).

An evaluation trial reports, file by file in the study's fixed file order, how much the enhanced decode improves on
the base in the first objective (the per-file improvement, positive = better, as the verdicts use it), and is pruned
there when the pruner says so (`WilcoxonPruner`: a paired signed-rank test against the best trial over the same
files). Its values are the improvements of its summary (`runs.selection.metric_improvement`).

A training trial reports its monitored validation metric (`checkpoint.monitor`) at every validation, step = the
global step, and is pruned there (median or Hyperband); its value is the best score of that metric.
"""

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence

from omegaconf import DictConfig

TRIALS = "trials"  # <out_dir>/trials/<run hash>/: one run folder per distinct trial


@dataclass
class TrialRun:
    """What a trial's run gave: its objective values (None: pruned), the reports it made (files or validations),
    the seconds it took and where it was pruned."""

    values: Optional[list[float]]
    steps: int
    seconds: float
    pruned_at: Optional[int] = None


def job_config(search: DictConfig, words: Sequence[str], out_dir: Optional[Path], compose_job: Callable) -> DictConfig:
    """The job's config for `words` (the study's overrides, then the trial's), writing into `out_dir`."""
    extra = [f"out_dir={out_dir}"] if out_dir is not None else []
    return compose_job(search.config, [*search.overrides, *words, *extra])


def trial_folder(search: DictConfig, words: Sequence[str], out_dir: Path, compose_job: Callable) -> tuple[Path, str]:
    """(the trial's run folder under `out_dir/trials/`, its run hash): the same values give the same folder."""
    from audiovae.runs.folders import run_hash

    cfg = job_config(search, words, None, compose_job)
    hash_ = run_hash(cfg, ignored_keys(search.job))
    return out_dir / TRIALS / hash_, hash_


def ignored_keys(job: str) -> tuple:
    """The config keys that do not change a `job` run's results (its run hash leaves them out)."""
    if job == "train":
        from audiovae.training.run import TRAIN_IGNORE

        return TRAIN_IGNORE
    from audiovae.runs.settings import EVAL_IGNORE

    return EVAL_IGNORE


def improvements(summary: dict, objectives: Sequence[str]) -> list[float]:
    """The summary's improvement over base in each objective (headline Δ signed so that positive is better)."""
    from audiovae.runs.selection import metric_improvement

    return [float(metric_improvement(summary, name)) for name in objectives]


def run_eval_trial(
    trial,
    search: DictConfig,
    words: Sequence[str],
    run_dir: Path,
    objectives: Sequence[str],
    compose_job: Callable,
    group: str,
) -> TrialRun:
    """Evaluate the trial's setting into `run_dir`, reporting each file's improvement in `objectives[0]` to `trial`
    (step = the file's position in the study's file order) and stopping when the pruner prunes it."""
    import optuna

    from audiovae.evaluation.job import run_evaluation
    from audiovae.reporting.records import OK, file_improvement

    logger = [f"logger.group={group}", f"logger.name=trial-{trial.number}"]
    cfg = job_config(search, [*words, *logger], run_dir, compose_job)
    first, reported, position = objectives[0], [], iter(range(1 << 62))
    prunable = len(objectives) == 1

    def observe(setting: str, result) -> None:  # results arrive in the file order (stored ones first)
        step = next(position)
        if result.status != OK:
            return
        gain = file_improvement(first, result.value("base", first), result.value("enhanced", first))
        if gain is None:
            return
        trial.report(gain, step=step)
        reported.append(step)
        if prunable and trial.should_prune():
            raise optuna.TrialPruned(f"worse than the best trial after {len(reported)} files")

    start = time.perf_counter()
    try:
        outcome = run_evaluation(cfg, observe)
    except optuna.TrialPruned:
        return TrialRun(None, len(reported), time.perf_counter() - start, pruned_at=len(reported))
    summary = json.loads((outcome.out_dir / "summary.json").read_text())
    return TrialRun(improvements(summary, objectives), len(reported), time.perf_counter() - start)


def validation_reporter(trial, monitor: str):
    """A Lightning callback that reports `monitor` to `trial` after every validation (step = the global step) and
    stops the training by raising `TrialPruned` when the pruner prunes it."""
    import optuna
    import pytorch_lightning as pl

    class ReportValidation(pl.Callback):
        def __init__(self):
            self.steps, self.last_step = 0, None

        def on_validation_end(self, trainer, pl_module) -> None:
            value = trainer.callback_metrics.get(monitor)
            if trainer.sanity_checking or value is None or trainer.global_step == self.last_step:
                return
            self.steps, self.last_step = self.steps + 1, trainer.global_step
            trial.report(float(value), step=trainer.global_step)
            if trial.should_prune():
                raise optuna.TrialPruned(f"{monitor} behind the other trials at step {trainer.global_step}")

    return ReportValidation()


def run_train_trial(
    trial, search: DictConfig, words: Sequence[str], run_dir: Path, monitor: str, compose_job: Callable, group: str
) -> TrialRun:
    """Train the trial's setting into `run_dir` (continuing from its last.ckpt when a worker stopped mid-trial),
    reporting `monitor` at every validation."""
    import optuna

    from audiovae.training.run import run_training

    resume = ["resume=true"] if list((run_dir / "checkpoints").glob("*.ckpt")) else []
    logger = [f"logger.group={group}", f"logger.name=trial-{trial.number}"]
    cfg = job_config(search, [*words, *logger, *resume], run_dir, compose_job)
    reporter = validation_reporter(trial, monitor)
    start = time.perf_counter()
    try:
        outcome = run_training(cfg, [reporter])
    except optuna.TrialPruned:
        return TrialRun(None, reporter.steps, time.perf_counter() - start, pruned_at=reporter.last_step)
    if outcome.best_score is None:
        raise RuntimeError(f"the training validated no {monitor}: nothing to compare")
    return TrialRun([float(outcome.best_score)], reporter.steps, time.perf_counter() - start)
