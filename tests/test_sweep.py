"""Sweeps: one encode per file, each setting equal to its stand-alone evaluation, resume, the best config."""

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest

from audiovae import runs as runs_module
from audiovae.config import ConfigError, EvalConfig, compose
from audiovae.evaluation.file_evaluator import FileEvaluator
from audiovae.evaluation.job import run_evaluation
from audiovae.models.enhanced_vae import EnhancedVAE
from audiovae.reporting.records import read_csv
from audiovae.runs.selection import select_best
from audiovae.sections import resolve_sections
from tests.conftest import write_three_clips
from tests.wandb_offline import read_offline_run

ROOT = Path(__file__).resolve().parents[1]
FAST = [
    "model=demo",
    "data.max_seconds=1.0",
    "data.batch_size=1",
    "metrics.bootstrap_samples=200",
    "outputs.save_audio=false",
    "select.metric=lsd_hf",
    "select.guards=[]",
    "select.min_improvement.spectral_correlation=-50",
]
GAINS = "sweep.enhancement.gain=[1.0,1.4,1.8]"
NO_PLOTS = "outputs.save_plots=false"  # a run whose numbers alone the test reads (the sweep's figures are checked)
COLUMNS = ("base_snr", "vocoder_snr", "enhanced_snr", "enhanced_hf_retention", "enhanced_mel_l1", "delta_lsd")


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    return write_three_clips(tmp_path_factory.mktemp("sweep_clips"))


def cfg_for(clips, out, *overrides):
    return compose(
        "eval",
        [*FAST, f"data.dir={clips}", f"out_dir={out}", *overrides],
        schema=EvalConfig,
        validators=[resolve_sections],
    )


class EncodeCounter:
    def __init__(self, monkeypatch):
        self.segments = 0
        original = EnhancedVAE.encode

        def counting(model, mel, generator=None):
            self.segments += mel.shape[0]
            return original(model, mel, generator)

        monkeypatch.setattr(EnhancedVAE, "encode", counting)


@pytest.fixture(scope="module")
def sweep_run(clips, tmp_path_factory):
    os.environ.pop(runs_module.RUN_DIR_ENV, None)
    out = tmp_path_factory.mktemp("sweep") / "run"
    mp = pytest.MonkeyPatch()
    counter = EncodeCounter(mp)
    try:
        run_evaluation(cfg_for(clips, out, GAINS))
    finally:
        mp.undo()
    return out, counter.segments


def rows_of(folder: Path) -> dict:
    return {r["file"]: r for r in read_csv(folder / "results.csv")}


def test_each_file_is_encoded_once_for_all_settings(sweep_run):
    out, encoded = sweep_run
    assert encoded == 3  # three files, not three files x three settings
    assert sorted(p.name for p in (out / "settings").iterdir()) == ["gain=1.0", "gain=1.4", "gain=1.8"]


def test_every_setting_equals_its_stand_alone_evaluation(sweep_run, clips, tmp_path):
    out, _ = sweep_run
    for gain in ("1.0", "1.8"):
        alone = tmp_path / gain
        run_evaluation(cfg_for(clips, alone, f"enhancement.gain={gain}", "logger=none"))
        swept, single = rows_of(out / "settings" / f"gain={gain}"), rows_of(alone)
        assert swept.keys() == single.keys()
        for f in single:
            for col in COLUMNS:
                assert swept[f][col] == pytest.approx(single[f][col], rel=1e-5, abs=1e-9), (gain, f, col)
        # the saved per-setting config reproduces that setting alone (same run hash as the stand-alone run)
        assert (out / "settings" / f"gain={gain}" / "run_hash.txt").read_text() == (alone / "run_hash.txt").read_text()
    base = [rows_of(out / "settings" / f"gain={g}") for g in ("1.0", "1.4", "1.8")]
    assert all(b[f]["base_snr"] == base[0][f]["base_snr"] for b in base for f in b)  # shared, computed once


def test_sweep_table_plot_and_best_setting_that_evaluates_to_the_reported_numbers(sweep_run, tmp_path):
    out, _ = sweep_run
    table = {r["setting"]: r for r in read_csv(out / "sweep.csv")}
    assert list(table) == ["gain=1.0", "gain=1.4", "gain=1.8"]
    for name, row in table.items():
        summary = json.loads((out / "settings" / name / "summary.json").read_text())
        comp = summary["metrics"]["lsd_hf"]["comparison"]
        assert row["lsd_hf_delta"] == pytest.approx(comp["headline_delta"])
        assert row["enhancement.gain"] == float(name.split("=")[1])
    assert table["gain=1.0"]["snr_delta"] == 0.0  # gain 1 is the identity: the base decode exactly
    allowed = [
        r for r in table.values() if r["spectral_correlation_improvement"] >= -50 and r["lsd_hf_improvement"] > 0
    ]
    best = max(allowed, key=lambda r: r["lsd_hf_improvement"])
    assert f"`{best['setting']}` **(best)**" in (out / "sweep.md").read_text()
    assert (out / "sweep.png").stat().st_size > 0
    page = (out / "sweep.html").read_text()  # the same table, and each setting's own page
    assert f"{best['setting']} (best)" in page
    for name in table:
        assert (
            f'href="settings/{quote(name)}/report.html"' in page and (out / "settings" / name / "report.html").exists()
        )
    best_cfg = compose(
        str(out / "best_config.yaml"),
        [f"out_dir={tmp_path / 'best'}", "logger=none"],
        schema=EvalConfig,
        validators=[resolve_sections],
    )
    assert not best_cfg.sweep and best_cfg.enhancement.gain == best["enhancement.gain"]
    run_evaluation(best_cfg)
    again = json.loads((tmp_path / "best" / "summary.json").read_text())["metrics"]["lsd_hf"]["comparison"]
    assert again["headline_delta"] == pytest.approx(best["lsd_hf_delta"], rel=1e-5)


