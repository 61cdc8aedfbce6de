import math

import numpy as np
import pytest
from scipy import stats

from audiovae.metrics import compare_paired


def test_absolute_and_percent_deltas_and_descriptive_stats():
    base, enhanced = np.array([10.0, 20.0, 30.0]), np.array([11.0, 22.0, 36.0])
    c = compare_paired(base, enhanced, higher_is_better=True, delta_kind="absolute")
    assert c.n == 3 and c.base_mean == 20.0 and c.enhanced_mean == pytest.approx(23.0)
    assert c.delta == pytest.approx(3.0) and c.headline_delta == pytest.approx(3.0)
    assert c.percent_change == pytest.approx(15.0)
    assert c.base_std == pytest.approx(10.0) and c.enhanced_median == 22.0
    p = compare_paired(base, enhanced, higher_is_better=True, delta_kind="percent")
    assert p.headline_delta == pytest.approx(15.0)


def test_win_rate_respects_direction_and_ties_are_not_wins():
    base, enhanced = np.array([1.0, 1.0, 1.0, 1.0]), np.array([2.0, 0.5, 1.0, 3.0])
    assert compare_paired(base, enhanced, higher_is_better=True).win_rate == 0.5
    assert compare_paired(base, enhanced, higher_is_better=False).win_rate == 0.25


def test_bootstrap_ci_is_seeded_and_brackets_the_delta():
    rng = np.random.default_rng(0)
    base = rng.normal(10, 1, 40)
    enhanced = base + rng.normal(0.5, 0.3, 40)
    a = compare_paired(base, enhanced, True, n_bootstrap=1000, seed=7)
    b = compare_paired(base, enhanced, True, n_bootstrap=1000, seed=7)
    assert (a.ci_low, a.ci_high) == (b.ci_low, b.ci_high)
    assert a.ci_low < a.delta < a.ci_high and a.ci_low > 0
    assert a.wilcoxon_p == pytest.approx(stats.wilcoxon(enhanced, base).pvalue) and a.wilcoxon_p < 1e-6


def test_nan_pairs_are_dropped():
    c = compare_paired([1.0, np.nan, 3.0, 4.0], [2.0, 5.0, np.nan, 6.0], True)
    assert c.n == 2 and c.base_mean == 2.5 and c.enhanced_mean == 4.0


def test_degenerate_inputs_give_nan_not_errors():
    same = compare_paired([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], True)
    assert same.delta == 0 and math.isnan(same.wilcoxon_p) and math.isnan(same.ci_low)
    empty = compare_paired([np.nan], [1.0], True)
    assert empty.n == 0 and math.isnan(empty.base_mean) and math.isnan(empty.win_rate)
    with pytest.raises(ValueError, match="delta_kind"):
        compare_paired([1.0], [2.0], True, delta_kind="ratio")
