"""Runs of many files stay readable: report.md details a bounded number of files (the worst and best by the
ranking metric), and the figures show distributions instead of one line per file past MAX_LINES."""

import numpy as np
from PIL import Image

from audiovae.reporting.plots import MAX_LINES, paired_plot, plot_band_retention
from audiovae.reporting.records import OK, FileResult
from audiovae.reporting.report import listed_files, ranking_metric
from audiovae.reporting.summary import summarize_metrics


def results(n: int) -> list[FileResult]:
    """n files whose lsd_hf improves by i / 10 (file i) and whose snr does not change."""
    return [
        FileResult(
            i,
            f"f{i:03d}.wav",
            OK,
            metrics={"base": {"lsd_hf": 3.0, "snr": 10.0}, "enhanced": {"lsd_hf": 3.0 - i / 10, "snr": 10.0}},
        )
        for i in range(n)
    ]


def summary_of(rows, report_files, select="lsd_hf"):
    metrics = summarize_metrics(rows, ["snr", "lsd_hf"], 50, 0, variants=("base", "enhanced"))
    return {
        "metrics": metrics,
        "run": {"config": {"outputs": {"report_files": report_files}, "select": {"metric": select}}},
    }


def test_a_long_report_lists_the_worst_and_the_best_files_by_the_ranking_metric():
    rows = results(60)
    listed, note = listed_files(rows, summary_of(rows, 10))
    assert [r.file for r in listed] == [f"f{i:03d}.wav" for i in (0, 1, 2, 3, 4, 59, 58, 57, 56, 55)]
    assert note.startswith(
        "60 files: listed below are the 5 with the worst and the 5 with the best improvement in "
        "lsd_hf (outputs.report_files=10)"
    )
    assert listed_files(rows, summary_of(rows, 60)) == ([r for r in rows], "")  # within the bound: all, no note
    assert listed_files(rows, summary_of(rows, None))[1] == ""  # null: all (older configs)
    assert ranking_metric(summary_of(rows, 10, select="pesq_wb")) == "snr"  # not measured: the first metric
    failed = [FileResult(60, "bad.wav", "error", error="unreadable")]
    assert all(r.status == OK for r in listed_files(rows + failed, summary_of(rows, 10))[0])


def test_figures_of_many_files_show_distributions(tmp_path):
    rng = np.random.default_rng(0)
    n = MAX_LINES + 360
    values = {"snr": np.stack([rng.normal(10, 3, n), rng.normal(10.5, 3, n)], 1)}
    few, many = (
        paired_plot(tmp_path / "few.png", ["base", "enhanced"], {"snr": values["snr"][:MAX_LINES]}),
        paired_plot(tmp_path / "many.png", ["base", "enhanced"], values),
    )

    def violin_fill(path) -> float:  # share of pixels of the violins' face (0.75 grey at alpha 0.8 on white)
        return float(np.mean(np.all(np.abs(np.asarray(Image.open(path).convert("RGB"), float) - 204) < 6, -1)))

    assert violin_fill(many) > 5 * violin_fill(few)  # filled distributions instead of one line per file
    hz = np.linspace(50, 7900, 64)
    table = np.stack(
        [np.stack([rng.normal(-np.linspace(0, 12, 64), 2), rng.normal(-np.linspace(0, 8, 64), 2)]) for _ in range(n)]
    )
    bands = {
        "hz": hz.tolist(),
        "mean_db": {"base": table[:, 0].mean(0).tolist(), "enhanced": table[:, 1].mean(0).tolist()},
        "above_cutoff_db": {"base": -9.0, "enhanced": -6.0},
        "cutoff_hz": 4000.0,
        "n_files": n,
    }
    assert Image.open(plot_band_retention(tmp_path / "bands.png", table, bands)).size[0] > 0


def test_the_report_says_how_much_wall_time_the_measured_stages_cover(tmp_path):
    import json

    from tests.conftest import evaluate_folder, write_three_clips

    clips = write_three_clips(tmp_path / "clips")
    words = ["model=tiny", "logger=none", "outputs.save_plots=false", "metrics.bootstrap_samples=50"]
    evaluate_folder(clips, tmp_path / "run", *words)
    a = json.loads((tmp_path / "run" / "summary.json").read_text())["time_accounting"]
    assert a["files"] == 3 and a["processes"] == 1 and 0 < a["stage_seconds"] <= a["wall_s"]
    assert a["outside_stages_share"] == 1 - a["stage_seconds"] / a["wall_s"]
    from audiovae.reporting.records import read_csv

    for row in read_csv(tmp_path / "run" / "results.csv"):  # reading back and writing media are stages too
        assert row["time_read"] >= 0 and row["time_media"] > 0
    report = (tmp_path / "run" / "report.md").read_text()
    assert f"{100 * a['outside_stages_share']:.1f} % went outside them" in report
    evaluate_folder(clips, tmp_path / "run", *words)  # resumed: nothing new ran, nothing to account
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["time_accounting"] == {}
    assert "went outside them" not in (tmp_path / "run" / "report.md").read_text()
