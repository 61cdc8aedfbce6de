"""What "better" compares for each metric: its raw value (higher or lower is better), or for a target metric its
distance to the target, `d = |20·log10(x / target)|` in dB, so that 50 % and 200 % of a 100 % target are equally
far (6.02 dB) and lower is better. Wins, Δs, CIs, tests, plots, selection and wording all use these scores; the
raw values stay in results.csv beside them.

>>> s = scoring("hf_retention")
>>> s.score([50.0, 100.0, 200.0]).round(3).tolist(), s.higher_is_better, s.unit
([6.021, 0.0, 6.021], False, 'dB')
>>> scoring("snr").score([3.0]).tolist(), scoring("snr").higher_is_better
([3.0], True)
"""

from dataclasses import dataclass
from typing import Optional

import numpy as np

from audiovae.metrics.base import HIGHER, PERCENT, TARGET
from audiovae.metrics.registry import metric_info

FLOOR = 1e-6  # a value at or below FLOOR · target counts as FLOOR · target (120 dB off), never −inf


@dataclass(frozen=True)
class Scoring:
    """A metric's direction (`higher`, `lower`, `target`), its target, and the unit of its score."""

    direction: str
    target: Optional[float]
    value_unit: str
    delta_kind: str

    @property
    def is_target(self) -> bool:
        """Whether the metric is scored by its distance to a target (hf_retention: 100 %)."""
        return self.direction == TARGET

    @property
    def higher_is_better(self) -> bool:
        """Of the score: a target metric's distance is better lower."""
        return self.direction == HIGHER

    @property
    def unit(self) -> str:
        """The score's unit: dB from the target for a target metric, else the metric's own."""
        return "dB" if self.is_target else self.value_unit

    @property
    def delta_unit(self) -> str:
        """The unit of the headline Δ of scores: % for a percent change, else the score's unit."""
        return "%" if self.delta_kind == PERCENT else self.unit

    def score(self, values) -> np.ndarray:
        """The values better compares: as they are, or |20·log10(x / target)| (NaN stays NaN)."""
        values = np.asarray(values, dtype=np.float64)
        if not self.is_target:
            return values
        return np.abs(20.0 * np.log10(np.maximum(values, FLOOR * self.target) / self.target))


def scoring(name: str) -> Scoring:
    """The scoring of metric `name`: its direction, target, unit and the kind of its Δ."""
    info = metric_info(name)
    return Scoring(info.direction, info.target, info.unit, info.delta_kind)
