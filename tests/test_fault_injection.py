"""Fault injection through the real CLI: a folder holding every kind of bad input, runs killed with SIGKILL at
seeded random moments and rerun, two runs on one folder, and a killed training resumed. Each asserts every row's
status and reason, that good files equal their evaluation alone, the exit status, and that nothing outside out_dir
was written and no user file changed."""

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from audiovae import runs as runs_module
from audiovae.reporting.records import read_csv
from tests.conftest import chirp, last_gains, noise, tone, write

ROOT = Path(__file__).resolve().parents[1]
EVAL = ["model=tiny", "logger=none", "data.max_seconds=1.0", "metrics.bootstrap_samples=50", "data.batch_size=1"]
GOOD = ["good_tone.wav", "good_chirp.flac", "UPPER.WAV", "voice.opus", "nested/a__b.wav", "nested/a/b.wav"]
EXPECTED_ERRORS = {  # file -> words its error must contain
    "junk.wav": "unreadable",
    "empty.wav": "empty",
    "nan.wav": "NaN or inf",
    "silent.wav": "silent",
    "dc.wav": "once its mean is removed",
    "one_sample.wav": "too short",
    "hundred.wav": "too short",
}


def env_for(home: Path, audiovae_home: Path) -> dict:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("WANDB_") and k not in (runs_module.RUN_DIR_ENV, "MPLCONFIGDIR")
    }
    return {**env, "HOME": str(home), "WANDB_MODE": "offline", "AUDIOVAE_HOME": str(audiovae_home)}


def start(script: str, *args, env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(ROOT / script), *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=600)
    return process.returncode, out, err


