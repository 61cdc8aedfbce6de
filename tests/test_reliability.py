"""Named regressions found by fuzzing the command line as a newcomer would: nothing of the user's is lost, no input
hangs, crashes or lies. Each test is one reported case: the command as a user ran it, its exit status, its one-line
message, and a snapshot of the user's files before and after."""

import errno
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from audiovae import cli
from audiovae import runs as runs_module
from audiovae.cache.__main__ import main as cache_main
from audiovae.cache.store import MARKER, CacheStore
from audiovae.reporting.records import read_csv
from tests.conftest import chirp, tone, write

ROOT = Path(__file__).resolve().parents[1]
EVAL = [
    "model=tiny",
    "logger=none",
    "data.max_seconds=1.0",
    "metrics.bootstrap_samples=50",
    "outputs.save_plots=false",
    "outputs.listening_files=0",
    "data.batch_size=1",
]
NUMBERS = ("base_snr", "enhanced_lsd", "enhanced_mel_l1", "delta_hf_retention")


def snapshot(folder: Path) -> dict:
    """Every file and folder below `folder`: (size, mtime) of files, None for folders."""
    return {
        str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) if p.is_file() else None
        for p in sorted(folder.rglob("*"))
    }


def user_folder(root: Path) -> Path:
    """A folder of a user's things: second-level folders with files, as the fuzz's victim had."""
    for sub in ("photos/2024", "notes/work", "ab/cd"):
        (root / sub).mkdir(parents=True)
        (root / sub / "keep.txt").write_text(f"a user's file in {sub}")
    (root / "top.txt").write_text("a user's file")
    return root


def run_eval(capsys, *args) -> tuple[int, str]:
    os.environ.pop(runs_module.RUN_DIR_ENV, None)
    code = cli.main("eval", [*EVAL, *args])
    return code, capsys.readouterr().err


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    return lines[0]


@pytest.fixture
def folder(tmp_path):
    d = tmp_path / "in"
    write(d / "a.wav", tone(440, 1.0, 16000) + tone(5000, 1.0, 16000, amp=0.1), 16000)
    write(d / "b.wav", chirp(200, 7000, 1.0, 16000), 16000)
    return d


def rows_of(out: Path) -> dict:
    return {r["file"]: r for r in read_csv(out / "results.csv")}


def same_numbers(a: dict, b: dict) -> None:
    for column in NUMBERS:
        assert a[column] == pytest.approx(b[column], rel=1e-6, abs=1e-9), column


# data loss
def test_cache_clear_on_an_ordinary_folder_removes_nothing(tmp_path, capsys):
    victim = user_folder(tmp_path / "mine")
    before = snapshot(victim)
    assert cache_main(["clear", "--dir", str(victim)]) == 2
    assert "is not an audiovae cache" in one_line(capsys.readouterr().err)
    assert snapshot(victim) == before
    assert cache_main(["info", "--dir", str(victim)]) == 2 and snapshot(victim) == before


def test_a_cache_dir_on_a_user_folder_is_refused_before_anything_is_written(folder, tmp_path, capsys):
    victim = user_folder(tmp_path / "mine")
    before = snapshot(victim)
    code, err = run_eval(
        capsys, f"data.dir={folder}", f"out_dir={tmp_path / 'o'}", f"cache.dir={victim}", "cache.max_gb=0.000001"
    )
    assert code == 2 and "config key 'cache.dir'" in one_line(err) and "not an audiovae cache" in err
    assert snapshot(victim) == before and not (tmp_path / "o").exists()


def test_eviction_and_clear_touch_only_the_entries_the_store_wrote(tmp_path):
    store = CacheStore(tmp_path / "c", max_gb=1.0)
    for key in ("a" * 64, "b" * 64):
        store.finish(key, [store.put_segment(key, 0, {"x": torch.zeros(1000)})], {})
    # things a user put into the cache folder later: a folder of the entry layout, a file inside an entry
    stranger = tmp_path / "c" / "cc" / ("c" * 64)
    stranger.mkdir(parents=True)
    (stranger / "seg0.pt").write_text("not written by the store")
    (tmp_path / "c" / "aa" / ("a" * 64) / "notes.txt").write_text("a user's note")
    store.max_bytes = 0
    assert len(store.evict()) == 2
    assert (stranger / "seg0.pt").read_text() == "not written by the store"
    assert (tmp_path / "c" / "aa" / ("a" * 64) / "notes.txt").read_text() == "a user's note"
    assert not (tmp_path / "c" / "bb").exists()  # the store's own entry went whole
    assert CacheStore(tmp_path / "c").clear() == 0 and stranger.is_dir()