def test_the_default_guards_refuse_a_setting_that_buys_lsd_hf_with_damage(sweep_run):
    # gain 1.4 improves lsd_hf a little but worsens mel_distance, lsd_lf and spectral_correlation on every file:
    # the rule of audiovae 0.2 (largest improvement, loose constraints) called such a setting "best"
    out, _ = sweep_run
    summaries = {
        n: json.loads((out / "settings" / n / "summary.json").read_text()) for n in ("gain=1.0", "gain=1.4", "gain=1.8")
    }
    assert summaries["gain=1.4"]["metrics"]["lsd_hf"]["comparison"]["headline_delta"] < 0  # lsd_hf improves
    defaults = compose("eval", [], schema=EvalConfig, validators=[resolve_sections])
    best, reason = select_best(summaries, defaults.select, defaults.metrics.alpha)
    assert best is None and "gain=1.4 significantly worse in" in reason


def test_each_setting_is_a_wandb_run_of_one_group(sweep_run):
    out, _ = sweep_run
    logged = [
        read_offline_run(next((out / "settings" / n / "wandb").glob("offline-run-*")))
        for n in ("gain=1.0", "gain=1.4", "gain=1.8")
    ]
    assert {r["job_type"] for r in logged} == {"sweep"}
    assert len({r["group"] for r in logged}) == 1 and logged[0]["group"].startswith("sweep-")
    assert [r["config"]["enhancement"]["gain"] for r in logged] == [1.0, 1.4, 1.8]
    assert [r["config"]["sweep_setting"] for r in logged] == [{"enhancement.gain": g} for g in (1.0, 1.4, 1.8)]
    top = read_offline_run(next((out / "wandb").glob("offline-run-*")))
    assert top["job_type"] == "sweep_summary" and "sweep/settings" in top["tables"]


@pytest.mark.slow
def test_interrupted_sweep_resumes_per_setting_and_file(sweep_run, clips, tmp_path, monkeypatch):
    out, _ = sweep_run
    original, batches = FileEvaluator.step, []

    def crash_on_second_batch(self, batch):
        batches.append(batch)
        if len(batches) == 2:
            raise RuntimeError("simulated crash")
        return original(self, batch)

    monkeypatch.setattr(FileEvaluator, "step", crash_on_second_batch)
    with pytest.raises(RuntimeError, match="simulated crash"):
        run_evaluation(cfg_for(clips, tmp_path / "r", GAINS, "logger=none", NO_PLOTS))
    monkeypatch.setattr(FileEvaluator, "step", original)
    counter = EncodeCounter(monkeypatch)
    run_evaluation(cfg_for(clips, tmp_path / "r", GAINS, "logger=none", NO_PLOTS))
    assert counter.segments == 2  # the file finished before the interruption is not encoded again
    for name in ("gain=1.0", "gain=1.4", "gain=1.8"):
        resumed, straight = rows_of(tmp_path / "r" / "settings" / name), rows_of(out / "settings" / name)
        for f in straight:
            for col in COLUMNS:
                assert resumed[f][col] == pytest.approx(straight[f][col], rel=1e-5, abs=1e-9)


def test_sweeping_anything_but_the_enhancement_is_a_clear_error(clips, tmp_path):
    with pytest.raises(ConfigError, match="only enhancement"):
        run_evaluation(cfg_for(clips, tmp_path / "x", "sweep.data.max_seconds=[1.0,2.0]"))
    with pytest.raises(ConfigError, match="non-empty list"):
        run_evaluation(cfg_for(clips, tmp_path / "y", "sweep.enhancement.gain=1.2"))


@pytest.mark.slow
def test_ddp_sweep_with_two_cpu_processes_equals_one_process(sweep_run, clips, tmp_path):
    out, _ = sweep_run
    env = {k: v for k, v in os.environ.items() if k != runs_module.RUN_DIR_ENV}
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "evaluate.py"),
            *FAST,
            GAINS,
            NO_PLOTS,
            "trainer=ddp_cpu2",
            "logger=none",
            f"data.dir={clips}",
            f"out_dir={tmp_path / 'ddp'}",
        ],
        capture_output=True,
        text=True,
        env={**env, "WANDB_MODE": "offline"},
        cwd=ROOT,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    for name in ("gain=1.0", "gain=1.4", "gain=1.8"):
        ddp, single = rows_of(tmp_path / "ddp" / "settings" / name), rows_of(out / "settings" / name)
        assert ddp.keys() == single.keys()
        for f in single:  # mel-domain values: each DDP process runs torch with fewer threads, so float32
            for col in ("base_mel_l1", "enhanced_mel_l1", "enhanced_mel_psnr"):  # convolutions round differently,
                assert ddp[f][col] == pytest.approx(single[f][col], rel=1e-4)  # which Griffin-Lim amplifies
        ranks = sorted(p.name for p in (tmp_path / "ddp" / "settings" / name / "partial").glob("rows.rank*.jsonl"))
        assert ranks == ["rows.rank0.jsonl", "rows.rank1.jsonl"]
    assert len(read_csv(tmp_path / "ddp" / "sweep.csv")) == 3
    assert f"report: {tmp_path / 'ddp' / 'sweep.md'}" in done.stdout
