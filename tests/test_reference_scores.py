"""The reference-free metrics (the MOS predictors, the high band's shape) score the reference itself too: the
original's own value is the context of its decodes' (a DNSMOS of 2.1 for the decodes means little until the
original's 2.2 stands beside it). Its columns, summary statistics, report column and dashboard keys; the paired
comparison stays base against enhanced; the cross-run cache keeps the values."""

import json

import numpy as np
import pytest
import soundfile as sf
import torch

from audiovae.metrics.registry import build_metric
from audiovae.reporting.records import from_row, read_csv
from audiovae.reporting.tracking import summary_keys
from tests.conftest import evaluate_folder, tone, write
from tests.test_perceptual import voiced

SR = 16000
NAMES = ["snr", "hf_energy_share", "rolloff_85", "dnsmos_ovrl"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("reference_scores")
    clips = root / "clips"
    write(clips / "speech.wav", voiced(1.5, SR, 140, 3), SR)
    write(clips / "tones.wav", tone(440, 1.5, SR, amp=0.3) + tone(5000, 1.5, SR, amp=0.05), SR)
    words = ["model=demo", "logger=none", f"metrics.names=[{','.join(NAMES)}]", "outputs.listening_files=0"]
    words += ["outputs.save_plots=false", "model.options.griffin_lim_iters=4", f"cache.dir={root / 'cache'}"]
    first = evaluate_folder(clips, root / "first", *words).out_dir
    again = evaluate_folder(clips, root / "again", *words).out_dir  # its shared values from the cache
    return first, again


def test_the_reference_free_metrics_score_the_reference_itself(runs):
    first, _ = runs
    rows = {r["file"]: r for r in read_csv(first / "results.csv")}
    for name, row in rows.items():
        assert "reference_snr" not in row  # a metric against the reference has nothing to say of it
        reference, _ = sf.read(first / "audio" / f"{name}.reference.wav", dtype="float32")
        x = torch.from_numpy(reference)
        for metric in ("hf_energy_share", "rolloff_85", "dnsmos_ovrl"):
            alone = build_metric(metric, SR).accumulator().update(x, x).value().item()
            assert row[f"reference_{metric}"] == pytest.approx(alone, rel=1e-4), (name, metric)
    tones = rows["tones.wav"]
    assert tones["reference_hf_energy_share"] > tones["base_hf_energy_share"]  # the decode lost the 5 kHz tone


def test_the_summary_report_and_dashboard_carry_the_reference_and_the_verdict_stays_paired(runs):
    first, _ = runs
    summary = json.loads((first / "summary.json").read_text())
    share = summary["metrics"]["hf_energy_share"]
    rows = read_csv(first / "results.csv")
    assert share["variants"]["reference"]["mean"] == pytest.approx(
        np.mean([r["reference_hf_energy_share"] for r in rows])
    )
    assert "reference" not in summary["metrics"]["snr"]["variants"]
    assert share["comparison"]["n"] == 2  # base against enhanced, as before
    keys = summary_keys(summary)
    assert keys["eval/reference/dnsmos_ovrl"] == summary["metrics"]["dnsmos_ovrl"]["variants"]["reference"]["mean"]
    report = (first / "report.md").read_text()
    header = next(line for line in report.splitlines() if line.startswith("| metric") and "reference" in line)
    assert header.index("reference") < header.index("base")
    snr_row = next(line for line in report.splitlines() if line.startswith("| snr"))
    assert "| – |" in snr_row  # no reference value for a metric against the reference
    columns = {c["column"]: c for c in read_csv(first / "columns.csv")}
    assert columns["reference_dnsmos_ovrl"]["unit"] == "MOS"
    assert "reference: the original's own value of the metrics that read one signal (hf_energy_share" in report


def test_a_row_read_back_and_a_cached_file_keep_the_reference_values(runs):
    first, again = runs
    rows = read_csv(first / "results.csv")
    back = from_row(rows[0], NAMES)
    assert back.metrics["reference"]["dnsmos_ovrl"] == rows[0]["reference_dnsmos_ovrl"]
    cached = {r["file"]: r for r in read_csv(again / "results.csv")}
    for row in rows:
        assert cached[row["file"]]["reference_dnsmos_ovrl"] == row["reference_dnsmos_ovrl"]
    summary = json.loads((again / "summary.json").read_text())
    assert summary["counts"]["from_cache"] == 2


def test_report_html_shows_the_reference_column_and_says_what_it_is(runs, page):
    first, _ = runs
    page.page.goto((first / "report.html").as_uri())
    header = page.page.locator("table.summary thead th").all_inner_texts()
    assert header[:3] == ["metric", "reference", "vocoder ceiling"]
    cells = page.page.locator("table.summary tbody tr").first.locator("td").all_inner_texts()
    assert cells[0].startswith("snr") and cells[1] == "–"  # no reference value for a metric against it
    assert page.page.get_by_text("reference: the original's own value").count() == 1
    assert page.errors == []
