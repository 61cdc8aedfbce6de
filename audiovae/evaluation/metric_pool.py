"""Worker processes for the metrics computed on whole signals (`WholeSignal`: pesq_wb, stoi, visqol, loudness_error,
the MOS predictors): CPU-bound and computed once a file has ended, they run in `metrics.workers` processes while the
model encodes and decodes the next files (the pattern of DAC's evaluation script). The file's row waits for them;
rows stay in file order (`streaming.PendingFiles`); besides the files of the batch the model has just run, at most
two files per worker wait (their signals are held); a file is written, and can be resumed from, only once its
values are in. The values are the inline ones: the same functions on the same float32 signals.

`metrics.workers`: 0 (default) computes them in this process; N starts N; null starts half the machine's cores (at
most AUTO_MAX_WORKERS) when the run names such a metric and the machine has at least AUTO_MIN_CORES cores, none
otherwise (the model takes every core it is given; docs/benchmarks.md has the 2-core measurement with the model on
one thread).

Workers are spawned (not forked: the parent's torch and OpenMP threads do not fork safely), each on one intra-op
thread, and import what a metric needs once.
"""

import os
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from multiprocessing import get_context
from typing import Iterator, Mapping, Optional, Sequence

from audiovae.metrics.base import PerItemMetric
from audiovae.metrics.perceptual import WholeSignal

AUTO_MIN_CORES = 4  # metrics.workers=null: workers only on machines with at least this many cores ...
AUTO_MAX_WORKERS = 4  # ... half of them, at most this many


ONE_THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")  # read by the BLAS at its import


class MetricPool(ProcessPoolExecutor):
    """A process pool that knows its size (`workers`)."""

    def __init__(self, workers: int, metrics: Sequence[PerItemMetric] = ()):
        super().__init__(max_workers=workers, mp_context=get_context("spawn"), initializer=_one_thread)
        self.workers = workers
        with _environment({name: "1" for name in ONE_THREAD_ENV}):  # inherited by the workers spawned here
            for _ in range(workers):  # the workers start and ready `metrics` while the model loads and starts
                self.submit(_warm_up, list(metrics))


@contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    """`values` in os.environ for the duration (what a process spawned meanwhile inherits), then as before."""
    before = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _one_thread() -> None:
    """A worker computes on one thread (numba's, torch's; its BLAS from ONE_THREAD_ENV): the model keeps the other
    cores. Several threads per worker would compete with the model's (OpenBLAS' threads spin while they wait).
    Numba first: starting its OpenMP pool sets the count of the runtime torch shares."""
    try:
        import numba
    except ImportError:  # pragma: no cover - numba comes with librosa
        numba = None
    if numba is not None:
        numba.set_num_threads(1)
    import torch

    torch.set_num_threads(1)


def _warm_up(metrics: Sequence[PerItemMetric]) -> None:
    """Import every metric family and score each of `metrics` once on a second of a tone (their packages imported,
    their models loaded, numba's kernels compiled or read from its cache), so the first file's metrics start at once."""
    import torch

    import audiovae.metrics.registry  # noqa: F401
    from audiovae.metrics.perceptual import readying_tone

    for metric in metrics:
        rate = metric.sample_rate
        tone = torch.from_numpy(readying_tone(rate, max(rate, metric.min_samples))).float()
        try:
            metric.score(tone * 0.9, tone)
        except Exception:  # a metric that cannot score a tone is ready all the same
            pass


def whole_signal_metrics(metrics: Mapping[str, PerItemMetric]) -> list[str]:
    """The metrics among `metrics` computed on whole signals at a file's end (what the pool computes)."""
    return [name for name, metric in metrics.items() if isinstance(metric.accumulator(), WholeSignal)]


def pool_workers(setting: Optional[int], metrics: Mapping[str, PerItemMetric]) -> int:
    """How many worker processes `metrics.workers` = `setting` means for a run measuring `metrics`."""
    if setting == 0 or not whole_signal_metrics(metrics):
        return 0
    if setting is None:
        cores = os.cpu_count() or 1
        return min(AUTO_MAX_WORKERS, cores // 2) if cores >= AUTO_MIN_CORES else 0
    return setting


@contextmanager
def metric_pool(setting: Optional[int], metrics: Mapping[str, PerItemMetric]) -> Iterator[Optional[MetricPool]]:
    """The pool of a run (None: the metrics are computed in this process), shut down when the run ends."""
    workers = pool_workers(setting, metrics)
    if not workers:
        yield None
        return
    whole = whole_signal_metrics(metrics)
    pool = MetricPool(workers, [metrics[name] for name in whole])
    try:
        yield pool
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