def test_a_store_of_the_older_layout_is_adopted_and_cleared(tmp_path, capsys):
    old = tmp_path / "old" / "ab" / ("ab" + "0" * 62)
    old.mkdir(parents=True)
    (old / "seg0.pt").write_bytes(b"x" * 100)
    (old / "entry.json").write_text("{}")
    assert cache_main(["clear", "--dir", str(tmp_path / "old")]) == 0
    assert "removed 1 entries" in capsys.readouterr().out
    assert (tmp_path / "old" / MARKER).is_file() and not old.exists()


def export_cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "audiovae.training.export", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A real training checkpoint of the tiny model (one step)."""
    from audiovae.config.compose import compose
    from audiovae.config.schema import TrainConfig
    from audiovae.sections import resolve_sections
    from audiovae.training.run import run_training

    base = tmp_path_factory.mktemp("ckpt")
    for i in range(3):
        write(base / "clips" / f"c{i}.wav", tone(300 + 100 * i, 1.2, 16000), 16000)
    os.environ.pop(runs_module.RUN_DIR_ENV, None)
    cfg = compose(
        "train",
        [
            "model=tiny",
            "logger=none",
            "data.crop_seconds=1.0",
            "data.val_ratio=0.34",
            "trainer.max_steps=1",
            "optim.warmup_steps=0",
            "examples.count=0",
            f"data.dir={base / 'clips'}",
            f"out_dir={base / 'run'}",
        ],
        schema=TrainConfig,
        validators=[resolve_sections],
    )
    run_training(cfg)
    return base / "run" / "checkpoints" / "last.ckpt"


def test_export_never_writes_onto_its_input_or_an_existing_file(checkpoint, tmp_path):
    original = checkpoint.read_bytes()
    done = export_cli(checkpoint, checkpoint)
    assert done.returncode == 2 and "never replaces its input" in one_line(done.stderr)
    done = export_cli(checkpoint, checkpoint, "--force")  # not even with --force
    assert done.returncode == 2 and checkpoint.read_bytes() == original
    mine = tmp_path / "mine.safetensors"
    mine.write_text("a user's file")
    done = export_cli(checkpoint, mine)
    assert done.returncode == 2 and "exists" in one_line(done.stderr) and mine.read_text() == "a user's file"
    assert export_cli(checkpoint, mine, "--force").returncode == 0 and mine.read_bytes()[:8] != b"a user's"


@pytest.fixture(scope="module")
def run_with_audio(tmp_path_factory):
    from tests.conftest import evaluate_folder, write_three_clips

    base = tmp_path_factory.mktemp("run")
    evaluate_folder(
        write_three_clips(base / "clips"),
        base / "run",
        "model=tiny",
        "logger=none",
        "metrics.bootstrap_samples=50",
        "outputs.save_plots=false",
        "outputs.listening_files=0",
    )
    return base / "run"


def test_webmushra_and_compare_outputs_never_replace_a_users_files(run_with_audio, tmp_path, capsys):
    from audiovae.compare import main as compare_main
    from audiovae.listening.__main__ import main as listening_main

    out = user_folder(tmp_path / "mine")
    (out / "trials.csv").write_text("a user's table")
    before = snapshot(out)
    assert listening_main(["webmushra", str(run_with_audio), "--out", str(out)]) == 2
    assert "trials.csv exists and was not written by audiovae" in one_line(capsys.readouterr().err)
    assert snapshot(out) == before
    (out / "compare.md").write_text("a user's notes")
    before = snapshot(out)
    assert compare_main([str(run_with_audio), str(run_with_audio), "--out", str(out)]) == 2
    assert "compare.md exists" in one_line(capsys.readouterr().err) and snapshot(out) == before
    # a folder of its own is written, and written again (its files are listed as audiovae's)
    ours = tmp_path / "ours"
    for _ in range(2):
        assert listening_main(["webmushra", str(run_with_audio), "--out", str(ours)]) == 0
    assert (ours / "configs" / "audiovae.yaml").is_file()
    assert listening_main(["webmushra", str(run_with_audio), "--out", str(out), "--force"]) == 0
    assert (out / "photos" / "2024" / "keep.txt").read_text() == "a user's file in photos/2024"


# silently wrong
def test_a_file_replaced_while_it_is_read_is_an_error_row_and_nothing_is_cached(folder, tmp_path, capsys, monkeypatch):
    from audiovae.audio.stream import SequentialReader

    cache = tmp_path / "cache"
    original_b = (folder / "b.wav").read_bytes()
    read = SequentialReader.read

    def replaced_mid_read(self, a, b):  # b.wav is rewritten with other content after the run fingerprinted it
        if self.audio.path.endswith("b.wav") and a == 0:
            sf.write(str(folder / "b.wav"), tone(1234, 1.0, 16000), 16000, subtype="FLOAT")
        return read(self, a, b)

    monkeypatch.setattr(SequentialReader, "read", replaced_mid_read)
    code, _ = run_eval(capsys, f"data.dir={folder}", f"out_dir={tmp_path / 'o'}", f"cache.dir={cache}")
    monkeypatch.setattr(SequentialReader, "read", read)
    rows = rows_of(tmp_path / "o")
    assert code == 0 and rows["b.wav"]["status"] == "error" and "changed while being read" in rows["b.wav"]["error"]
    assert rows["a.wav"]["status"] == "ok" and CacheStore(cache).info()["entries"] == 1  # a.wav's entry alone
    # the original content, evaluated later with the same cache, gets its own numbers, not the new content's
    (folder / "b.wav").write_bytes(original_b)
    run_eval(capsys, f"data.dir={folder}", f"out_dir={tmp_path / 'again'}", f"cache.dir={cache}")
    run_eval(capsys, f"data.dir={folder}", f"out_dir={tmp_path / 'cold'}", "cache.enabled=false")
    same_numbers(rows_of(tmp_path / "again")["b.wav"], rows_of(tmp_path / "cold")["b.wav"])


def test_an_edited_cache_entry_is_a_miss_and_is_written_again(folder, tmp_path, capsys):
    cache = tmp_path / "cache"
    run_eval(capsys, f"data.dir={folder}", f"out_dir={tmp_path / 'cold'}", f"cache.dir={cache}")
    for entry in cache.glob("*/*/entry.json"):  # still valid JSON, one shared value changed
        record = json.loads(entry.read_text())
        values = next(iter(record["meta"]["values"].values()))
        values["metrics"]["base"]["snr"] = 99.0
        entry.write_text(json.dumps(record))
    run_eval(capsys, f"data.dir={folder}", f"out_dir={tmp_path / 'warm'}", f"cache.dir={cache}")
    summary = json.loads((tmp_path / "warm" / "summary.json").read_text())
    assert summary["counts"]["from_cache"] == 0
    for name, row in rows_of(tmp_path / "warm").items():
        same_numbers(row, rows_of(tmp_path / "cold")[name])
    run_eval(capsys, f"data.dir={folder}", f"out_dir={tmp_path / 'third'}", f"cache.dir={cache}")
    assert json.loads((tmp_path / "third" / "summary.json").read_text())["counts"]["from_cache"] == 2


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_a_non_finite_enhancer_setting_is_refused(value, folder, tmp_path, capsys):
    code, err = run_eval(capsys, f"data.dir={folder}", f"out_dir={tmp_path / 'o'}", f"enhancement.gain={value}")
    assert code == 2 and "config key 'enhancement.gain': must be a finite number" in one_line(err)
    code, err = run_eval(
        capsys, f"data.dir={folder}", f"out_dir={tmp_path / 'o'}", f"sweep.enhancement.gain=[1.2,{value}]"
    )
    assert code == 2 and "config key 'sweep.enhancement.gain.1': must be a finite number" in one_line(err)


# crashes and hangs
def test_long_and_non_utf8_names_evaluate_and_their_outputs_fit(tmp_path, capsys):
    data = tmp_path / "in"
    long_name = "n" * 236 + ".wav"  # 240 characters
    deep = data / ("d" * 120) / ("e" * 120)  # the flattened output name would be over 255 bytes
    write(data / long_name, tone(440, 1.0, 16000), 16000)
    write(deep / ("f" * 100 + ".wav"), tone(550, 1.0, 16000), 16000)
    bad = os.path.join(os.fsencode(data), b"caf\xe9-latin1.wav")  # a name that is not UTF-8
    sf.write(bad, chirp(200, 7000, 1.0, 16000), 16000)
    code, err = run_eval(capsys, f"data.dir={data}", f"out_dir={tmp_path / 'o'}")
    assert code == 0, err
    rows = rows_of(tmp_path / "o")
    assert {r["status"] for r in rows.values()} == {"ok"} and "caf\\xe9-latin1.wav" in rows
    audio = list((tmp_path / "o" / "audio").iterdir())
    assert len(audio) == 3 * 4 and max(len(p.name.encode()) for p in audio) <= 255
    assert "caf\\xe9" in (tmp_path / "o" / "report.md").read_text()


def test_fifos_sockets_and_device_links_are_skipped_without_being_opened(folder, tmp_path, capsys):
    os.mkfifo(folder / "pipe.wav")
    (folder / "random.wav").symlink_to("/dev/urandom")
    signal.alarm(120)  # a hang fails the test instead of the suite
    try:
        code, err = run_eval(capsys, f"data.dir={folder}", f"out_dir={tmp_path / 'o'}")
        capsys.readouterr()
        listed = run_eval(
            capsys, f"data.files=[{folder / 'pipe.wav'},{folder / 'a.wav'}]", f"out_dir={tmp_path / 'listed'}"
        )
    finally:
        signal.alarm(0)
    assert code == 0 and set(rows_of(tmp_path / "o")) == {"a.wav", "b.wav"}
    assert listed[0] == 0
    row = next(r for r in read_csv(tmp_path / "listed" / "results.csv") if r["file"].endswith("pipe.wav"))
    assert row["status"] == "error" and "not a regular file (a FIFO)" in row["error"]


def test_the_discovery_line_lists_fifos_devices_and_unreadable_folders(folder, tmp_path, monkeypatch):
    from audiovae.data.files import discover_audio_files

    os.mkfifo(folder / "pipe.wav")
    (folder / "random.wav").symlink_to("/dev/urandom")
    (folder / "locked").mkdir()
    write(folder / "locked" / "hidden.wav", tone(440, 1.0, 16000), 16000)
    scandir = os.scandir

    def denied(path="."):  # root reads any folder: a user's unreadable folder, simulated
        if str(path).endswith("locked"):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return scandir(path)

    monkeypatch.setattr(os, "scandir", denied)
    found = discover_audio_files(str(folder), ["*.wav"])
    assert [p.name for p in found.paths] == ["a.wav", "b.wav"]
    assert dict(found.skipped) == {
        "locked/": "unreadable folder (Permission denied)",
        "pipe.wav": "not a regular file (a FIFO)",
        "random.wav": "not a regular file (a character device)",
    }


# (values that crashed or would exhaust memory: in test_faults.py's table of one-line start-up errors)


def test_config_files_that_are_no_configs_are_one_line(folder, tmp_path, capsys):
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(bytes(range(256)) * 4)
    looping = tmp_path / "loop.yaml"
    looping.write_text(f"extends: {looping}\n")
    listed = tmp_path / "list.yaml"
    listed.write_text("- a\n- b\n")
    for path, words in ((binary, "not a text file"), (looping, "comes back to itself"), (listed, "a mapping")):
        os.environ.pop(runs_module.RUN_DIR_ENV, None)
        assert cli.main("eval", ["--config", str(path), f"data.dir={folder}"]) == 2
        assert words in one_line(capsys.readouterr().err)


def test_crafted_configs_run_no_code_and_expand_no_bomb(folder, tmp_path, capsys):
    """Kept from the fuzz: YAML tags that would build Python objects and a "billion laughs" file are refused."""
    tagged = tmp_path / "tagged.yaml"
    tagged.write_text(f'seed: !!python/object/apply:os.system ["touch {tmp_path / "pwned"}"]\n')
    laughs = tmp_path / "laughs.yaml"
    levels = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    levels += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]  # 9^10 strings expanded
    laughs.write_text("\n".join(levels) + "\n")
    for path, words in ((tagged, "could not determine a constructor"), (laughs, "expansion exceeds")):
        os.environ.pop(runs_module.RUN_DIR_ENV, None)
        assert cli.main("eval", ["--config", str(path), f"data.dir={folder}"]) == 2
        assert words in one_line(capsys.readouterr().err)
    assert not (tmp_path / "pwned").exists()


def test_audiovae_home_pointing_at_a_file_is_one_line(folder, tmp_path, capsys, monkeypatch):
    (tmp_path / "home").write_text("a user's file")
    monkeypatch.setenv("AUDIOVAE_HOME", str(tmp_path / "home"))
    code, err = run_eval(capsys, f"data.dir={folder}", f"out_dir={tmp_path / 'o'}")
    assert code == 2 and "$AUDIOVAE_HOME" in one_line(err) and (tmp_path / "home").read_text() == "a user's file"


def test_an_enhancer_for_another_model_is_a_start_up_error(folder, tmp_path, capsys, monkeypatch):
    from audiovae.evaluation.file_evaluator import FileEvaluator

    monkeypatch.setattr(FileEvaluator, "step", lambda *a: pytest.fail("a file was evaluated"))
    code, err = run_eval(
        capsys,
        f"data.dir={folder}",
        f"out_dir={tmp_path / 'o'}",
        "enhancement=learnable_latent_filter",
        "enhancement.channels=3",
    )
    line = one_line(err)
    assert code == 2 and "config key 'enhancement': LearnableLatentFilter does not fit this model's latents" in line
    assert not (tmp_path / "o").exists()


def test_cache_write_failures_warn_once_and_the_run_goes_on(folder, tmp_path, capsys, monkeypatch):
    from audiovae.cache import store as store_module

    def full(path, write):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(store_module, "_atomic_write", full)
    code, err = run_eval(capsys, f"data.dir={folder}", f"out_dir={tmp_path / 'o'}", f"cache.dir={tmp_path / 'c'}")
    assert code == 0 and err.count("cannot be written (No space left on device)") == 1, err
    assert [r["status"] for r in rows_of(tmp_path / "o").values()] == ["ok", "ok"]
    monkeypatch.undo()
    run_eval(capsys, f"data.dir={folder}", f"out_dir={tmp_path / 'cold'}", "cache.enabled=false")
    for name, row in rows_of(tmp_path / "o").items():
        same_numbers(row, rows_of(tmp_path / "cold")[name])


def test_non_utf8_listening_answers_are_one_line(tmp_path, capsys):
    from audiovae.listening.__main__ import main as listening_main

    answers = tmp_path / "answers.json"
    answers.write_bytes(b'{"format": "audiovae-listening", "listener": "\xff\xfe"}')
    assert listening_main(["score", str(answers)]) == 2
    assert "not a text file" in one_line(capsys.readouterr().err)


# resources
def test_a_wav_declaring_1_hz_is_read_in_bounded_memory(tmp_path, capsys):
    from audiovae.audio.stream import mono_blocks
    from tests.memory import peak_rss_growth

    path = tmp_path / "in" / "one_hz.wav"
    write(path, np.sin(np.arange(12000) * 0.3).astype(np.float32), 1)  # 48 KB: 12000 s at 1 Hz
    with peak_rss_growth() as peak:  # was 4.3 GB: a whole read block upsampled before it was cut
        assert sum(block.size for block in mono_blocks(path, 16000, max_samples=200_000)) == 200_000
    assert peak["bytes"] < 400 * 2**20, peak
    with peak_rss_growth() as peak:
        code, err = run_eval(capsys, f"data.dir={path.parent}", f"out_dir={tmp_path / 'o'}", "data.chunking=false")
    assert code == 0 and rows_of(tmp_path / "o")["one_hz.wav"]["status"] == "ok", err
    assert peak["bytes"] < 1024 * 2**20, peak


# misleading words
def test_the_alignment_warning_suggests_a_value_the_config_accepts():
    from audiovae.reporting.report import alignment_warning

    line = alignment_warning(
        {"n_files": 4, "median_corr": 0.9, "median_lag_samples": -149.5, "align_samples": 0, "median_lag_ms": -9.34}
    )
    assert "metrics.align_samples=-150 " in line or "metrics.align_samples=-149 " in line


def test_a_file_that_may_not_be_read_says_permission_denied(tmp_path, monkeypatch):
    from audiovae.audio import io

    path = write(tmp_path / "a.wav", tone(440, 0.1, 16000), 16000)
    monkeypatch.setattr(io.os, "access", lambda p, mode: False)  # root reads anything: a user's file, simulated
    assert (
        io.open_failure(path, RuntimeError("System error"))
        == "permission denied (the file cannot be read by this user)"
    )
    assert io.open_failure(tmp_path / "gone.wav", RuntimeError("System error")) == "no such file"


# training: stopped by a signal, resumed from a damaged checkpoint
TRAIN = [
    "model=tiny",
    "logger=none",
    "data.crop_seconds=1.0",
    "data.batch_size=2",
    "data.val_ratio=0.25",
    "optim.lr=0.05",
    "optim.warmup_steps=1",
    "trainer.max_steps=6",
    "trainer.val_check_interval=2",
    "checkpoint.last_every_n_steps=2",
    "checkpoint.save_top_k=-1",
    "examples.count=0",
    "loop.validate_before_training=false",
]


@pytest.fixture(scope="module")
def train_clips(tmp_path_factory):
    from tests.conftest import noise

    data = tmp_path_factory.mktemp("train_clips")
    for i in range(6):
        write(data / f"c{i}.wav", tone(200 + 90 * i, 1.2, 16000) + noise(1.2, 16000, seed=i, amp=0.05), 16000)
    return data


def run_train(capsys, data: Path, out: Path, *extra) -> tuple[int, str]:
    os.environ.pop(runs_module.RUN_DIR_ENV, None)
    code = cli.main("train", [*TRAIN, f"data.dir={data}", f"out_dir={out}", *extra])
    return code, capsys.readouterr().err


def test_a_training_stopped_by_sigterm_saves_last_ckpt_exits_143_and_resumes_exactly(
    train_clips, tmp_path, capsys, monkeypatch
):
    from audiovae.training import module as train_module
    from tests.conftest import last_gains

    assert run_train(capsys, train_clips, tmp_path / "straight")[0] == 0
    original = train_module.TrainModule.training_step

    def signalled(self, batch, batch_idx):  # SIGTERM arrives while step 3 runs (Lightning's handler sets the flag)
        if self.global_step == 3:
            os.kill(os.getpid(), signal.SIGTERM)
        return original(self, batch, batch_idx)

    monkeypatch.setattr(train_module.TrainModule, "training_step", signalled)
    code, err = run_train(capsys, train_clips, tmp_path / "stopped")
    monkeypatch.setattr(train_module.TrainModule, "training_step", original)
    assert code == 143 and "training stopped by SIGTERM at step 4" in one_line(err)
    assert last_gains(tmp_path / "stopped")[1] == 4 and not (tmp_path / "stopped" / "enhancer.safetensors").exists()
    code, err = run_train(capsys, train_clips, tmp_path / "stopped", "resume=true")
    assert code == 0, err
    (straight, steps), (resumed, resumed_steps) = last_gains(tmp_path / "straight"), last_gains(tmp_path / "stopped")
    assert steps == resumed_steps == 6
    torch.testing.assert_close(resumed, straight, rtol=1e-6, atol=1e-7)


def test_resume_with_a_damaged_last_ckpt_falls_back_to_the_newest_readable_one(
    train_clips, tmp_path, capsys, monkeypatch
):
    from audiovae.config.compose import compose
    from audiovae.config.schema import TrainConfig
    from audiovae.sections import resolve_sections
    from tests.conftest import last_gains, train_crashing_at_step

    assert run_train(capsys, train_clips, tmp_path / "straight")[0] == 0
    os.environ.pop(runs_module.RUN_DIR_ENV, None)
    cfg = compose(
        "train",
        [*TRAIN, f"data.dir={train_clips}", f"out_dir={tmp_path / 'crashed'}"],
        schema=TrainConfig,
        validators=[resolve_sections],
    )
    train_crashing_at_step(cfg, 5, monkeypatch)  # checkpoints at steps 2 and 4 exist
    last = tmp_path / "crashed" / "checkpoints" / "last.ckpt"
    last.write_bytes(last.read_bytes()[: last.stat().st_size // 3])  # torn, as by a crash while it was written
    code, err = run_train(capsys, train_clips, tmp_path / "crashed", "resume=true")
    assert code == 0, err
    assert "cannot be read: resuming from the newest readable checkpoint, step0000004.ckpt (step 4)" in err
    torch.testing.assert_close(
        last_gains(tmp_path / "crashed")[0], last_gains(tmp_path / "straight")[0], rtol=1e-6, atol=1e-7
    )


def test_a_first_ctrl_c_stops_training_at_the_end_of_the_step_with_exit_130(train_clips, tmp_path, capsys, monkeypatch):
    from audiovae.training import module as train_module
    from tests.conftest import last_gains

    original = train_module.TrainModule.training_step

    def interrupted(self, batch, batch_idx):
        if self.global_step == 1:
            os.kill(os.getpid(), signal.SIGINT)  # handled: the step finishes, nothing is cut half-way
        return original(self, batch, batch_idx)

    monkeypatch.setattr(train_module.TrainModule, "training_step", interrupted)
    # Python's own handler, as in a terminal (a shell's background job starts with SIGINT ignored)
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        code, err = run_train(capsys, train_clips, tmp_path / "stopped")
        handler = signal.getsignal(signal.SIGINT)
    finally:
        signal.signal(signal.SIGINT, inherited)
    assert code == 130 and "training stopped by SIGINT at step 2" in one_line(
        err.replace("\nstopping at the end of this step (Ctrl+C again to stop at once)", "")
    )
    assert last_gains(tmp_path / "stopped")[1] == 2
    assert handler is signal.default_int_handler  # the handler is given back


def test_every_command_says_a_storage_failure_in_one_line_with_exit_4(capsys):
    from audiovae.errors import STORAGE_EXIT, exit_status

    def full_disk():
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "/data/out/results.csv")

    assert exit_status(full_disk) == STORAGE_EXIT == 4
    assert "cannot write /data/out/results.csv (No space left on device)" in one_line(capsys.readouterr().err)

    def a_bug():
        raise FileNotFoundError(errno.ENOENT, "not a storage failure")

    with pytest.raises(FileNotFoundError):  # anything else is a bug and is not hidden
        exit_status(a_bug)
    entry_points = [
        "audiovae/cli.py",
        "audiovae/compare.py",
        "audiovae/training/export.py",
        "audiovae/sync.py",
        "audiovae/listening/__main__.py",
        "audiovae/cache/__main__.py",
    ]
    for path in entry_points:  # one wrapper for every entry point, no copies of the catch-print-exit block
        text = (ROOT / path).read_text()
        assert "return exit_status(" in text and "except AudiovaeError" not in text, path


def test_a_training_file_changed_while_it_is_read_is_skipped(tmp_path, monkeypatch):
    from audiovae.data import train_data

    paths = [write(tmp_path / f"{name}.wav", tone(f, 1.0, 16000), 16000) for name, f in (("a", 440), ("b", 550))]
    load = train_data.load_audio

    def rewritten(path, *args):
        clip = load(path, *args)
        if str(path).endswith("b.wav"):  # replaced after it was read: its crops would be cached under new bytes
            write(Path(path), tone(1234, 1.0, 16000), 16000)
        return clip

    monkeypatch.setattr(train_data, "load_audio", rewritten)
    from audiovae.data.sources import Entry

    clips, bad = train_data.scan_clips([Entry(str(p), str(p)) for p in paths], 16000, -60.0)
    assert [Path(c.path).name for c in clips] == ["a.wav"] and "b.wav: changed while being read" in bad[0]


@pytest.mark.slow
def test_names_that_are_not_utf8_print_in_a_real_process_under_the_c_locale(tmp_path):
    """A process prints what the run found and skipped; under LANG=C with a non-UTF-8 name neither may crash."""
    data = tmp_path / "in"
    write(data / "a.wav", tone(440, 1.0, 16000), 16000)
    sf.write(os.path.join(os.fsencode(data), b"b\xe9.wav"), chirp(200, 7000, 1.0, 16000), 16000)
    (Path(os.fsdecode(os.path.join(os.fsencode(data), b"notes\xff.txt")))).write_text("not audio")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LC_", "LANG", "PYTHONIOENCODING", "PYTHONUTF8"))}
    env.update(LANG="C", LC_ALL="C", WANDB_MODE="offline")
    env.pop(runs_module.RUN_DIR_ENV, None)
    done = subprocess.run(
        [sys.executable, "evaluate.py", *EVAL, f"data.dir={data}", f"out_dir={tmp_path / 'o'}"],
        capture_output=True,
        cwd=ROOT,
        env=env,
        timeout=600,
    )
    out = done.stdout.decode(errors="replace")
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-2000:]
    assert "skipped 1: notes\\xff.txt (not matched by data.patterns)" in out
    assert {r["status"] for r in rows_of(tmp_path / "o").values()} == {"ok"} and "b\\xe9.wav" in rows_of(tmp_path / "o")


def test_a_cache_another_process_is_claiming_is_not_taken_for_a_users_folder(tmp_path):
    from audiovae.cache.store import NotACacheError

    folder = tmp_path / "c"
    folder.mkdir()
    (folder / "..audiovae-cache.4242.0123abcd.tmp").write_text("{}")  # a rank writing the marker right now
    CacheStore(folder).check()
    (folder / "photo.jpg").write_bytes(b"a user's")
    with pytest.raises(NotACacheError, match="is not an audiovae cache"):
        CacheStore(folder).check()


def _claim(folder, start):
    start.wait(10)
    store = CacheStore(folder)
    store.check()
    assert store.claim()


def test_processes_claiming_one_new_cache_at_once_all_succeed(tmp_path):
    """DDP ranks start together on a new cache: none may take another's half-written marker for a user's file."""
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    for round_ in range(15):
        folder, start = tmp_path / f"c{round_}", ctx.Event()
        workers = [ctx.Process(target=_claim, args=(folder, start)) for _ in range(4)]
        for w in workers:
            w.start()
        start.set()
        for w in workers:
            w.join(30)
        assert [w.exitcode for w in workers] == [0, 0, 0, 0], round_
        assert (folder / MARKER).is_file()


def test_linked_folders_are_walked_once_and_a_link_back_up_does_not_loop(folder, tmp_path):
    from audiovae.data.files import discover_audio_files

    elsewhere = tmp_path / "elsewhere"
    write(elsewhere / "c.wav", tone(660, 1.0, 16000), 16000)
    (folder / "linked").symlink_to(elsewhere)  # a data set linked into the folder
    (folder / "loop").symlink_to(folder)  # a link back up
    found = discover_audio_files(str(folder), ["*.wav"])
    assert [p.relative_to(folder).as_posix() for p in found.paths] == ["a.wav", "b.wav", "linked/c.wav"]


def test_training_lists_fifos_and_devices_as_unusable_without_opening_them(folder):
    from audiovae.data.train_data import usable_entries

    os.mkfifo(folder / "pipe.wav")
    (folder / "random.wav").symlink_to("/dev/urandom")
    listing, unusable = usable_entries(dict(dir=str(folder), patterns=["*.wav"]))
    assert [Path(e.sound).name for e in listing.entries] == ["a.wav", "b.wav"]
    assert unusable == ["pipe.wav: not a regular file (a FIFO)", "random.wav: not a regular file (a character device)"]
