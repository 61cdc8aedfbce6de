"""Paired statistics of two variants' per-file values (functions, not metrics).

Per-file differences within a relative `tolerance` (numerical noise, e.g. float32 rounding of batched
convolutions) count as ties: they are neither wins nor losses and the Wilcoxon test drops them, as it drops exact
zeros. With n untied files, the exact two-sided Wilcoxon signed-rank test cannot give p below 2 / 2^n.

>>> min_achievable_p(5)
0.0625
>>> adjust_p([0.01, 0.04, 0.03, float("nan")], "holm").round(3).tolist()
[0.03, 0.06, 0.06, nan]
"""

import math
import warnings
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

from audiovae.metrics.base import ABSOLUTE, PERCENT

P_ADJUST = ("holm", "bh", "none")


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
    delta: float  # mean(enhanced − base)
    percent_change: float  # 100 · (mean(enhanced) − mean(base)) / |mean(base)|
    delta_kind: str  # which of the two is the headline Δ
    headline_delta: float
    wins: int  # files where enhanced is better beyond the tolerance
    losses: int  # ... worse beyond the tolerance
    ties: int  # ... within it
    win_rate: float  # wins / n (ties are not wins)
    ci_low: float  # 95 % bootstrap CI of the headline Δ
    ci_high: float
    median_delta: float  # effect size: median of the per-file differences enhanced − base
    median_ci_low: float  # its 95 % bootstrap CI
    median_ci_high: float
    wilcoxon_p: float  # two-sided, untied files only
    min_p: float  # the smallest p the test can give with this many untied files (2 / 2^n)
    p_adjusted: float = float("nan")  # corrected for the number of metrics tested together (see adjust_p)

    def as_dict(self) -> dict:
        """The comparison as a plain dict (summary.json's per-metric statistics)."""
        return asdict(self)


def min_achievable_p(n_untied: int) -> float:
    """The smallest two-sided p of the exact Wilcoxon signed-rank test with `n_untied` non-zero differences:
    every difference of one sign, probability 2 · 2^−n (NaN without any)."""
    return min(1.0, 2.0 ** (1 - n_untied)) if n_untied > 0 else float("nan")


def _percent_change(base, enhanced, axis=-1):
    b = np.mean(base, axis=axis)
    return 100.0 * (np.mean(enhanced, axis=axis) - b) / np.abs(b)


def _mean_delta(base, enhanced, axis=-1):
    return np.mean(enhanced - base, axis=axis)


def _median_delta(base, enhanced, axis=-1):
    return np.median(enhanced - base, axis=axis)


BOOTSTRAP_VALUES = 1 << 22  # resampled values held at once (files × resamples per batch): memory stays ~100 MB


def _bootstrap(base, enhanced, statistic, n_bootstrap: int, seed: int) -> tuple[float, float]:
    """Percentile CI; the resamples are drawn in batches of at most BOOTSTRAP_VALUES values, so memory does not grow
    with `metrics.bootstrap_samples` (below that size: one batch, as before)."""
    n = max(1, len(base))
    batch = None if n_bootstrap * n <= BOOTSTRAP_VALUES else max(1, BOOTSTRAP_VALUES // n)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ci = stats.bootstrap(
            (base, enhanced),
            statistic,
            paired=True,
            vectorized=True,
            n_resamples=n_bootstrap,
            batch=batch,
            confidence_level=0.95,
            method="percentile",
            rng=np.random.default_rng(seed),
        )
    return float(ci.confidence_interval.low), float(ci.confidence_interval.high)


def tied(base: np.ndarray, enhanced: np.ndarray, tolerance: float) -> np.ndarray:
    """Files whose difference is within `tolerance` relative to the larger magnitude (exact equality always)."""
    return np.abs(enhanced - base) <= tolerance * np.maximum(np.abs(base), np.abs(enhanced))


