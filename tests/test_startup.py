"""Start-up: the command line and the model check import nothing heavy, so `--help` and an unavailable model
answer at once (their times are measured by benchmarks/vs_plain_loop.py, not here)."""
import subprocess
import sys
from pathlib import Path

from audiovae.cli import main

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "diffusers", "transformers", "pytorch_lightning", "wandb", "matplotlib", "torchmetrics", "scipy")


def test_the_command_line_and_the_model_check_import_nothing_heavy():
    code = ("import sys, audiovae.cli, audiovae.models.availability, audiovae.cache.__main__; "
            f"print([m for m in {HEAVY!r} if m in sys.modules])")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_an_unavailable_embedding_model_stops_the_run_before_any_file(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    (tmp_path / "clips").mkdir()
    code = main("eval", ["model=tiny", "logger=none", f"data.dir={tmp_path / 'clips'}", f"out_dir={tmp_path / 'o'}",
                         "metrics.names=[snr,fad]", f"embedding.cache_dir={tmp_path / 'hub'}"])
    assert code == 2
    assert "huggingface-cli download laion/clap-htsat-unfused" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
