"""KAD and FAD∞, the set metrics beside FAD: equal to kadtk's and fadtk's own code on the same embeddings (values
kept by tests/reference_tools/set_metrics.py), KAD unbiased where FAD is not, and their intervals and verdicts
following the sets."""

import json
from pathlib import Path

import numpy as np
import pytest

from audiovae.metrics.fad import extrapolated_fad, frechet_distance
from audiovae.metrics.kad import kernel_distance, median_pairwise_distance
from audiovae.metrics.sets import SET_METRICS

REFERENCES = json.loads((Path(__file__).parent / "data" / "set_metric_references.json").read_text())


@pytest.mark.parametrize("case", REFERENCES["cases"], ids=lambda c: c["name"])
def test_kad_equals_kadtk_on_the_same_embeddings(case):
    reference, evaluated = np.array(case["reference"]), np.array(case["evaluated"])
    bandwidth = median_pairwise_distance(reference)
    assert bandwidth == pytest.approx(case["kad_bandwidth"], rel=1e-6)  # kadtk takes the median in float32
    ours = kernel_distance(reference, evaluated, case["kad_bandwidth"])
    assert ours == pytest.approx(case["kad_float64"], rel=1e-10)  # kadtk's code at precision=float64
    assert ours == pytest.approx(case["kad_float32"], rel=1e-4)  # and at its default float32


@pytest.mark.parametrize("case", REFERENCES["cases"], ids=lambda c: c["name"])
def test_fad_inf_equals_fadtk_score_inf_on_the_same_embeddings_and_draws(case):
    reference, evaluated = np.array(case["reference"]), np.array(case["evaluated"])
    fit = extrapolated_fad(reference, evaluated, seed=case["seed"])
    assert fit["value"] == pytest.approx(case["fad_inf"], rel=1e-4)
    assert fit["slope"] == pytest.approx(case["fad_inf_slope"], rel=1e-4)
    assert fit["r2"] == pytest.approx(case["fad_inf_r2"], rel=1e-4)


def test_kad_is_unbiased_at_small_sets_where_fad_grows():
    rng = np.random.default_rng(7)
    kads, fads = [], []
    for _ in range(200):  # two sets of 10 drawn from one distribution: the true distance is 0
        a, b = rng.normal(size=(10, 4)), rng.normal(size=(10, 4))
        kads.append(kernel_distance(a, b, 2.0))
        fads.append(frechet_distance(a, b))
    kads, fads = np.array(kads), np.array(fads)
    assert abs(kads.mean()) < 3 * kads.std() / np.sqrt(len(kads))  # no bias beyond sampling error
    assert fads.min() > 0 and fads.mean() > 10 * fads.std() / np.sqrt(len(fads))  # always above 0


@pytest.mark.parametrize("name", ["kad", "fad_inf"])
def test_intervals_contain_the_estimates_and_the_verdict_follows_the_sets(name):
    rng = np.random.default_rng(0)
    reference = rng.normal(size=(60, 8))
    sets = {
        "reference": reference,
        "base": reference + 1.0 * rng.normal(size=reference.shape),
        "enhanced": reference + 0.2 * rng.normal(size=reference.shape),
    }
    metric = SET_METRICS[name]
    out = metric.summarize(sets, n_boot=100, seed=0, alpha=0.05)
    assert out["direction"] == "lower" and out["n_files"] == 60
    for variant, stats in out["variants"].items():
        assert stats["ci"][0] <= stats["value"] <= stats["ci"][1], variant
    assert out["delta"]["value"] < 0 and out["delta"]["enhanced_vs_base"] == "lower"
    same = metric.summarize({**sets, "enhanced": sets["base"]}, n_boot=30, seed=0, alpha=0.05)
    assert same["delta"]["value"] == 0 and same["delta"]["enhanced_vs_base"] == "not distinguishable"
    unpaired = metric.summarize({**sets, "reference": reference[:40]}, n_boot=30, seed=0, alpha=0.05, paired=False)
    assert unpaired["n_reference"] == 40 and unpaired["delta"]["enhanced_vs_base"] == "lower"
    few = metric.summarize({k: v[:1] for k, v in sets.items()}, 10, 0, 0.05)
    assert np.isnan(few["variants"]["base"]["value"]) and "delta" not in few
