"""Perceptual metrics of the speech field, through torchmetrics (their reference packages `pesq` and `pystoi`):
defined on whole signals, so a file's pair is kept whole until its value is computed."""

from typing import Callable

import torch
from torch import Tensor

from audiovae.metrics.base import ABSOLUTE, HIGHER, PerItemMetric, check_rate
from audiovae.metrics.functional.items import Accumulator, nan64
from audiovae.metrics.table import register_metric


class WholeSignal(Accumulator):
    """Collects a pair's chunks and applies `fn(y, x)` to the whole signals (NaN where `fn` raises: e.g. PESQ on a
    clip without speech-like activity)."""

    def __init__(self, fn: Callable[[Tensor, Tensor], Tensor]):
        self.fn, self.ys, self.xs = fn, [], []

    def update(self, y: Tensor, x: Tensor) -> "WholeSignal":
        self.ys.append(y.detach().float().cpu().reshape(-1))
        self.xs.append(x.detach().float().cpu().reshape(-1))
        return self

    def value(self) -> Tensor:
        y, x = torch.cat(self.ys), torch.cat(self.xs)
        try:
            return torch.as_tensor(self.fn(y, x), dtype=torch.float64).reshape(())
        except Exception:  # the packages raise their own error types (NoUtterancesError, ValueError, ...)
            return nan64()


class PESQ(PerItemMetric):
    """Wide-band PESQ (ITU-T P.862.2), MOS-LQO from 1.04 to 4.64: torchmetrics'
    `perceptual_evaluation_speech_quality(y, x, 16000, "wb")`. Defined at 16 kHz only."""

    name, direction, unit, delta_kind = "pesq_wb", HIGHER, "MOS", ABSOLUTE
    is_differentiable = False
    nan_reason = "PESQ found no speech-like activity in the reference (silence, or too short)"

    def __init__(self, sample_rate: int, **kwargs):
        check_rate(self.name, sample_rate, 16000)
        super().__init__(**kwargs)
        self.sample_rate = sample_rate

    @property
    def min_samples(self) -> int:
        return self.sample_rate // 4  # PESQ needs at least a quarter second

    def accumulator(self) -> WholeSignal:
        from torchmetrics.functional.audio import perceptual_evaluation_speech_quality

        return WholeSignal(lambda y, x: perceptual_evaluation_speech_quality(y, x, self.sample_rate, "wb"))


class STOI(PerItemMetric):
    """Short-time objective intelligibility (Taal et al. 2011), 0–1: torchmetrics'
    `short_time_objective_intelligibility(y, x, sample_rate)` (pystoi; resamples to 10 kHz internally)."""

    name, direction, unit, delta_kind = "stoi", HIGHER, "", ABSOLUTE
    is_differentiable = False
    nan_reason = "pystoi failed on this pair"  # a reference without frames above its silence threshold scores 0

    def __init__(self, sample_rate: int, **kwargs):
        super().__init__(**kwargs)
        self.sample_rate = sample_rate

    @property
    def min_samples(self) -> int:
        return self.sample_rate // 4

    def accumulator(self) -> WholeSignal:
        from torchmetrics.functional.audio import short_time_objective_intelligibility

        return WholeSignal(lambda y, x: short_time_objective_intelligibility(y, x, self.sample_rate))


register_metric("pesq_wb", PESQ)
register_metric("stoi", STOI)
