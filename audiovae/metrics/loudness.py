"""Loudness: ITU-R BS.1770-4 integrated loudness (LUFS) through pyloudnorm, the reference implementation the field
uses (K-weighting designed for the signal's rate, 400 ms blocks with 75 % overlap, the −70 LUFS absolute and the
−10 LU relative gate).

`loudness_error` (LU, lower is better, 0 when a reconstruction is exactly as loud as the reference):
|L(y) − L(x)|, L = `pyloudnorm.Meter(sample_rate).integrated_loudness`. A file of several channels is measured per
channel and averaged, as every waveform metric (BS.1770 itself would sum the channels' powers).

>>> import numpy as np, torch
>>> t = np.arange(16000) / 16000
>>> x = torch.from_numpy(0.5 * np.sin(2 * np.pi * 1000 * t))
>>> round(float(LoudnessError(16000).per_item(x[None] / 2, x[None], None)), 2)  # half the amplitude: 6.02 LU
6.02
"""

import math

import numpy as np
from torch import Tensor

from audiovae.metrics.base import ABSOLUTE, LOWER
from audiovae.metrics.perceptual import WholeSignalMetric
from audiovae.metrics.table import register_metric

BLOCK_S = 0.4  # BS.1770's gating block: shorter signals have no integrated loudness


def integrated_loudness(wave: Tensor, sample_rate: int) -> float:
    """BS.1770-4 integrated loudness (LUFS) of `wave` (`[S]` or `[S, C]`, pyloudnorm); NaN where it has none."""
    import pyloudnorm

    value = pyloudnorm.Meter(sample_rate).integrated_loudness(wave.double().numpy())
    return float(value) if np.isfinite(value) else math.nan


class LoudnessError(WholeSignalMetric):
    """|integrated loudness of y − that of x| in LU (BS.1770-4, pyloudnorm)."""

    name, direction, unit, delta_kind = "loudness_error", LOWER, "LU", ABSOLUTE
    nan_reason = "shorter than one 400 ms block, or silent below the −70 LUFS gate"
    plot_lower_bound = 0.0

    @property
    def min_samples(self) -> int:
        return math.ceil(BLOCK_S * self.sample_rate) + 1

    def score(self, y: Tensor, x: Tensor) -> float:
        """|L(y) − L(x)| in LU (NaN where either has no integrated loudness)."""
        return abs(integrated_loudness(y, self.sample_rate) - integrated_loudness(x, self.sample_rate))


register_metric("loudness_error", LoudnessError)
