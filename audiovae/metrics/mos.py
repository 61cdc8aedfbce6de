"""Reference-free MOS predictors of speech: neural models that predict what listeners would rate a clip (1–5),
from the ONNX files that ship inside the `speechmos` package (Microsoft's DNSMOS and PLCMOS), run by onnxruntime
on the CPU: nothing is downloaded.

- `dnsmos_sig`, `dnsmos_bak`, `dnsmos_ovrl` (DNSMOS P.835: speech signal, background, overall quality) and
  `dnsmos_p808` (DNSMOS P.808, overall): speechmos' `DNSMOS(...)(audio, 16000, personalized)`: 9.01 s windows
  hopped by 1 s (a shorter clip repeated to that length), each window's predictions averaged; P.835's raw outputs
  mapped by DNSMOS' polynomials (`metrics.dnsmos.personalized`: the personalized model, which penalises interfering
  talkers).
- `plcmos` (PLCMOS v2, packet-loss concealment quality): speechmos' `PLCMOS()(audio)`, the mean of 15 predictions
  for random rater embeddings; drawn here from a seeded generator, so a run repeats (unseeded, speechmos' own
  value of one clip moves by a few hundredths between calls).

Each reads only the estimate (the reference is not needed: usable in generation), at 16 kHz (soxr HQ from another
rate), clipped to [−1, 1] as a 16-bit file would be. Their domain is speech: on music or effects they still give a
number, which means little (the docs and the report say so). A clip's models run once for all four DNSMOS scores.
"""

import hashlib
import math
from collections import OrderedDict
from functools import lru_cache
from typing import ClassVar, Literal

import numpy as np
import soxr
from torch import Tensor

from audiovae.metrics.base import ABSOLUTE, HIGHER
from audiovae.metrics.perceptual import WholeSignalMetric
from audiovae.metrics.table import register_metric

RATE = 16000  # the models' rate
PLCMOS_SEED = 0  # PLCMOS averages 15 predictions for random rater embeddings (numpy's global generator): seeded
SPEECH_ONLY = "a speech model: on music or effects its number means little"


def prepared(y: Tensor, sample_rate: int) -> np.ndarray:
    """The estimate as the models read it: float64 mono at 16 kHz, clipped to [−1, 1]."""
    audio = y.double().numpy().reshape(-1)
    if sample_rate != RATE:
        audio = soxr.resample(audio, sample_rate, RATE, quality="HQ")
    return np.clip(audio, -1.0, 1.0)


@lru_cache(maxsize=2)
def _dnsmos(personalized: bool):
    import os

    from speechmos import dnsmos

    folder = os.path.dirname(dnsmos.__file__)
    primary = os.path.join(folder, "pdnsmos_models" if personalized else "dnsmos_models", "sig_bak_ovr.onnx")
    return dnsmos.DNSMOS(primary, os.path.join(folder, "dnsmos_models", "model_v8.onnx"))


_SCORES: "OrderedDict[tuple, dict]" = OrderedDict()  # (clip digest, personalized) -> scores, the last few clips'


def dnsmos_scores(audio: np.ndarray, personalized: bool = False) -> dict:
    """{sig_mos, bak_mos, ovrl_mos, p808_mos} of a 16 kHz clip; the last few clips' scores are kept, so the four
    DNSMOS metrics of one signal run the models once."""
    audio = np.ascontiguousarray(audio, dtype=np.float64)
    key = (hashlib.sha1(audio.tobytes()).hexdigest(), personalized)
    if key not in _SCORES:
        scores = _dnsmos(personalized)(audio, RATE, personalized)
        _SCORES[key] = {k: float(v) for k, v in scores.items() if k.endswith("mos")}
        while len(_SCORES) > 8:
            _SCORES.popitem(last=False)
    return _SCORES[key]


class DNSMOS(WholeSignalMetric):
    """One of DNSMOS' four predictions (`output`: sig, bak, ovrl or p808) of the estimate alone."""

    direction, unit, delta_kind = HIGHER, "MOS", ABSOLUTE
    reference_free: ClassVar[bool] = True
    speech_only = True
    nan_reason = "the models returned no score"
    scale_note: ClassVar[str] = SPEECH_ONLY

    def __init__(
        self,
        sample_rate: int,
        output: Literal["sig", "bak", "ovrl", "p808"] = "ovrl",
        personalized: bool = False,
        **kwargs,
    ):
        kwargs.setdefault("name", f"dnsmos_{output}")
        super().__init__(sample_rate, **kwargs)
        self.output, self.personalized = output, personalized

    def score(self, y: Tensor, x: Tensor) -> float:
        """The prediction for estimate `y` (`x`, the reference, is not read)."""
        value = dnsmos_scores(prepared(y, self.sample_rate), self.personalized)[f"{self.output}_mos"]
        return value if math.isfinite(value) else math.nan


class PLCMOS(WholeSignalMetric):
    """PLCMOS v2's prediction for the estimate alone."""

    name, direction, unit, delta_kind = "plcmos", HIGHER, "MOS", ABSOLUTE
    reference_free: ClassVar[bool] = True
    speech_only = True
    nan_reason = "the model returned no score"
    scale_note: ClassVar[str] = SPEECH_ONLY

    def score(self, y: Tensor, x: Tensor) -> float:
        """PLCMOS v2 of estimate `y` (`x` is not read), its rater embeddings drawn from numpy's generator seeded with
        PLCMOS_SEED (numpy's global state is restored afterwards)."""
        state = np.random.get_state()
        np.random.seed(PLCMOS_SEED)
        try:
            value = float(_plcmos()(prepared(y, self.sample_rate))["plcmos"])
        finally:
            np.random.set_state(state)
        return value if math.isfinite(value) else math.nan


@lru_cache(maxsize=1)
def _plcmos():
    from speechmos.plcmos import PLCMOS as Model

    return Model()


for _output in ("sig", "bak", "ovrl", "p808"):
    register_metric(f"dnsmos_{_output}", DNSMOS, "dnsmos", output=_output)
register_metric("plcmos", PLCMOS)
