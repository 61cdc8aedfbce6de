"""Paired statistics of two variants' per-file values (functions, not metrics)."""
import warnings
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

from audiovae.metrics.base import ABSOLUTE, PERCENT


@dataclass
class PairedComparison:
    """Base vs enhanced over the files where both values are defined."""

    n: int
    base_mean: float
    base_std: float
    base_median: float
    enhanced_mean: float
    enhanced_std: float
    enhanced_median: float
    delta: float            # mean(enhanced − base)
    percent_change: float   # 100 · (mean(enhanced) − mean(base)) / |mean(base)|
    delta_kind: str         # which of the two is the headline Δ
    headline_delta: float
    win_rate: float         # share of files where enhanced is better (ties are not wins)
    ci_low: float           # 95 % bootstrap CI of the headline Δ
    ci_high: float
    wilcoxon_p: float

    def as_dict(self) -> dict:
        return asdict(self)


def _percent_change(base, enhanced, axis=-1):
    b = np.mean(base, axis=axis)
    return 100.0 * (np.mean(enhanced, axis=axis) - b) / np.abs(b)


def _mean_delta(base, enhanced, axis=-1):
    return np.mean(enhanced - base, axis=axis)


def compare_paired(base, enhanced, higher_is_better: bool, delta_kind: str = ABSOLUTE,
                   n_bootstrap: int = 2000, seed: int = 0) -> PairedComparison:
    """Mean/std/median of each, Δ, percent change, win rate, seeded 95 % bootstrap CI of the headline Δ
    (absolute Δ for dB-valued metrics, percent change for ratio-valued ones) and the Wilcoxon signed-rank p."""
    if delta_kind not in (ABSOLUTE, PERCENT):
        raise ValueError(f"delta_kind must be {ABSOLUTE!r} or {PERCENT!r}")
    base, enhanced = np.asarray(base, dtype=np.float64), np.asarray(enhanced, dtype=np.float64)
    keep = np.isfinite(base) & np.isfinite(enhanced)
    base, enhanced = base[keep], enhanced[keep]
    n = int(base.size)
    nan = float("nan")
    if n == 0:
        numbers = {f: nan for f in PairedComparison.__dataclass_fields__ if f not in ("n", "delta_kind")}
        return PairedComparison(n=0, delta_kind=delta_kind, **numbers)
    headline = _mean_delta if delta_kind == ABSOLUTE else _percent_change
    diff = enhanced - base
    wins = diff > 0 if higher_is_better else diff < 0
    ci_low = ci_high = p_value = nan
    if n >= 2 and np.any(diff != 0):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ci = stats.bootstrap((base, enhanced), headline, paired=True, vectorized=True, n_resamples=n_bootstrap,
                                 confidence_level=0.95, method="percentile", rng=np.random.default_rng(seed))
            ci_low, ci_high = float(ci.confidence_interval.low), float(ci.confidence_interval.high)
            p_value = float(stats.wilcoxon(enhanced, base).pvalue)
    return PairedComparison(
        n=n, base_mean=float(base.mean()), base_std=float(base.std(ddof=1)) if n > 1 else 0.0,
        base_median=float(np.median(base)), enhanced_mean=float(enhanced.mean()),
        enhanced_std=float(enhanced.std(ddof=1)) if n > 1 else 0.0, enhanced_median=float(np.median(enhanced)),
        delta=float(_mean_delta(base, enhanced)), percent_change=float(_percent_change(base, enhanced)),
        delta_kind=delta_kind, headline_delta=float(headline(base, enhanced)), win_rate=float(wins.mean()),
        ci_low=ci_low, ci_high=ci_high, wilcoxon_p=p_value,
    )