def compare_paired(
    base,
    enhanced,
    higher_is_better: bool,
    delta_kind: str = ABSOLUTE,
    n_bootstrap: int = 2000,
    seed: int = 0,
    tolerance: float = 0.0,
) -> PairedComparison:
    """Mean/std/median of each, Δ, percent change, wins/losses/ties (ties within `tolerance`, relative), seeded
    95 % bootstrap CIs of the headline Δ (absolute for dB-valued metrics, percent change for ratio-valued ones)
    and of the median difference, the Wilcoxon signed-rank p over untied files and the smallest p it could give."""
    if delta_kind not in (ABSOLUTE, PERCENT):
        raise ValueError(f"delta_kind must be {ABSOLUTE!r} or {PERCENT!r}")
    base, enhanced = np.asarray(base, dtype=np.float64), np.asarray(enhanced, dtype=np.float64)
    keep = np.isfinite(base) & np.isfinite(enhanced)
    base, enhanced = base[keep], enhanced[keep]
    n = int(base.size)
    nan = float("nan")
    if n == 0:
        numbers = {
            f: nan
            for f in PairedComparison.__dataclass_fields__
            if f not in ("n", "delta_kind", "wins", "losses", "ties")
        }
        return PairedComparison(n=0, delta_kind=delta_kind, wins=0, losses=0, ties=0, **numbers)
    headline = _mean_delta if delta_kind == ABSOLUTE else _percent_change
    diff = np.where(tied(base, enhanced, tolerance), 0.0, enhanced - base)
    better = diff > 0 if higher_is_better else diff < 0
    worse = diff < 0 if higher_is_better else diff > 0
    untied = int(np.count_nonzero(diff))
    ci_low = ci_high = median_low = median_high = p_value = nan
    if n >= 2 and np.any(enhanced != base):
        ci_low, ci_high = _bootstrap(base, enhanced, headline, n_bootstrap, seed)
        median_low, median_high = _bootstrap(base, enhanced, _median_delta, n_bootstrap, seed)
    if untied >= 1:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            p_value = float(stats.wilcoxon(diff[diff != 0]).pvalue)
    return PairedComparison(
        n=n,
        base_mean=float(base.mean()),
        base_std=float(base.std(ddof=1)) if n > 1 else 0.0,
        base_median=float(np.median(base)),
        enhanced_mean=float(enhanced.mean()),
        enhanced_std=float(enhanced.std(ddof=1)) if n > 1 else 0.0,
        enhanced_median=float(np.median(enhanced)),
        delta=float(_mean_delta(base, enhanced)),
        percent_change=float(_percent_change(base, enhanced)),
        delta_kind=delta_kind,
        headline_delta=float(headline(base, enhanced)),
        wins=int(better.sum()),
        losses=int(worse.sum()),
        ties=n - untied,
        win_rate=float(better.mean()),
        ci_low=ci_low,
        ci_high=ci_high,
        median_delta=float(np.median(enhanced - base)),
        median_ci_low=median_low,
        median_ci_high=median_high,
        wilcoxon_p=p_value,
        min_p=min_achievable_p(untied),
    )


def adjust_p(p_values, method: str) -> np.ndarray:
    """p values corrected for testing them together: `holm` (Holm–Bonferroni, family-wise error), `bh`
    (Benjamini–Hochberg false discovery rate, scipy's `false_discovery_control`) or `none`. NaN entries are left
    out of the family and stay NaN.

    Holm: with the m p values sorted ascending, p̃_(i) = max_{j ≤ i} min(1, (m − j + 1) · p_(j))."""
    if method not in P_ADJUST:
        raise ValueError(f"p adjustment must be one of {P_ADJUST}, got {method!r}")
    p = np.asarray(p_values, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    finite = np.isfinite(p)
    family = p[finite]
    if family.size == 0 or method == "none":
        out[finite] = family
        return out
    if method == "bh":
        out[finite] = stats.false_discovery_control(family, method="bh")
        return out
    order = np.argsort(family, kind="stable")
    m = family.size
    scaled = np.minimum(1.0, (m - np.arange(m)) * family[order])
    adjusted = np.empty(m)
    adjusted[order] = np.maximum.accumulate(scaled)
    out[finite] = adjusted
    return out


def is_finite(value) -> bool:
    """Whether `value` is a finite number (None and NaN are not)."""
    return value is not None and isinstance(value, (int, float)) and math.isfinite(value)
