"""Start-up: the command line and the model check import nothing heavy, so `--help` and an unavailable model
answer at once (their times are measured by benchmarks/vs_plain_loop.py, not here)."""

import gc
import os
import subprocess
import sys
from pathlib import Path

import pytest

from audiovae.cli import main
from audiovae.startup import import_job

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "diffusers", "transformers", "pytorch_lightning", "wandb", "matplotlib", "torchmetrics", "scipy")


def test_the_command_line_and_the_model_check_import_nothing_heavy():
    code = (
        "import sys, audiovae.cli, audiovae.models.availability, audiovae.cache.__main__; "
        f"print([m for m in {HEAVY!r} if m in sys.modules])"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_an_unavailable_embedding_model_stops_the_run_before_any_file(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    (tmp_path / "clips").mkdir()
    code = main(
        "eval",
        [
            "model=tiny",
            "logger=none",
            f"data.dir={tmp_path / 'clips'}",
            f"out_dir={tmp_path / 'o'}",
            "metrics.names=[snr,fad]",
            f"embedding.cache_dir={tmp_path / 'hub'}",
        ],
    )
    assert code == 2
    assert "huggingface-cli download laion/clap-htsat-unfused" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def _module(folder: Path, name: str, body: str) -> str:
    (folder / f"{name}.py").write_text(body)
    return name


def test_a_job_imports_with_the_collector_paused_then_collects_again(tmp_path, monkeypatch):
    """The import runs without collections (they cost ~1 s of a full-size start), the objects alive after it are
    frozen (the exit's collection skips them), and the job itself runs with the collector on: a long evaluation or
    training still frees its reference cycles."""
    monkeypatch.syspath_prepend(str(tmp_path))
    name = _module(
        tmp_path,
        "audiovae_test_heavy_job",
        "import gc\nPAUSED = not gc.isenabled()\n"
        "OBJECTS = [[i] for i in range(5000)]\ndef job():\n    return gc.isenabled()\n",
    )
    before = gc.get_freeze_count()
    job = import_job(name, "job")
    assert sys.modules[name].PAUSED
    assert job() is True and gc.isenabled()
    assert gc.get_freeze_count() >= before + 5000
    frozen = gc.get_freeze_count()
    assert import_job(name, "job")() is True  # already imported: nothing more is frozen
    assert gc.get_freeze_count() == frozen


def test_a_failing_job_import_leaves_the_collector_on(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    name = _module(tmp_path, "audiovae_test_broken_job", "raise ImportError('no such library')\n")
    with pytest.raises(ImportError, match="no such library"):
        import_job(name, "job")
    assert gc.isenabled()


def test_a_single_process_evaluation_imports_neither_lightning_nor_torchmetrics(tmp_path):
    """Their imports are ~0.5 s of every start; with the default trainer section evaluation needs neither (nor
    matplotlib without plots)."""
    clips = tmp_path / "clips"
    clips.mkdir()
    import numpy as np
    import soundfile as sf

    sf.write(str(clips / "tone.wav"), 0.3 * np.sin(np.arange(8000) * 0.05).astype(np.float32), 16000)
    code = (
        "import sys; from audiovae.cli import main; "
        f"status = main('eval', ['model=tiny', 'logger=none', 'outputs.save_plots=false', 'data.dir={clips}', "
        f"'out_dir={tmp_path / 'o'}', 'cache.dir={tmp_path / 'cache'}']); "
        "print(status, [m for m in ('pytorch_lightning', 'lightning_fabric', 'torchmetrics', 'matplotlib') "
        "if m in sys.modules])"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "WANDB_MODE": "offline"},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "0 []", done.stdout
    assert (tmp_path / "o" / "results.csv").exists()
