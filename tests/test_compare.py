"""`python -m audiovae.compare`: runs aligned by file, the expected deltas, refusal of incomparable runs."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from audiovae import compare
from audiovae import runs as runs_module
from audiovae.config import EvalConfig, compose
from audiovae.evaluation.job import run_evaluation
from audiovae.metrics.scoring import scoring
from audiovae.reporting.records import read_csv
from audiovae.sections import resolve_sections
from tests.conftest import chirp, noise, tone, write
from tests.wandb_offline import read_offline_run

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    os.environ.pop(runs_module.RUN_DIR_ENV, None)
    clips = tmp_path_factory.mktemp("clips")
    write(clips / "tone.wav", tone(440, 1.0, 16000) + tone(5000, 1.0, 16000, amp=0.1), 16000)
    write(clips / "chirp.wav", chirp(200, 7000, 1.0, 16000), 16000)
    write(clips / "noisy.wav", tone(300, 1.0, 16000) + noise(1.0, 16000, amp=0.05), 16000)
    out = tmp_path_factory.mktemp("runs")
    for name, gain in (("gain10", 1.0), ("gain16", 1.6)):
        cfg = compose(
            "eval",
            [
                "model=demo",
                f"data.dir={clips}",
                "data.max_seconds=1.0",
                "logger=none",
                "outputs.save_audio=false",
                "outputs.save_plots=false",
                f"enhancement.gain={gain}",
                "metrics.bootstrap_samples=200",
                f"out_dir={out / name}",
            ],
            schema=EvalConfig,
            validators=[resolve_sections],
        )
        run_evaluation(cfg)
    return out / "gain10", out / "gain16"


def test_compare_gives_the_deltas_of_the_two_results_files(two_runs, tmp_path):
    a, b = two_runs
    rc = compare.main([str(a), str(b), "--out", str(tmp_path / "cmp"), "--bootstrap", "200"])
    assert rc == 0
    rows_a = {r["file"]: r for r in read_csv(a / "results.csv")}
    rows_b = {r["file"]: r for r in read_csv(b / "results.csv")}
    table = {r["metric"]: r for r in read_csv(tmp_path / "cmp" / "compare.csv")}
    for metric in ("snr", "hf_retention", "mel_l1", "lsd"):
        score = scoring(metric)  # hf_retention: the distance to its 100 % target (dB), lower is better
        va = score.score([rows_a[f][f"enhanced_{metric}"] for f in sorted(rows_a)])
        vb = score.score([rows_b[f][f"enhanced_{metric}"] for f in sorted(rows_a)])
        t = table[metric]
        assert t["n_files"] == 3 and t["a_mean"] == pytest.approx(va.mean()) and t["b_mean"] == pytest.approx(vb.mean())
        assert t["delta"] == pytest.approx((vb - va).mean())
        higher = score.higher_is_better
        assert t["b_win_rate"] == pytest.approx(np.mean(vb > va if higher else vb < va))
    per_file = [r for r in read_csv(tmp_path / "cmp" / "compare_files.csv") if r["metric"] == "snr"]
    assert {r["file"] for r in per_file} == set(rows_a)
    for r in per_file:
        assert r["delta_gain16"] == pytest.approx(rows_b[r["file"]]["enhanced_snr"] - rows_a[r["file"]]["enhanced_snr"])
    assert (tmp_path / "cmp" / "compare.png").stat().st_size > 0
    assert "| spectral_correlation ↑ | gain10 | gain16 | 3 |" in (tmp_path / "cmp" / "compare.md").read_text()
    assert "| hf_retention → 100 % | gain10 | gain16 | 3 |" in (tmp_path / "cmp" / "compare.md").read_text()
    # the base reconstructions are the same in both runs (only the enhancement differs): Δ 0
    compare.main([str(a), str(b), "--variant", "base", "--out", str(tmp_path / "base")])
    base = {r["metric"]: r for r in read_csv(tmp_path / "base" / "compare.csv")}
    assert base["snr"]["delta"] == pytest.approx(0.0, abs=1e-9) and base["snr"]["b_win_rate"] == 0


def test_compare_refuses_runs_of_another_model_unless_forced(two_runs, tmp_path, capsys):
    a, b = two_runs
    other = tmp_path / "other"
    shutil.copytree(b, other)
    cfg = yaml.safe_load((other / "config.yaml").read_text())
    cfg["frontend"]["fmax"] = 7000.0
    (other / "config.yaml").write_text(yaml.safe_dump(cfg))
    assert compare.main([str(a), str(other), "--out", str(tmp_path / "x")]) == 2
    assert "frontend.fmax: 8000.0 vs 7000.0" in capsys.readouterr().err
    assert compare.main([str(a), str(other), "--out", str(tmp_path / "y"), "--force"]) == 0
    assert "compared despite" in (tmp_path / "y" / "compare.md").read_text()
    assert compare.main([str(a), str(tmp_path / "nothing"), "--out", str(tmp_path / "z")]) == 2


def test_compare_refuses_a_run_whose_metrics_were_defined_otherwise(two_runs, tmp_path, capsys):
    a, b = two_runs
    other = tmp_path / "other_stft"
    shutil.copytree(b, other)
    cfg = yaml.safe_load((other / "config.yaml").read_text())
    cfg["metrics"]["lsd"]["n_fft"] = 1024
    (other / "config.yaml").write_text(yaml.safe_dump(cfg))
    assert compare.main([str(a), str(other), "--out", str(tmp_path / "x")]) == 2
    assert "metrics.lsd.n_fft: 2048 vs 1024" in capsys.readouterr().err


def test_compare_reads_a_run_saved_with_the_flat_metric_settings(two_runs, tmp_path, capsys):
    a, b = two_runs
    old = tmp_path / "flat"  # `metrics.lsd_n_fft` of the older layout: the same definition as `metrics.lsd.n_fft`
    shutil.copytree(b, old)
    cfg = yaml.safe_load((old / "config.yaml").read_text())
    del cfg["metrics"]["lsd"]
    cfg["metrics"].update(lsd_n_fft=2048, lsd_hop=512)
    (old / "config.yaml").write_text(yaml.safe_dump(cfg))
    assert compare.main([str(a), str(old), "--out", str(tmp_path / "same")]) == 0, capsys.readouterr().err
    cfg["metrics"]["lsd_hop"] = 256
    (old / "config.yaml").write_text(yaml.safe_dump(cfg))
    assert compare.main([str(a), str(old), "--out", str(tmp_path / "other")]) == 2
    assert "metrics.lsd.hop: 512 vs 256" in capsys.readouterr().err


@pytest.mark.slow
def test_compare_works_as_a_module_and_logs_to_wandb_offline(two_runs, tmp_path):
    a, b = two_runs
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "audiovae.compare",
            str(a),
            str(b),
            "--out",
            str(tmp_path / "c"),
            "--wandb",
            "--bootstrap",
            "100",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert "| snr (dB) ↑ | gain10 | gain16 |" in done.stdout  # every metric cell says its unit
    logged = read_offline_run(next((tmp_path / "c" / "wandb").glob("offline-run-*")))
    assert logged["job_type"] == "compare" and "compare/metrics" in logged["tables"]


def test_compare_refuses_runs_padded_otherwise_and_reads_old_runs_as_silence(two_runs, tmp_path, capsys):
    a, b = two_runs
    for name, change in (("repeat", "repeat"), ("old", None)):
        other = tmp_path / name
        shutil.copytree(b, other)
        cfg = yaml.safe_load((other / "config.yaml").read_text())
        if change is None:
            del cfg["data"]["pad"]  # written before data.pad existed: those runs padded with silence
        else:
            cfg["data"]["pad"] = change
        (other / "config.yaml").write_text(yaml.safe_dump(cfg))
    assert compare.main([str(a), str(tmp_path / "repeat"), "--out", str(tmp_path / "x")]) == 2
    assert "data.pad: 'silence' vs 'repeat'" in capsys.readouterr().err
    assert compare.main([str(a), str(tmp_path / "old"), "--out", str(tmp_path / "y")]) == 0
