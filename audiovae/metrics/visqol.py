"""ViSQOL v3 (Chinen et al. 2020), the perceptual quality model codec papers report, through visqol-python (a pure
Python port of Google's C++ ViSQOL with its bundled models: no download).

`visqol` (MOS-LQO, higher is better): `VisqolApi.measure_from_arrays(x, y, rate).moslqo` after both signals are
resampled (soxr HQ) to the rate of the mode, as the protocol requires:

- `mode: audio` (default): 48 kHz, the SVR model of ViSQOL Audio. Its ceiling is 4.73, not 5: identical signals
  score 4.7321 (the package's own conformance value).
- `mode: speech`: 16 kHz, the deep-lattice mapping of ViSQOL v3's speech mode (the C++ default), for speech only.

A file is scored whole (its signals held while it is measured, as for pesq_wb); ViSQOL aligns the pair itself.
"""

import math
from contextlib import contextmanager
from functools import lru_cache
from typing import ClassVar, Iterator, Literal

import numpy as np
import soxr
from torch import Tensor

from audiovae.metrics.base import ABSOLUTE, HIGHER
from audiovae.metrics.perceptual import WholeSignalMetric, readying_tone
from audiovae.metrics.table import register_metric

MODE_RATES = {"audio": 48000, "speech": 16000}
CEILINGS = {"audio": 4.7321}  # what identical signals score


@contextmanager
def one_numba_thread() -> Iterator[None]:
    """visqol-python's parallel numba kernels sum in an order that depends on their thread count (the same pair
    scored 4.49999 on two threads, 4.50014 on one): one thread, so a value does not depend on the machine's cores or
    on the process that computes it. Numba's OpenMP layer shares the OpenMP runtime with torch, so starting numba's
    pool or setting its count sets torch's too: both are put back as they were (restoring numba's alone left the
    model on two threads after the first ViSQOL score)."""
    import torch

    torch_before = torch.get_num_threads()  # first: numba's first call starts its pool and sets the count
    import numba

    before = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(before)
        torch.set_num_threads(torch_before)


@lru_cache(maxsize=2)
def visqol_api(mode: str):
    """visqol-python's `VisqolApi` created for `mode` (once per process) and run once on a second of a tone: a
    process's first score differs from its later ones in the last digits (1e-14), so without it the same pair could
    score differently in a fresh process than in a metric worker that had scored before."""
    from visqol import VisqolApi

    api = VisqolApi()
    api.create(mode=mode)
    rate = MODE_RATES[mode]
    tone = readying_tone(rate, rate)
    with one_numba_thread():
        api.measure_from_arrays(tone, 0.9 * tone, rate)
    return api


class ViSQOL(WholeSignalMetric):
    """ViSQOL v3's MOS-LQO of the estimate against the reference, in `mode` "audio" (48 kHz) or "speech" (16 kHz)."""

    name, direction, unit, delta_kind = "visqol", HIGHER, "MOS", ABSOLUTE
    nan_reason = "ViSQOL could not score this pair"
    scale_note: ClassVar[str] = (
        "ViSQOL audio mode (48 kHz) scores identical signals 4.73, its ceiling, not 5; speech mode (16 kHz) is "
        "for speech only"
    )

    def __init__(self, sample_rate: int, mode: Literal["audio", "speech"] = "audio", **kwargs):
        super().__init__(sample_rate, **kwargs)
        self.mode = mode

    @property
    def min_samples(self) -> int:
        return self.sample_rate if self.mode == "audio" else self.sample_rate // 2  # its patches (audio: 0.95 s fails)

    def api(self):
        """The ViSQOL instance of this metric's mode (one per process and mode: its models load from the package)."""
        return visqol_api(self.mode)

    def score(self, y: Tensor, x: Tensor) -> float:
        """MOS-LQO of estimate `y` against reference `x` (whole mono signals at `sample_rate`)."""
        rate = MODE_RATES[self.mode]
        ref, deg = (s.double().numpy() for s in (x, y))
        if self.sample_rate != rate:
            ref, deg = (soxr.resample(s, self.sample_rate, rate, quality="HQ") for s in (ref, deg))
        return self.measure(ref, deg)

    def measure(self, reference: np.ndarray, degraded: np.ndarray) -> float:
        """MOS-LQO of `degraded` against `reference`, both already at the mode's rate (NaN where ViSQOL gives none)."""
        arrays = (np.ascontiguousarray(s, dtype=np.float64) for s in (reference, degraded))
        with one_numba_thread():
            value = self.api().measure_from_arrays(*arrays, MODE_RATES[self.mode]).moslqo
        return float(value) if math.isfinite(value) else math.nan


register_metric("visqol", ViSQOL)
