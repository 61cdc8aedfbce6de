"""Verdicts a researcher can trust: target metrics scored by their distance to the target, statistics that say
what they can and cannot show, a selection rule that cannot reward damage, identity = base exactly, and where
the high band goes."""

import json

import numpy as np
import pytest
from omegaconf import OmegaConf
from scipy import stats

from audiovae.metrics.scoring import scoring
from audiovae.metrics.stats import adjust_p, compare_paired, min_achievable_p
from audiovae.reporting.records import OK, FileResult, read_csv
from audiovae.reporting.summary import summarize_metrics
from audiovae.runs.selection import select_best
from tests.conftest import evaluate_folder, write_three_clips

SELECT = OmegaConf.create(
    {"metric": "lsd_hf", "guards": ["mel_distance", "lsd_lf", "spectral_correlation"], "min_improvement": {}}
)


def results_of(base: dict, enhanced: dict) -> list[FileResult]:
    """FileResults with per-metric value lists for base and enhanced."""
    n = len(next(iter(base.values())))
    return [
        FileResult(
            i,
            f"f{i}.wav",
            OK,
            metrics={"base": {m: v[i] for m, v in base.items()}, "enhanced": {m: v[i] for m, v in enhanced.items()}},
        )
        for i in range(n)
    ]


def summary_of(base: dict, enhanced: dict) -> dict:
    return {
        "metrics": summarize_metrics(results_of(base, enhanced), list(base), n_bootstrap=500, seed=0, tolerance=1e-6)
    }


def test_a_target_metric_scores_50_and_200_percent_as_equally_far_from_100():
    s = scoring("hf_retention")
    half, exact, double = s.score([50.0, 100.0, 200.0])
    assert exact == 0 and half == pytest.approx(double) and half == pytest.approx(20 * np.log10(2))
    assert not s.higher_is_better and s.unit == "dB"


def test_doubling_an_intact_high_band_is_worse_than_base_not_a_win():
    # the VAE kept the high band (base ~100 %), the enhancer doubles it (~200 %): further from the target
    rng = np.random.default_rng(0)
    base = 100 + rng.normal(0, 3, 8)
    summary = summary_of({"hf_retention": base}, {"hf_retention": 2 * base})
    m = summary["metrics"]["hf_retention"]
    assert m["comparison"]["wins"] == 0 and m["comparison"]["losses"] == 8
    assert m["comparison"]["headline_delta"] > 5.5  # dB further from 100 %
    assert m["verdict"]["outcome"] == "worsened"
    assert m["variants"]["enhanced"]["mean"] == pytest.approx(2 * base.mean())  # raw values kept beside


def test_selection_skips_a_setting_that_breaks_a_guard_and_picks_the_modest_one():
    rng = np.random.default_rng(1)
    n = 6
    base = {
        "lsd_hf": 1.5 + rng.normal(0, 0.05, n),
        "mel_distance": 1.8 + rng.normal(0, 0.05, n),
        "lsd_lf": 1.5 + rng.normal(0, 0.05, n),
        "spectral_correlation": 0.8 + rng.normal(0, 0.01, n),
    }
    greedy = {**base, "lsd_hf": base["lsd_hf"] * 0.7, "mel_distance": base["mel_distance"] * 1.3}
    modest = {**base, "lsd_hf": base["lsd_hf"] * 0.95, "mel_distance": base["mel_distance"] * 0.99}
    worse = {**base, "lsd_hf": base["lsd_hf"] * 1.05}
    summaries = {
        "greedy": summary_of(base, greedy),
        "modest": summary_of(base, modest),
        "worse": summary_of(base, worse),
    }
    best, reason = select_best(summaries, SELECT, alpha=0.05)
    assert best == "modest", reason
    none, why = select_best({"worse": summaries["worse"], "greedy": summaries["greedy"]}, SELECT, alpha=0.05)
    assert none is None and "no setting beats the base" in why
    assert "worse does not improve lsd_hf" in why and "greedy significantly worse in mel_distance" in why


def test_holm_and_bh_corrections():
    p = np.array([0.01, 0.04, 0.03, 0.005, 0.2, np.nan])
    finite = p[:5]
    assert adjust_p(p, "bh")[:5] == pytest.approx(stats.false_discovery_control(finite, method="bh"))
    # Holm by hand: sorted 0.005 0.01 0.03 0.04 0.2 -> x5 x4 x3 x2 x1 = .025 .04 .09 .08 .2 -> running max
    assert adjust_p(p, "holm")[:5] == pytest.approx([0.04, 0.09, 0.09, 0.025, 0.2])
    assert np.isnan(adjust_p(p, "holm")[5]) and np.isnan(adjust_p(p, "bh")[5])
    assert adjust_p(p, "none")[:5] == pytest.approx(finite)


def test_the_smallest_achievable_p_at_n_5_is_0_0625():
    assert min_achievable_p(5) == 0.0625
    assert stats.wilcoxon([0.1, 0.2, 0.3, 0.4, 0.5]).pvalue == pytest.approx(0.0625)  # all of one sign: the floor
    c = compare_paired([1, 2, 3, 4, 5], [2, 3, 4, 5, 6.5], higher_is_better=True)
    assert c.wins == 5 and c.min_p == 0.0625 and c.wilcoxon_p == pytest.approx(0.0625)


