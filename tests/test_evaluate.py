"""End to end on the tiny model: outputs, their agreement, W&B offline content, resume, bad input, DDP."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from audiovae import runs as runs_module
from audiovae.cli import main
from audiovae.evaluation import job as run_module
from audiovae.evaluation.devices import FilesRun
from audiovae.evaluation.file_evaluator import FileEvaluator
from audiovae.metrics import functional as F
from audiovae.metrics.scoring import scoring
from audiovae.reporting.records import read_csv
from tests.conftest import chirp, evaluate_folder, noise, tone, write
from tests.wandb_offline import read_offline_run

ROOT = Path(__file__).resolve().parents[1]
FAST = ["model=tiny", "data.max_seconds=1.0", "metrics.bootstrap_samples=200"]
NO_PLOTS = "outputs.save_plots=false"  # a run whose numbers alone the test reads (reference_run's figures are checked)
GOOD = ["tone.wav", "sub/chirp.flac", "noise.wav", "long.wav"]
BAD = {"broken.wav": "unreadable", "empty.wav": "empty", "nan.wav": "NaN or inf", "silent.wav": "silent"}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("clips")
    write(d / "tone.wav", tone(440, 0.8, 22050), 22050, "PCM_16")
    write(
        d / "sub" / "chirp.flac",
        np.stack([chirp(100, 6000, 1.2, 44100), noise(1.2, 44100, amp=0.05)], 1),
        44100,
        "PCM_24",
    )
    write(d / "noise.wav", noise(0.6, 16000), 16000)
    write(d / "long.wav", chirp(200, 7000, 2.5, 16000) + noise(2.5, 16000, amp=0.02), 16000)
    (d / "broken.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunk")
    sf.write(str(d / "empty.wav"), np.zeros(0, dtype=np.float32), 16000)
    bad = noise(0.5, 16000)
    bad[10] = np.nan
    write(d / "nan.wav", bad, 16000)
    write(d / "silent.wav", np.zeros(8000, dtype=np.float32), 16000)
    return d


def evaluate(data_dir, out_dir, *overrides):
    return evaluate_folder(data_dir, out_dir, *FAST, *overrides)


@pytest.fixture(scope="module")
def reference_run(data_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "eval"
    evaluate(data_dir, out, "data.batch_size=3")
    return out


def metric_columns(rows):
    return [
        {
            k: v
            for k, v in r.items()
            if k.split("_")[0] in ("file", "status", "error", "vocoder", "base", "enhanced", "delta")
        }
        for r in rows
    ]


def assert_same_rows(a, b, rel=1e-9, deltas=True):
    """Same files, statuses and metric values. Defaults: the same computation, equal values. Across batch
    compositions (batch size, DDP shards, chunking) batched float32 convolutions round differently: values then
    agree to rel 1e-4, and deltas (functions of those values, checked exactly elsewhere) are not compared, since a
    percent change of a near-zero value amplifies rounding without bound."""
    ca, cb = metric_columns(a), metric_columns(b)
    assert [r["file"] for r in ca] == [r["file"] for r in cb]
    for ra, rb in zip(ca, cb):
        for k in ra:
            if not isinstance(ra[k], float):
                assert ra[k] == rb[k], k
            elif math.isnan(ra[k]):
                assert math.isnan(rb[k]), k
            elif deltas or not k.startswith("delta_"):
                assert ra[k] == pytest.approx(rb[k], rel=rel, abs=1e-9), k


ACROSS_BATCHES = dict(rel=1e-4, deltas=False)


def test_first_channel_rule_evaluates_a_stereo_file_as_its_channel_0(tmp_path):
    left, right = chirp(200, 7000, 1.0, 16000), noise(1.0, 16000, amp=0.3)
    write(tmp_path / "stereo" / "a.wav", np.stack([left, right], axis=1), 16000)
    write(tmp_path / "mono" / "a.wav", left, 16000)
    evaluate(
        tmp_path / "stereo",
        tmp_path / "first",
        "data.channels=first",
        "logger=none",
        "outputs.save_audio=false",
        NO_PLOTS,
    )
    evaluate(tmp_path / "stereo", tmp_path / "mix", "logger=none", "outputs.save_audio=false", NO_PLOTS)
    evaluate(tmp_path / "mono", tmp_path / "alone", "logger=none", "outputs.save_audio=false", NO_PLOTS)
    first, mix, alone = (read_csv(tmp_path / name / "results.csv") for name in ("first", "mix", "alone"))
    assert_same_rows(first, alone)
    assert first[0]["channels_in"] == 2 and mix[0]["base_snr"] != pytest.approx(first[0]["base_snr"], rel=1e-3)


def test_every_file_has_a_row_and_bad_files_say_why(reference_run):
    rows = {r["file"]: r for r in read_csv(reference_run / "results.csv")}
    assert sorted(rows) == sorted(GOOD + list(BAD))
    for name in GOOD:
        assert rows[name]["status"] == "ok" and rows[name]["error"] == ""
        for col in (
            "vocoder_snr",
            "base_snr",
            "enhanced_snr",
            "delta_snr",
            "base_mel_l1",
            "time_encode",
            "time_enhancer",
            "time_vocoder",
            "time_metrics",
        ):
            assert math.isfinite(rows[name][col]), (name, col)
        assert "vocoder_mel_l1" not in rows[name]
    for name, reason in BAD.items():
        assert rows[name]["status"] == "error" and reason in rows[name]["error"]
    assert rows["sub/chirp.flac"]["sample_rate_in"] == 44100 and rows["sub/chirp.flac"]["channels_in"] == 2
    assert rows["long.wav"]["duration_s"] == pytest.approx(2.5) and rows["long.wav"]["evaluated_s"] == pytest.approx(
        1.0
    )


def test_per_file_metrics_equal_the_metric_functions_on_the_saved_audio(reference_run):
    rows = {r["file"]: r for r in read_csv(reference_run / "results.csv")}
    for name, stem in (("tone.wav", "tone.wav"), ("sub/chirp.flac", "sub__chirp.flac")):  # unique: extension kept
        wav = {
            v: torch.from_numpy(sf.read(reference_run / "audio" / f"{stem}.{v}.wav")[0]).unsqueeze(0)
            for v in ("reference", "vocoder", "base", "enhanced")
        }
        for variant in ("vocoder", "base", "enhanced"):
            y, x = wav[variant], wav["reference"]
            assert rows[name][f"{variant}_snr"] == pytest.approx(F.snr(y, x).item(), rel=1e-6, abs=1e-9)
            assert rows[name][f"{variant}_lsd"] == pytest.approx(F.lsd(y, x, 16000).item(), rel=1e-6)
            assert rows[name][f"{variant}_mel_distance"] == pytest.approx(F.mel_distance(y, x, 16000).item(), rel=1e-6)
        assert rows[name]["delta_snr"] == pytest.approx(rows[name]["enhanced_snr"] - rows[name]["base_snr"])
        base, enh = rows[name]["base_lsd"], rows[name]["enhanced_lsd"]
        assert rows[name]["delta_lsd"] == pytest.approx(100 * (enh - base) / abs(base))
    assert sf.info(str(reference_run / "audio" / "tone.wav.base.wav")).subtype == "FLOAT"
    assert (reference_run / "plots" / "tone.wav.png").exists() and (reference_run / "plots" / "summary.png").exists()


def test_summary_aggregates_equal_the_csv_and_the_report_shows_them(reference_run):
    rows = read_csv(reference_run / "results.csv")
    summary = json.loads((reference_run / "summary.json").read_text())
    assert summary["counts"] == {"files": 8, "ok": 4, "failed": 4, "nan_values": 0, "from_cache": 0}
    ok = [r for r in rows if r["status"] == "ok"]
    for name in ("snr", "hf_retention", "mel_psnr"):
        for variant in ("base", "enhanced"):
            assert summary["metrics"][name]["variants"][variant]["mean"] == pytest.approx(
                np.mean([r[f"{variant}_{name}"] for r in ok])
            )
        score = scoring(name).score  # what the comparison compares: hf_retention's distance to 100 % (dB)
        comp = summary["metrics"][name]["comparison"]
        assert comp["n"] == 4 and comp["delta"] == pytest.approx(
            np.mean([score(r[f"enhanced_{name}"]) - score(r[f"base_{name}"]) for r in ok])
        )
    assert [r["enhanced_hf_retention_from_target"] for r in ok] == pytest.approx(
        [float(scoring("hf_retention").score(r["enhanced_hf_retention"])) for r in ok]
    )
    assert summary["metrics"]["snr"]["comparison"]["delta_kind"] == "absolute"
    assert summary["metrics"]["lsd"]["comparison"]["delta_kind"] == "percent"
    assert summary["metrics"]["hf_retention"]["direction"] == "target"
    assert summary["run"]["versions"]["torch"] and summary["run"]["config"]["model"]["name"] == "tiny"
    report = (reference_run / "report.md").read_text()
    assert "| metric | vocoder ceiling | base | enhanced | Δ | better in |" in report
    assert "## Conclusion" in report and "broken.wav" in report and "### sub/chirp.flac" in report
    snr_mean = summary["metrics"]["snr"]["variants"]["base"]["mean"]
    assert f"{snr_mean:.3f}" in report


def test_wandb_offline_run_matches_results_csv(reference_run):
    run_dir = next((reference_run / "wandb").glob("offline-run-*"))
    logged = read_offline_run(run_dir)
    assert logged["job_type"] == "eval"
    assert logged["config"]["enhancement"]["gain"] == 1.4 and logged["config"]["model"]["name"] == "tiny"
    summary = json.loads((reference_run / "summary.json").read_text())
    for name in ("snr", "lsd", "mel_l1"):
        for variant in ("base", "enhanced"):
            assert logged["summary"][f"eval/{variant}/{name}"] == pytest.approx(
                summary["metrics"][name]["variants"][variant]["mean"]
            )
        assert logged["summary"][f"eval/delta/{name}"] == pytest.approx(
            summary["metrics"][name]["comparison"]["headline_delta"]
        )
        assert f"eval/win_rate/{name}" in logged["summary"]
    assert logged["summary"]["eval/n_failed"] == 4
    table = logged["tables"]["eval/files"]
    csv_rows = read_csv(reference_run / "results.csv")
    assert len(table["data"]) == len(csv_rows)
    for values, row in zip(table["data"], csv_rows):
        logged_row = dict(zip(table["columns"], values))
        assert logged_row["file"] == row["file"] and logged_row["status"] == row["status"]
        for col in ("base_snr", "enhanced_snr", "delta_hf_retention", "enhanced_mel_psnr"):
            if row["status"] == "ok":
                assert logged_row[col] == pytest.approx(row[col], rel=1e-9)
        if row["status"] == "ok":
            assert logged_row["audio_enhanced"] == "Audio" and logged_row["spectrogram"] == "Image"


def test_same_config_same_files_same_metrics_whatever_the_batch_size(data_dir, reference_run, tmp_path):
    evaluate(data_dir, tmp_path / "same", "data.batch_size=3", "logger=none", NO_PLOTS)
    assert_same_rows(read_csv(reference_run / "results.csv"), read_csv(tmp_path / "same" / "results.csv"))
    evaluate(data_dir, tmp_path / "again", "data.batch_size=1", "logger=none", NO_PLOTS)
    assert_same_rows(
        read_csv(reference_run / "results.csv"), read_csv(tmp_path / "again" / "results.csv"), **ACROSS_BATCHES
    )
    assert not (tmp_path / "again" / "wandb").exists()


def test_interrupted_run_resumes_and_ends_like_an_uninterrupted_one(data_dir, reference_run, tmp_path, monkeypatch):
    out = tmp_path / "resumed"
    original, batches = FileEvaluator.step, []

    def crash_on_second_batch(self, batch):
        batches.append(batch)
        if len(batches) == 2:
            raise RuntimeError("simulated crash")
        return original(self, batch)

    monkeypatch.setattr(FileEvaluator, "step", crash_on_second_batch)
    with pytest.raises(RuntimeError, match="simulated crash"):
        evaluate(data_dir, out, "data.batch_size=3", "logger=none", NO_PLOTS)
    finished = (out / "partial" / "rows.rank0.jsonl").read_text().splitlines()
    assert len(finished) == 3 and not (out / "results.csv").exists()
    monkeypatch.setattr(FileEvaluator, "step", original)
    evaluate(data_dir, out, "data.batch_size=3", "logger=none", NO_PLOTS)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["run"]["resumed_files"] == 3
    assert_same_rows(read_csv(reference_run / "results.csv"), read_csv(out / "results.csv"))


def test_resuming_with_another_config_is_refused(data_dir, tmp_path):
    from audiovae.config import ConfigError

    evaluate(data_dir, tmp_path / "r", "logger=none", "data.files=[" + str(data_dir / "noise.wav") + "]")
    with pytest.raises(ConfigError, match="another config"):
        evaluate(data_dir, tmp_path / "r", "logger=none", "enhancement.gain=2.0")


def test_chunking_evaluates_whole_files_and_equals_cutting_for_short_ones(data_dir, reference_run, tmp_path):
    evaluate(data_dir, tmp_path / "chunked", "data.chunking=true", "data.chunk_overlap_seconds=0.2", "logger=none")
    rows = {r["file"]: r for r in read_csv(tmp_path / "chunked" / "results.csv")}
    ref = {r["file"]: r for r in read_csv(reference_run / "results.csv")}
    assert rows["long.wav"]["evaluated_s"] == pytest.approx(2.5)
    # The long file streams out segment by segment (joined, measured, written as it goes): its values equal the
    # whole-file metric functions on the joined audio it wrote.
    wav = {
        v: torch.from_numpy(sf.read(tmp_path / "chunked" / "audio" / f"long.wav.{v}.wav")[0])
        for v in ("reference", "vocoder", "base", "enhanced")
    }
    assert len(wav["enhanced"]) == 40000
    for variant in ("vocoder", "base", "enhanced"):
        y, x = wav[variant], wav["reference"]
        row = rows["long.wav"]
        for name, fn in (
            ("snr", F.snr),
            ("si_sdr", F.si_sdr),
            ("spectral_correlation", F.spectral_correlation),
            ("hf_retention", lambda y, x: F.hf_retention(y, x, 16000)),
            ("lsd_hf", lambda y, x: F.lsd(y, x, 16000, band="high")),
            ("mel_distance", lambda y, x: F.mel_distance(y, x, 16000)),
        ):
            assert row[f"{variant}_{name}"] == pytest.approx(fn(y, x).item(), rel=1e-5, abs=1e-9), (variant, name)
    assert (tmp_path / "chunked" / "plots" / "long.wav.png").stat().st_size > 10_000
    for name in ("tone.wav", "noise.wav"):  # shorter than one segment: the cut run's values (other batches)
        assert rows[name]["base_snr"] == pytest.approx(ref[name]["base_snr"], rel=1e-4)
        assert rows[name]["enhanced_mel_l1"] == pytest.approx(ref[name]["enhanced_mel_l1"], rel=1e-4)


def cli(*args, env_extra=None):
    env = {**os.environ, "WANDB_MODE": "offline", **(env_extra or {})}
    env.pop(runs_module.RUN_DIR_ENV, None)
    return subprocess.run(
        [sys.executable, str(ROOT / "evaluate.py"), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=600,
    )


@pytest.mark.parametrize(
    "args, message",
    [
        (["data.dir=/does/not/exist"], "data.dir '/does/not/exist' is not a folder"),
        (["data.bogus=1"], "config key 'data.bogus'"),
        (["enhancement.gian=1"], "config key 'enhancement.gian'"),
    ],
)
@pytest.mark.slow
def test_start_up_errors_are_one_line_with_exit_2(args, message, tmp_path):
    done = cli("model=tiny", "logger=none", f"out_dir={tmp_path}", *args)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_exit_status_reflects_failures(data_dir, tmp_path, capsys):
    empty = tmp_path / "nothing"
    empty.mkdir()
    (empty / "notes.txt").write_text("no audio")
    done = cli(*FAST, "logger=none", f"data.dir={empty}", f"out_dir={tmp_path / 'a'}")  # a real process's status
    assert done.returncode == 2 and "no files matching" in done.stderr
    os.environ.pop(runs_module.RUN_DIR_ENV, None)
    only_bad = [str(data_dir / n) for n in BAD]
    assert (
        main(
            "eval", [*FAST, "logger=none", NO_PLOTS, f"data.files=[{','.join(only_bad)}]", f"out_dir={tmp_path / 'b'}"]
        )
        == 1
    )
    assert "evaluated 0/4" in capsys.readouterr().out
    mixed = f"data.files=[{data_dir / 'noise.wav'},{data_dir / 'silent.wav'}]"
    assert main("eval", [*FAST, "logger=none", NO_PLOTS, mixed, f"out_dir={tmp_path / 'c'}"]) == 0
    assert "report:" in capsys.readouterr().out
    assert main("eval", [*FAST, "logger=none", NO_PLOTS, "strict=true", mixed, f"out_dir={tmp_path / 'd'}"]) == 1


@pytest.mark.slow
def test_saved_config_reproduces_the_run(data_dir, tmp_path):
    first = tmp_path / "first"
    files = f"data.files=[{data_dir / 'tone.wav'},{data_dir / 'noise.wav'}]"
    os.environ.pop(runs_module.RUN_DIR_ENV, None)
    assert main("eval", [*FAST, "logger=none", NO_PLOTS, files, f"out_dir={first}"]) == 0
    assert main("eval", ["--config", str(first / "config.yaml"), f"out_dir={tmp_path / 'again'}"]) == 0
    assert_same_rows(read_csv(first / "results.csv"), read_csv(tmp_path / "again" / "results.csv"))


WORKER_RANK = FilesRun("cpu", 2, is_global_zero=False, wall_s=0.0)  # what a DDP rank other than 0 sees


@pytest.mark.parametrize("sweep", [[], ["sweep.enhancement.gain=[1.0,1.4]"]], ids=["evaluation", "sweep"])
def test_a_worker_rank_exits_0_and_prints_nothing(sweep, data_dir, tmp_path, monkeypatch, capsys):
    # Lightning's launcher kills every process, rank 0 included, as soon as one rank exits non-zero; a worker rank
    # that reported "0 files ok" with status 1 killed rank 0 before it wrote the results whenever it finished first
    from audiovae import cli as cli_module

    def worker_test(*args, **kwargs):
        return WORKER_RANK

    monkeypatch.setattr(run_module, "run_test", worker_test)
    monkeypatch.setenv("LOCAL_RANK", "1")  # as Lightning's launcher sets it in the processes it starts
    status = cli_module.main(
        "eval", [*FAST, "logger=none", f"data.files=[{data_dir / 'tone.wav'}]", f"out_dir={tmp_path}", *sweep]
    )
    assert status == 0
    assert capsys.readouterr().out == ""
    assert not (tmp_path / "results.csv").exists() and not (tmp_path / "sweep.csv").exists()


def test_lightning_on_one_device_gives_the_rows_of_the_plain_loop(data_dir, reference_run, tmp_path, monkeypatch):
    """The default trainer section runs the files in this process without Lightning; any other Trainer argument
    (here `benchmark`) runs them under Trainer.test: same rows, same device."""
    from audiovae.evaluation import devices as runner

    lightning_runs = []
    original = runner._lightning_test
    monkeypatch.setattr(runner, "_lightning_test", lambda *a: lightning_runs.append(a) or original(*a))
    evaluate(data_dir, tmp_path / "lightning", "data.batch_size=3", "trainer.benchmark=false", "logger=none", NO_PLOTS)
    assert len(lightning_runs) == 1
    assert_same_rows(read_csv(reference_run / "results.csv"), read_csv(tmp_path / "lightning" / "results.csv"))
    runs = [json.loads((out / "summary.json").read_text())["run"] for out in (reference_run, tmp_path / "lightning")]
    assert [(r["device"], r["world_size"]) for r in runs] == [("cpu", 1), ("cpu", 1)]


@pytest.mark.parametrize(
    "trainer, alone",
    [
        ({"accelerator": "auto", "devices": 1, "strategy": "auto", "num_nodes": 1, "precision": "32-true"}, True),
        ({"accelerator": "cpu", "devices": 1}, True),
        ({"accelerator": "cpu", "devices": 2, "strategy": "ddp"}, False),
        ({"accelerator": "auto", "devices": "auto"}, False),
        ({"accelerator": "auto", "devices": 1, "precision": "bf16-mixed"}, False),
        ({"accelerator": "auto", "devices": 1, "limit_test_batches": 2}, False),
    ],
    ids=["default", "cpu", "ddp", "devices_auto", "bf16_mixed", "other_argument"],
)
def test_only_one_float32_device_and_no_other_trainer_argument_runs_without_lightning(trainer, alone):
    from omegaconf import OmegaConf

    from audiovae.evaluation.devices import single_process

    assert single_process(OmegaConf.create(trainer)) is alone


@pytest.mark.slow
def test_ddp_with_two_cpu_processes_equals_one_process(data_dir, reference_run, tmp_path):
    done = cli(
        *FAST,
        NO_PLOTS,
        "trainer=ddp_cpu2",
        "data.batch_size=3",
        "logger=none",
        f"data.dir={data_dir}",
        f"out_dir={tmp_path / 'ddp'}",
    )
    assert done.returncode == 0, done.stderr[-3000:]
    rows = read_csv(tmp_path / "ddp" / "results.csv")
    assert len(rows) == 8 and len({r["file"] for r in rows}) == 8
    assert_same_rows(read_csv(reference_run / "results.csv"), rows, **ACROSS_BATCHES)
    summary = json.loads((tmp_path / "ddp" / "summary.json").read_text())
    ref = json.loads((reference_run / "summary.json").read_text())
    assert summary["run"]["world_size"] == 2
    for name in ("snr", "lsd_hf", "mel_psnr"):
        assert summary["metrics"][name]["comparison"]["headline_delta"] == pytest.approx(
            ref["metrics"][name]["comparison"]["headline_delta"], rel=1e-2, abs=1e-3
        )
    ranks = sorted(p.name for p in (tmp_path / "ddp" / "partial").glob("rows.rank*.jsonl"))
    assert ranks == ["rows.rank0.jsonl", "rows.rank1.jsonl"]
