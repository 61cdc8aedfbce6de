"""Faults that must not stop a batch or make it silently wrong: files that fail while they stream, truncated files,
resume after inputs were removed or changed, torn store lines, rows persisted per file, crafted checkpoints."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from audiovae import cli
from audiovae import runs as runs_module
from audiovae.audio.stream import SequentialReader
from audiovae.errors import AudioError
from audiovae.evaluation import streaming as engine
from audiovae.reporting.records import read_csv
from tests.conftest import chirp, tone, write

ROOT = Path(__file__).resolve().parents[1]
EVAL = ["model=tiny", "logger=none", "data.max_seconds=1.0", "metrics.bootstrap_samples=50", "outputs.save_plots=false"]


@pytest.fixture
def folder(tmp_path):
    d = tmp_path / "in"
    write(d / "a.wav", tone(440, 1.0, 16000) + tone(5000, 1.0, 16000, amp=0.1), 16000)
    write(d / "b.wav", chirp(200, 7000, 1.0, 16000), 16000)
    write(d / "c.wav", tone(300, 0.8, 16000), 16000)
    return d


def evaluate(data: Path, out: Path, *extra, capsys=None) -> dict:
    os.environ.pop(runs_module.RUN_DIR_ENV, None)
    status = cli.main("eval", [*EVAL, f"data.dir={data}", f"out_dir={out}", *extra])
    assert status in (0, 1)
    return {r["file"]: r for r in read_csv(out / "results.csv")}


def same_numbers(a: dict, b: dict) -> None:
    for column in ("base_snr", "enhanced_lsd", "enhanced_mel_l1", "delta_hf_retention"):
        assert a[column] == pytest.approx(b[column], rel=1e-4, abs=1e-9), column  # batch-mates round differently


def test_a_file_that_fails_while_it_streams_ends_alone(folder, tmp_path, monkeypatch):
    reference = evaluate(folder, tmp_path / "ref")
    original = SequentialReader.read

    def broken_b(self, a, b):  # b.wav passed its scan; its decoder fails when its samples are read for the model
        if self.audio.path.endswith("b.wav"):
            raise AudioError(self.audio.path, "decoding failed after 8192 frames (simulated lost sync)")
        return original(self, a, b)

    monkeypatch.setattr(SequentialReader, "read", broken_b)
    rows = evaluate(folder, tmp_path / "run", "data.batch_size=2")
    assert rows["b.wav"]["status"] == "error" and "simulated lost sync" in rows["b.wav"]["error"]
    for key in ("a.wav", "c.wav"):
        assert rows[key]["status"] == "ok"
        same_numbers(rows[key], reference[key])
    assert not list((tmp_path / "run" / "audio").glob("b*.wav"))  # no partial audio of the failed file


def test_a_truncated_mp3_is_evaluated_at_the_length_that_decodes(tmp_path):
    data = tmp_path / "mp3"
    data.mkdir()
    sf.write(str(data / "full.mp3"), tone(440, 4.0, 16000, amp=0.3), 16000)
    raw = (data / "full.mp3").read_bytes()
    (data / "full.mp3").unlink()
    (data / "cut.mp3").write_bytes(raw[: len(raw) // 2])
    decoded = len(sf.read(str(data / "cut.mp3"))[0])
    assert sf.info(str(data / "cut.mp3")).frames > 1.5 * decoded  # the header claims far more
    rows = evaluate(data, tmp_path / "out", "data.chunking=true", "data.chunk_overlap_seconds=0.32")
    assert rows["cut.mp3"]["status"] == "ok"
    assert rows["cut.mp3"]["evaluated_s"] == pytest.approx(decoded / 16000)
    again = evaluate(data, tmp_path / "again", "data.chunking=true", "data.chunk_overlap_seconds=0.32")  # same numbers
    same_numbers(rows["cut.mp3"], again["cut.mp3"])


def test_a_corrupt_flac_is_an_error_row_and_the_batch_goes_on(folder, tmp_path):
    flac = folder / "broken.flac"
    sf.write(str(flac), chirp(100, 5000, 3.0, 16000), 16000, format="FLAC")
    raw = bytearray(flac.read_bytes())
    raw[len(raw) // 2 : len(raw) // 2 + 400] = os.urandom(400)
    flac.write_bytes(bytes(raw))
    rows = evaluate(folder, tmp_path / "out")
    assert [rows[k]["status"] for k in ("a.wav", "b.wav", "c.wav")] == ["ok"] * 3
    assert rows["broken.flac"]["status"] in ("ok", "error")  # libsndfile may resync past the damage ...
    if rows["broken.flac"]["status"] == "error":  # ... or stop: then it says so, naming what failed
        assert "decoding failed after" in rows["broken.flac"]["error"] or "unreadable" in rows["broken.flac"]["error"]


def test_resume_drops_removed_inputs_and_reevaluates_changed_ones(folder, tmp_path, capsys):
    out = tmp_path / "out"
    first = evaluate(folder, out)
    (folder / "c.wav").unlink()
    write(folder / "b.wav", tone(880, 1.0, 16000), 16000)  # new content, same name
    write(folder / "d.wav", tone(660, 1.0, 16000), 16000)  # a new file
    capsys.readouterr()
    rows = evaluate(folder, out)
    printed = capsys.readouterr().out
    assert "1 file(s) no longer in the input dropped (c.wav)" in printed and "1 changed file(s)" in printed
    assert sorted(rows) == ["a.wav", "b.wav", "d.wav"]
    same_numbers(rows["a.wav"], first["a.wav"])
    fresh = evaluate(folder, tmp_path / "fresh")
    same_numbers(rows["b.wav"], fresh["b.wav"])  # b evaluated again from its new content
    assert rows["b.wav"]["base_snr"] != pytest.approx(first["b.wav"]["base_snr"])


def test_a_torn_store_line_is_repaired_and_the_file_evaluated_once(folder, tmp_path):
    out = tmp_path / "out"
    evaluate(folder, out)
    store = out / "partial" / "rows.rank0.jsonl"
    lines = store.read_text().splitlines()
    store.write_text("\n".join(lines[:2]) + "\n" + lines[2][: len(lines[2]) // 2])  # killed mid-write
    (out / "results.csv").unlink()
    rows = evaluate(folder, out)
    assert len(rows) == 3 and all(r["status"] == "ok" for r in rows.values())
    stored = store.read_text().splitlines()
    assert len(stored) == 3 and all(json.loads(line)["file"] for line in stored)


def test_rows_are_persisted_per_file_not_per_batch(folder, tmp_path, monkeypatch):
    original = engine.FileStream.results
    finished = []

    def crash_on_second(self):
        if len(finished) == 1:
            raise RuntimeError("killed after one file")
        finished.append(self.item.key)
        return original(self)

    monkeypatch.setattr(engine.FileStream, "results", crash_on_second)
    with pytest.raises(RuntimeError, match="killed after one file"):
        evaluate(folder, tmp_path / "out", "data.batch_size=3")
    stored = (tmp_path / "out" / "partial" / "rows.rank0.jsonl").read_text().splitlines()
    assert [json.loads(line)["file"] for line in stored] == finished  # the finished file is not lost


def test_a_crafted_checkpoint_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "pwned"
    payload = tmp_path / "evil.ckpt"
    code = (
        f"import torch, os\nclass Evil:\n    def __reduce__(self):\n        return (os.system, ('touch {marker}',))\n"
        f"torch.save({{'state_dict': {{}}, 'audiovae_enhancement': {{'name': 'none'}}, 'x': Evil()}}, '{payload}')"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    done = subprocess.run(
        [str(Path(sys.executable).parent / "audiovae-export"), str(payload)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and "refused" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    status = cli.main(
        "train",
        ["model=tiny", "logger=none", f"data.dir={tmp_path}", f"ckpt_path={payload}", f"out_dir={tmp_path / 'train'}"],
    )
    assert status == 2 and not marker.exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["data.batch_size=0"], "config key 'data.batch_size': must be in [1, 256], got 0"),
        (["data.max_seconds=0"], "config key 'data.max_seconds': must be in (0, 60], got 0"),
        (["metrics.alpha=1.5"], "config key 'metrics.alpha': must be in (0, 1), got 1.5"),
        (["metrics.p_adjust=bonferroni"], "config key 'metrics.p_adjust': must be one of holm, bh, none"),
        (["outputs.max_plots=-1"], "config key 'outputs.max_plots': must be >= 0, got -1"),
        (["data.channels=left"], "config key 'data.channels': must be one of mix, first, model, got 'left'"),
        (["data.resampler=kaiser"], "config key 'data.resampler': must be one of soxr_hq, audioldm2, got 'kaiser'"),
        (["out_dir=/proc/1/audiovae-run"], "config key 'out_dir': cannot write to '/proc/1/audiovae-run'"),
        # values that crashed or exhausted memory (13 GB for a 1e9 lag search, 29.8 GiB for 1e9 resamples)
        (["data.max_seconds=inf"], "config key 'data.max_seconds': must be a finite number, got inf"),
        (["data.max_seconds=3600"], "config key 'data.max_seconds': must be in (0, 60], got 3600"),
        (["metrics.max_lag_samples=1000000000"], "config key 'metrics.max_lag_samples': must be in [0, 65536]"),
        (["metrics.bootstrap_samples=1000000000"], "config key 'metrics.bootstrap_samples': must be in [1, 100000]"),
        (["metrics.names=[]"], "config key 'metrics.names': name at least one metric"),
        (["metrics.alpha=[0.1"], "override 'metrics.alpha=[0.1': the value is not valid YAML"),
    ],
    ids=[
        "batch_size",
        "max_seconds",
        "alpha",
        "p_adjust",
        "max_plots",
        "channels",
        "resampler",
        "unwritable_out_dir",
        "inf_seconds",
        "hour_segments",
        "lag_1e9",
        "bootstrap_1e9",
        "no_metrics",
        "yaml_syntax",
    ],
)
def test_bad_values_and_paths_are_one_line_exit_2_before_any_file(args, message, folder, tmp_path, capsys, monkeypatch):
    from audiovae.evaluation.file_evaluator import FileEvaluator

    monkeypatch.setattr(FileEvaluator, "step", lambda *a: pytest.fail("a file was evaluated"))
    monkeypatch.delenv(runs_module.RUN_DIR_ENV, raising=False)
    out = [] if any(a.startswith("out_dir=") for a in args) else [f"out_dir={tmp_path / 'o'}"]
    assert cli.main("eval", [*EVAL, f"data.dir={folder}", *out, *args]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1 and err.startswith("error: "), err
    assert not (tmp_path / "o").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA GPU is visible here")
def test_a_gpu_asked_for_where_there_is_none_is_one_line_before_anything_is_written(folder, tmp_path, capsys):
    assert cli.main("eval", [*EVAL, f"data.dir={folder}", f"out_dir={tmp_path / 'o'}", "trainer.accelerator=gpu"]) == 2
    err = capsys.readouterr().err
    assert "config key 'trainer.accelerator': 'gpu', but no CUDA GPU is visible" in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "o").exists()


def test_an_out_dir_where_a_file_stands_is_refused(folder, tmp_path, capsys):
    (tmp_path / "taken").write_text("a user's file")
    assert cli.main("eval", [*EVAL, f"data.dir={folder}", f"out_dir={tmp_path / 'taken'}"]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err
    assert (tmp_path / "taken").read_text() == "a user's file"


def test_online_wandb_without_credentials_is_one_line_before_any_file(folder, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "online")
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    monkeypatch.delenv(runs_module.RUN_DIR_ENV, raising=False)
    assert (
        cli.main(
            "eval",
            [*EVAL[:1], "logger=wandb", "data.max_seconds=1.0", f"data.dir={folder}", f"out_dir={tmp_path / 'o'}"],
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "online needs W&B credentials" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o" / "results.csv").exists()


def test_discovery_is_case_insensitive_reads_opus_and_lists_what_it_skips(tmp_path, capsys):
    data = tmp_path / "in"
    write(data / "UPPER.WAV", tone(440, 1.0, 16000), 16000)
    data.mkdir(exist_ok=True)
    sf.write(str(data / "voice.opus"), tone(300, 1.0, 48000, amp=0.3), 48000, format="OGG", subtype="OPUS")
    (data / "notes.txt").write_text("not audio")
    (data / "gone.wav").symlink_to(tmp_path / "nowhere.wav")
    old_run = data / "old-run"
    write(old_run / "audio" / "x.wav", tone(500, 1.0, 16000), 16000)
    (old_run / ".audiovae-run").write_text("{}")
    capsys.readouterr()
    rows = evaluate(data, tmp_path / "out")
    printed = capsys.readouterr().out
    assert sorted(rows) == ["UPPER.WAV", "voice.opus"] and all(r["status"] == "ok" for r in rows.values())
    assert "found 2 audio files; skipped 3:" in printed
    skipped = {
        s["path"]: s["reason"] for s in json.loads((tmp_path / "out" / "summary.json").read_text())["skipped_inputs"]
    }
    assert skipped == {
        "gone.wav": "broken link",
        "notes.txt": "not matched by data.patterns",
        "old-run/": "an audiovae run folder",
    }


def test_output_names_are_unique_for_every_input_and_the_report_links_work(tmp_path):
    data = tmp_path / "in"
    for name in ("a/b.wav", "a__b.wav", "same.wav", "same.flac", ".hidden.wav", "hidden.wav", "with space ü.wav"):
        write(data / name, tone(200 + 50 * len(name), 1.0, 16000), 16000, subtype="PCM_16")
    rows = evaluate(data, tmp_path / "out", "outputs.save_plots=true")
    assert len(rows) == 7 and all(r["status"] == "ok" for r in rows.values())
    assert len(list((tmp_path / "out" / "audio").glob("*.enhanced.wav"))) == 7
    report = (tmp_path / "out" / "report.md").read_text()
    import re
    from urllib.parse import unquote

    links = re.findall(r"!\[[^\]]*\]\((plots/[^)]+)\)", report)
    assert len([link for link in links if "summary" not in link and "band_retention" not in link]) == 7
    assert all((tmp_path / "out" / unquote(link)).is_file() for link in links)


def test_a_foreign_out_dir_is_refused_and_its_files_are_untouched(folder, tmp_path, capsys):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "results.csv").write_text("my own table")
    assert cli.main("eval", [*EVAL, f"data.dir={folder}", f"out_dir={mine}"]) == 2
    assert "holds files that are not an audiovae run's (results.csv)" in capsys.readouterr().err
    assert (mine / "results.csv").read_text() == "my own table" and sorted(p.name for p in mine.iterdir()) == [
        "results.csv"
    ]
    assert cli.main("eval", [*EVAL, f"data.dir={folder}", f"out_dir={folder}"]) == 2  # out_dir = data.dir
    assert sorted(p.name for p in folder.iterdir()) == ["a.wav", "b.wav", "c.wav"]


def test_a_second_run_on_a_folder_in_use_is_refused_and_a_stale_lock_taken_over(folder, tmp_path, capsys):
    out = tmp_path / "out"
    evaluate(folder, out)
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        import socket

        (out / ".audiovae-lock").write_text(json.dumps({"pid": holder.pid, "host": socket.gethostname()}))
        assert cli.main("eval", [*EVAL, f"data.dir={folder}", f"out_dir={out}"]) == 2
        assert f"is in use by another run (pid {holder.pid}" in capsys.readouterr().err
    finally:
        holder.kill()
        holder.wait()
    assert cli.main("eval", [*EVAL, f"data.dir={folder}", f"out_dir={out}"]) == 0  # its process is gone: stale
    assert not (out / ".audiovae-lock").exists()


def test_degenerate_inputs_are_decided_not_averaged(tmp_path):
    data = tmp_path / "in"
    write(data / "one_sample.wav", np.array([0.5], dtype=np.float32), 16000)
    write(data / "hundred.wav", tone(440, 100 / 16000, 16000), 16000)
    write(data / "dc.wav", np.full(16000, 0.3, dtype=np.float32), 16000)
    write(data / "narrow.wav", tone(1000, 1.0, 8000), 8000)  # an 8 kHz source: nothing above 4 kHz
    write(data / "good.wav", tone(440, 1.0, 16000) + tone(5000, 1.0, 16000, amp=0.1), 16000)
    rows = evaluate(data, tmp_path / "out")
    for name in ("one_sample.wav", "hundred.wav"):
        assert rows[name]["status"] == "error" and "too short" in rows[name]["error"]
        assert "at least 2048 (0.128 s, one metric STFT window)" in rows[name]["error"]
    assert rows["dc.wav"]["status"] == "error" and "once its mean is removed" in rows["dc.wav"]["error"]
    narrow = rows["narrow.wav"]
    assert narrow["status"] == "ok" and np.isnan(narrow["base_hf_retention"]) and np.isnan(narrow["enhanced_lsd_hf"])
    assert "the input's rate (8000 Hz) holds nothing above 4000 Hz" in narrow["notes"]
    assert np.isfinite(narrow["base_lsd_lf"]) and np.isfinite(narrow["base_mel_distance"])
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["counts"]["ok"] == 2 and summary["metrics"]["hf_retention"]["variants"]["base"]["n"] == 1


def test_data_files_with_a_missing_file_and_a_duplicate(folder, tmp_path, capsys):
    os.environ.pop(runs_module.RUN_DIR_ENV, None)
    a, missing = folder / "a.wav", folder / "missing.wav"
    assert cli.main("eval", [*EVAL, f"data.files=[{a},{a},{missing}]", f"out_dir={tmp_path / 'o'}"]) == 0
    assert "found 2 audio files; skipped 1:" in capsys.readouterr().out
    rows = {r["file"]: r for r in read_csv(tmp_path / "o" / "results.csv")}
    assert len(rows) == 2 and rows[str(a)]["status"] == "ok"
    assert rows[str(missing)]["status"] == "error" and rows[str(missing)]["error"] == "no such file"