def test_differences_within_the_tolerance_are_ties_not_wins():
    base = np.array([1.0, 2.0, 3.0, 4.0])
    enhanced = base * (1 + np.array([1e-8, -1e-8, 0.1, 0.2]))
    c = compare_paired(base, enhanced, True, tolerance=1e-6)
    assert (c.wins, c.losses, c.ties) == (2, 0, 2) and c.min_p == 0.5
    assert c.wilcoxon_p == pytest.approx(stats.wilcoxon([0.3, 0.8]).pvalue)


def test_median_effect_size_with_its_ci():
    rng = np.random.default_rng(3)
    base = rng.normal(10, 1, 30)
    enhanced = base + 0.5 + rng.normal(0, 0.1, 30)
    c = compare_paired(base, enhanced, True, n_bootstrap=500)
    assert c.median_delta == pytest.approx(np.median(enhanced - base))
    assert c.median_ci_low < c.median_delta < c.median_ci_high and c.median_ci_low > 0.3


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    return write_three_clips(tmp_path_factory.mktemp("verdict_clips"))


def evaluate(clips, out, *overrides):
    evaluate_folder(
        clips,
        out,
        "model=demo",
        "data.max_seconds=1.0",
        "logger=none",
        "outputs.save_audio=false",
        "metrics.bootstrap_samples=200",
        *overrides,
    )
    return json.loads((out / "summary.json").read_text()) if (out / "summary.json").exists() else None


def test_an_identity_setting_in_a_sweep_is_the_base_exactly(clips, tmp_path):
    evaluate(clips, tmp_path / "s", "sweep.enhancement.gain=[1.0,1.6]", "outputs.save_plots=false")
    summary = json.loads((tmp_path / "s" / "settings" / "gain=1.0" / "summary.json").read_text())
    for name, m in summary["metrics"].items():
        c = m["comparison"]
        assert c["delta"] == 0 and c["headline_delta"] == 0 and c["wins"] == 0, name
        assert m["verdict"]["outcome"] == "unchanged", name
    rows = read_csv(tmp_path / "s" / "settings" / "gain=1.0" / "results.csv")
    assert all(r[f"delta_{m}"] == 0 for r in rows for m in summary["metrics"])
    sweep = {r["setting"]: r for r in read_csv(tmp_path / "s" / "sweep.csv")}
    assert sweep["gain=1.0"]["lsd_hf_wins"] == 0 and sweep["gain=1.0"]["lsd_hf_verdict"] == "unchanged"
    assert sweep["gain=1.0"]["snr_delta_unit"] == "dB" and sweep["gain=1.0"]["lsd_delta_unit"] == "%"
    assert sweep["gain=1.0"]["hf_retention_unit"] == "dB"  # its base/enhanced columns: distances to 100 %


def test_per_band_retention_shows_where_a_mel_shelf_adds_energy(clips, tmp_path):
    # a mel-domain shelf of gain 2 from band 40 multiplies those mel magnitudes by 2: +6.02 dB of energy there,
    # 0 dB below the transition, whatever the VAE lost
    summary = evaluate(
        clips,
        tmp_path / "shelf",
        "enhancement=mel_hf_shelf",
        "enhancement.gain=2.0",
        "enhancement.cutoff_band=40",
        "enhancement.transition_bands=0",
    )
    bands = summary["band_retention"]
    base, enhanced = np.array(bands["mean_db"]["base"]), np.array(bands["mean_db"]["enhanced"])
    assert len(bands["hz"]) == 64 and bands["n_files"] == 3 and np.all(np.diff(bands["hz"]) > 0)
    assert enhanced[40:] - base[40:] == pytest.approx(20 * np.log10(2), abs=1e-6)
    assert enhanced[:40] - base[:40] == pytest.approx(0, abs=1e-9)
    assert bands["above_cutoff_db"]["base"] < 0  # the demo VAE loses high-band energy
    per_file = read_csv(tmp_path / "shelf" / "band_retention.csv")
    assert len(per_file) == 6 and {r["variant"] for r in per_file} == {"base", "enhanced"}
    first = [k for k in per_file[0] if k.endswith("Hz")][0]
    assert np.mean([r[first] for r in per_file if r["variant"] == "base"]) == pytest.approx(base[0])
    report = (tmp_path / "shelf" / "report.md").read_text()
    assert "## Where the high band goes" in report and "plots/band_retention.png" in report
    assert (tmp_path / "shelf" / "plots" / "band_retention.png").stat().st_size > 0


def test_the_report_says_when_no_p_can_reach_alpha(clips, tmp_path):
    evaluate(clips, tmp_path / "r")
    report = (tmp_path / "r" / "report.md").read_text()
    assert "no Wilcoxon p can fall below 0.25" in report  # 3 files: 2 / 2^3
    assert "Could not be decided" in report and "hf_retention → 100 %" in report
    assert "| metric | vocoder ceiling | base | enhanced | Δ | better in |" in report


def test_every_results_column_has_its_unit_in_columns_csv(clips, tmp_path):
    evaluate(clips, tmp_path / "u")
    header = list(read_csv(tmp_path / "u" / "results.csv")[0])
    units = {r["column"]: r["unit"] for r in read_csv(tmp_path / "u" / "columns.csv")}
    assert list(units) == header
    assert units["base_snr"] == "dB" and units["delta_snr"] == "dB" and units["delta_lsd"] == "%"
    assert units["base_hf_retention"] == "%" and units["base_hf_retention_from_target"] == "dB"
    assert units["delta_hf_retention"] == "dB" and units["time_encode"] == "s"
    assert units["base_mel_distance"] != units["base_hf_retention_from_target"]  # no suffix confusion
