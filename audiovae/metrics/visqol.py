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
from typing import ClassVar, Literal

import numpy as np
import soxr
from torch import Tensor

from audiovae.metrics.base import ABSOLUTE, HIGHER, PerItemMetric
from audiovae.metrics.perceptual import WholeSignal
from audiovae.metrics.table import register_metric

MODE_RATES = {"audio": 48000, "speech": 16000}
CEILINGS = {"audio": 4.7321}  # what identical signals score


class ViSQOL(PerItemMetric):
    """ViSQOL v3's MOS-LQO of the estimate against the reference, in `mode` "audio" (48 kHz) or "speech" (16 kHz)."""

    name, direction, unit, delta_kind = "visqol", HIGHER, "MOS", ABSOLUTE
    is_differentiable = False
    nan_reason = "ViSQOL could not score this pair (too short for one of its patches)"
    scale_note: ClassVar[str] = (
        "ViSQOL audio mode (48 kHz) scores identical signals 4.73, its ceiling, not 5; speech mode (16 kHz) is "
        "for speech only"
    )

    def __init__(self, sample_rate: int, mode: Literal["audio", "speech"] = "audio", **kwargs):
        super().__init__(**kwargs)
        self.sample_rate, self.mode = sample_rate, mode
        self._api = None

    @property
    def min_samples(self) -> int:
        return self.sample_rate // 2  # ViSQOL's patches need about half a second

    def api(self):
        """The ViSQOL instance of this metric's mode, created once (its models load from the package)."""
        if self._api is None:
            from visqol import VisqolApi

            self._api = VisqolApi()
            self._api.create(mode=self.mode)
        return self._api

    def score(self, y: Tensor, x: Tensor) -> float:
        """MOS-LQO of estimate `y` against reference `x` (whole mono signals at `sample_rate`)."""
        rate = MODE_RATES[self.mode]
        ref, deg = (s.double().numpy() for s in (x, y))
        if self.sample_rate != rate:
            ref, deg = (soxr.resample(s, self.sample_rate, rate, quality="HQ") for s in (ref, deg))
        value = self.api().measure_from_arrays(np.ascontiguousarray(ref), np.ascontiguousarray(deg), rate).moslqo
        return float(value) if math.isfinite(value) else math.nan

    def accumulator(self) -> WholeSignal:
        return WholeSignal(self.score)


register_metric("visqol", ViSQOL)
