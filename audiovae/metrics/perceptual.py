"""Perceptual metrics of the speech field, through torchmetrics (their reference packages `pesq` and `pystoi`):
defined on whole signals, so a file's pair is kept whole until its value is computed."""

from concurrent.futures import Executor, Future
from typing import Callable, Optional

import numpy as np
import torch
from torch import Tensor

from audiovae.metrics.base import ABSOLUTE, HIGHER, PerItemMetric, check_rate
from audiovae.metrics.functional.items import Accumulator
from audiovae.metrics.table import register_metric


def readying_tone(rate: int, samples: int) -> np.ndarray:
    """`samples` of a 440 Hz tone at `rate` under a 3 Hz swell: what a model scores once to be ready (its packages
    imported, its kernels compiled) before the first file."""
    t = np.arange(samples) / rate
    return 0.3 * np.sin(2 * np.pi * 440 * t) * (1 + np.sin(2 * np.pi * 3 * t))


def computed(fn: Callable[[Tensor, Tensor], Tensor], y: Tensor, x: Tensor) -> float:
    """`fn(y, x)` as a float, NaN where `fn` raises (the packages raise their own error types: NoUtterancesError,
    ValueError, ...), in whichever process computes it, with the BLAS on one thread: a sum's order, and so its last
    digit, then does not depend on the process (a metric worker runs on one thread) or the machine's cores."""
    from threadpoolctl import threadpool_limits

    try:
        with threadpool_limits(limits=1, user_api="blas"):
            return float(torch.as_tensor(fn(y, x), dtype=torch.float64).reshape(()))
    except Exception:
        return float("nan")


class WholeSignal(Accumulator):
    """Collects a pair's chunks and applies `fn(y, x)` to the whole signals (NaN where `fn` raises: e.g. PESQ on a
    clip without speech-like activity). `submit(pool)` hands the computation to a worker process (`fn` must then
    pickle: a metric's method or a module's function); `value()` waits for it there, and a pool that could not
    compute it (`fn` does not pickle, a worker died) raises instead of giving NaN."""

    def __init__(self, fn: Callable[[Tensor, Tensor], Tensor]):
        self.fn, self.ys, self.xs = fn, [], []
        self.future: Optional[Future] = None

    def update(self, y: Tensor, x: Tensor) -> "WholeSignal":
        self.ys.append(y.detach().float().cpu().reshape(-1))
        self.xs.append(x.detach().float().cpu().reshape(-1))
        return self

    def submit(self, pool: Executor) -> Future:
        """Start `fn` on the whole signals in `pool`; the chunks are let go."""
        y, x = torch.cat(self.ys), torch.cat(self.xs)
        self.ys, self.xs = [], []
        self.future = pool.submit(computed, self.fn, y, x)
        return self.future

    def value(self) -> Tensor:
        if self.future is not None:
            result = self.future.result()
        else:
            result = computed(self.fn, torch.cat(self.ys), torch.cat(self.xs))
        return torch.tensor(result, dtype=torch.float64)


class WholeSignalMetric(PerItemMetric):
    """A metric computed by `score(y, x)` on a file's whole signals once it has ended (`WholeSignal`; the computation
    a metric pool may take over): not differentiable, defined from a quarter second unless a subclass says more."""

    is_differentiable = False

    def __init__(self, sample_rate: int, **kwargs):
        super().__init__(**kwargs)
        self.sample_rate = sample_rate

    @property
    def min_samples(self) -> int:
        return self.sample_rate // 4

    def score(self, y: Tensor, x: Tensor):  # pragma: no cover
        """The value for the whole estimate `y` and reference `x` (a number; raising means NaN)."""
        raise NotImplementedError

    def accumulator(self) -> WholeSignal:
        return WholeSignal(self.score)


class PESQ(WholeSignalMetric):
    """Wide-band PESQ (ITU-T P.862.2), MOS-LQO from 1.04 to 4.64: torchmetrics'
    `perceptual_evaluation_speech_quality(y, x, 16000, "wb")`. Defined at 16 kHz only."""

    name, direction, unit, delta_kind = "pesq_wb", HIGHER, "MOS", ABSOLUTE
    speech_only = True
    nan_reason = "PESQ found no speech-like activity in the reference (silence, or too short)"

    def __init__(self, sample_rate: int, **kwargs):
        check_rate(self.name, sample_rate, 16000)
        super().__init__(sample_rate, **kwargs)

    def score(self, y: Tensor, x: Tensor) -> Tensor:
        """Wide-band PESQ of `y` against `x` (whole signals)."""
        from torchmetrics.functional.audio import perceptual_evaluation_speech_quality

        return perceptual_evaluation_speech_quality(y, x, self.sample_rate, "wb")


class STOI(WholeSignalMetric):
    """Short-time objective intelligibility (Taal et al. 2011), 0–1: torchmetrics'
    `short_time_objective_intelligibility(y, x, sample_rate)` (pystoi; resamples to 10 kHz internally)."""

    name, direction, unit, delta_kind = "stoi", HIGHER, "", ABSOLUTE
    speech_only = True
    nan_reason = "pystoi failed on this pair"  # a reference without frames above its silence threshold scores 0

    def score(self, y: Tensor, x: Tensor) -> Tensor:
        """STOI of `y` against `x` (whole signals)."""
        from torchmetrics.functional.audio import short_time_objective_intelligibility

        return short_time_objective_intelligibility(y, x, self.sample_rate)


register_metric("pesq_wb", PESQ)
register_metric("stoi", STOI)