def snapshot(folder: Path) -> dict:
    return {
        str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def numbers(rows: dict) -> dict:
    """Every value but timings (seconds measured) of every row; NaN as None, so that equal rows compare equal."""
    return {
        f: {k: None if isinstance(v, float) and v != v else v for k, v in r.items() if not k.startswith("time_")}
        for f, r in rows.items()
    }


@pytest.fixture(scope="module")
def bad_folder(tmp_path_factory):
    d = tmp_path_factory.mktemp("faults")
    write(d / "good_tone.wav", tone(440, 1.0, 16000) + tone(5000, 1.0, 16000, amp=0.1), 16000)
    sf.write(str(d / "good_chirp.flac"), chirp(200, 7000, 1.0, 16000), 16000)
    write(d / "UPPER.WAV", tone(300, 1.0, 16000) + noise(1.0, 16000, amp=0.05), 16000)
    sf.write(str(d / "voice.opus"), tone(250, 1.0, 48000, amp=0.3), 48000, format="OGG", subtype="OPUS")
    write(d / "nested" / "a__b.wav", tone(600, 1.0, 16000), 16000)
    write(d / "nested" / "a" / "b.wav", tone(700, 1.0, 16000), 16000)  # the same flat name as nested/a__b.wav
    (d / "junk.wav").write_bytes(b"RIFF....this is no audio")
    sf.write(str(d / "empty.wav"), np.zeros(0, dtype=np.float32), 16000)
    write(d / "nan.wav", np.where(np.arange(16000) == 5000, np.nan, 0.1).astype(np.float32), 16000)
    write(d / "silent.wav", np.zeros(16000, dtype=np.float32), 16000)
    write(d / "dc.wav", np.full(16000, 0.25, dtype=np.float32), 16000)
    write(d / "one_sample.wav", np.array([0.5], dtype=np.float32), 16000)
    write(d / "hundred.wav", tone(440, 100 / 16000, 16000), 16000)
    write(d / "sr8k.wav", tone(1000, 1.0, 8000), 8000)
    full = d / "full.mp3"
    sf.write(str(full), tone(440, 3.0, 16000, amp=0.3), 16000)
    (d / "cut.mp3").write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    full.unlink()
    (d / "notes.txt").write_text("not audio")
    (d / "gone.wav").symlink_to(d / "nowhere.wav")
    return d


@pytest.fixture(scope="module")
def reference(bad_folder, tmp_path_factory, audiovae_home):
    """The uninterrupted run of the whole folder, with an empty HOME."""
    home, out = tmp_path_factory.mktemp("home"), tmp_path_factory.mktemp("runs") / "reference"
    before, began = snapshot(bad_folder), time.monotonic()
    code, stdout, stderr = finish(
        start("evaluate.py", *EVAL, f"data.dir={bad_folder}", f"out_dir={out}", env=env_for(home, audiovae_home))
    )
    seconds = time.monotonic() - began
    assert code == 0, stderr[-2000:]
    assert snapshot(bad_folder) == before and list(home.rglob("*")) == []
    return out, stdout, seconds


@pytest.mark.slow
def test_every_bad_input_gets_its_row_and_reason_and_good_files_equal_their_run_alone(
    reference, bad_folder, tmp_path, audiovae_home
):
    out, stdout, _ = reference
    rows = {r["file"]: r for r in read_csv(out / "results.csv")}
    for name, words in EXPECTED_ERRORS.items():
        assert rows[name]["status"] == "error" and words in rows[name]["error"], (name, rows[name]["error"])
    assert "nothing above 4000 Hz" in rows["sr8k.wav"]["notes"] and np.isnan(rows["sr8k.wav"]["base_hf_retention"])
    assert rows["cut.mp3"]["status"] == "ok"
    assert rows["cut.mp3"]["evaluated_s"] <= len(sf.read(str(bad_folder / "cut.mp3"))[0]) / 16000 + 1e-9
    assert "skipped 2: gone.wav (broken link), notes.txt (not matched by data.patterns)" in stdout
    assert len({r["file"] for r in rows.values()}) == len(rows) == len(GOOD) + len(EXPECTED_ERRORS) + 2
    assert len(list((out / "audio").glob("*.enhanced.wav"))) == len(GOOD) + 2  # no two files share outputs
    alone = tmp_path / "alone"
    files = ",".join(str(bad_folder / f) for f in GOOD)
    code, _, stderr = finish(
        start(
            "evaluate.py",
            *EVAL,
            "outputs.save_plots=false",  # its numbers alone are read
            f"data.files=[{files}]",
            f"out_dir={alone}",
            env=env_for(tmp_path / "h", audiovae_home),
        )
    )
    assert code == 0, stderr[-2000:]
    single = {Path(r["file"]).name: r for r in read_csv(alone / "results.csv")}
    for name in GOOD:
        for column in ("base_snr", "enhanced_lsd", "enhanced_mel_l1", "delta_mel_distance"):
            assert rows[name][column] == pytest.approx(single[Path(name).name][column], rel=1e-6), (name, column)


def rows_done(out: Path) -> int:
    """Files finished so far by the run writing `out` (lines of its per-file store)."""
    store = out / "partial" / "rows.rank0.jsonl"
    return store.read_text().count("\n") if store.exists() else 0


@pytest.mark.slow
def test_runs_killed_at_random_moments_resume_to_identical_results(reference, bad_folder, tmp_path, audiovae_home):
    expected = numbers({r["file"]: r for r in read_csv(reference[0] / "results.csv")})
    out, env, rng, kills = tmp_path / "killed", env_for(tmp_path / "h", audiovae_home), random.Random(7), 0
    n_files = len(read_csv(reference[0] / "results.csv"))
    for attempt in range(6):
        process = start("evaluate.py", *EVAL, f"data.dir={bad_folder}", f"out_dir={out}", env=env)
        if attempt < 3:  # kill -9 at a random moment: in start-up, or once a random number of files are done
            done_before = rows_done(out)
            target = done_before + rng.randint(0, max(0, (n_files - done_before) // 2))
            deadline = time.monotonic() + 300
            while rows_done(out) < target and process.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(rng.uniform(0.0, 0.5))  # and not exactly at a file's end
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                kills += 1
        code, _, stderr = finish(process)
        if attempt >= 3 or code == 0 and (out / "results.csv").exists():
            if attempt >= 3:
                assert code == 0, stderr[-2000:]
                break
    assert kills >= 1
    assert numbers({r["file"]: r for r in read_csv(out / "results.csv")}) == expected


@pytest.mark.slow
def test_a_second_run_on_a_folder_in_use_is_refused(bad_folder, tmp_path, audiovae_home):
    out, env = tmp_path / "shared", env_for(tmp_path / "h", audiovae_home)
    first = start("evaluate.py", *EVAL, f"data.dir={bad_folder}", f"out_dir={out}", env=env)
    deadline = time.monotonic() + 120
    while not (out / ".audiovae-lock").exists() and time.monotonic() < deadline and first.poll() is None:
        time.sleep(0.01)
    first.send_signal(signal.SIGSTOP)  # held while it holds the folder: the second run's start-up cannot outlast it
    try:
        code, _, stderr = finish(start("evaluate.py", *EVAL, f"data.dir={bad_folder}", f"out_dir={out}", env=env))
    finally:
        first.send_signal(signal.SIGCONT)
    assert code == 2 and "is in use by another run" in stderr and len(stderr.strip().splitlines()) == 1
    assert finish(first)[0] == 0


@pytest.mark.slow
def test_a_killed_training_resumes_to_the_weights_of_an_uninterrupted_one(tmp_path, audiovae_home):
    data = tmp_path / "clips"
    for i in range(8):
        write(data / f"c{i}.wav", tone(200 + 90 * i, 1.2, 16000) + noise(1.2, 16000, seed=i, amp=0.05), 16000)
    (data / "junk.wav").write_bytes(b"not audio")  # skipped with a warning, as in evaluation
    train = [
        "model=tiny",
        "logger=none",
        "data.crop_seconds=1.0",
        "data.batch_size=2",
        "data.val_ratio=0.25",
        "optim.lr=0.05",
        "optim.warmup_steps=1",
        "trainer.max_steps=12",
        "examples.count=0",
        f"data.dir={data}",
    ]
    env = env_for(tmp_path / "h", audiovae_home)
    code, _, stderr = finish(start("train.py", *train, f"out_dir={tmp_path / 'straight'}", env=env))
    assert code == 0 and "junk.wav" in stderr, stderr[-2000:]
    killed = start("train.py", *train, f"out_dir={tmp_path / 'killed'}", env=env)
    last = tmp_path / "killed" / "checkpoints" / "last.ckpt"
    deadline = time.monotonic() + 300
    while not last.exists() and time.monotonic() < deadline and killed.poll() is None:
        time.sleep(0.05)
    time.sleep(0.5)  # mid-way through the next epoch
    killed.send_signal(signal.SIGKILL)
    finish(killed)
    code, _, stderr = finish(start("train.py", *train, f"out_dir={tmp_path / 'killed'}", "resume=true", env=env))
    assert code == 0, stderr[-2000:]
    (straight, steps), (resumed, resumed_steps) = last_gains(tmp_path / "straight"), last_gains(tmp_path / "killed")
    assert steps == resumed_steps == 12
    torch.testing.assert_close(resumed, straight, rtol=1e-6, atol=1e-7)
