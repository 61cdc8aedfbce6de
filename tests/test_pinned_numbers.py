"""Today's numbers on the demo, pinned: the bundled demo model over the demo clips through `evaluate.py
--config eval_demo` must give these values (every metric column of results.csv, per file) whatever the code around
them becomes (a refactor of the model interface, the pipeline or the engine must leave them as they are).
`AUDIOVAE_REPIN=1 pytest tests/test_pinned_numbers.py` writes the file again, for a change that means to move them."""

import json
import math
import os
from pathlib import Path

import pytest
import torch

from audiovae import cli
from audiovae import runs as runs_module
from audiovae.demo import write_demo_clips
from audiovae.reporting.records import read_csv

PINNED = Path(__file__).parent / "data" / "demo_numbers.json"
WORDS = [
    "logger=none",
    "outputs.save_audio=false",
    "outputs.save_plots=false",
    "outputs.listening_files=0",
    "data.max_seconds=2.0",
    "cache.enabled=false",
]
REL = 1e-12  # the same arithmetic in the same order gives the same numbers (CSV keeps 17 significant digits)


def numbers(row: dict) -> dict:
    out = {}
    for key, value in row.items():
        if key.startswith("time_") or key in ("file", "status", "error", "notes"):
            continue
        try:
            out[key] = float(value)
        except (TypeError, ValueError):
            continue
    return out


@pytest.fixture
def one_thread():
    """One intra-op thread: reductions split over another number of threads round differently, and Griffin-Lim's
    iterations carry that to ~1e-5 (1 vs 2 threads); with one the numbers do not depend on the machine's cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.slow
def test_the_demo_numbers_are_todays(tmp_path, capsys, one_thread):
    clips = write_demo_clips(tmp_path / "clips", seconds=2.0)
    os.environ.pop(runs_module.RUN_DIR_ENV, None)
    assert (
        cli.main(
            "eval", ["--config", "eval_demo", *WORDS, f"data.dir={clips[0].parent}", f"out_dir={tmp_path / 'run'}"]
        )
        == 0
    ), capsys.readouterr().err
    measured = {row["file"]: numbers(row) for row in read_csv(tmp_path / "run" / "results.csv")}
    if os.environ.get("AUDIOVAE_REPIN"):
        PINNED.write_text(json.dumps(measured, indent=1, sort_keys=True) + "\n")
    pinned = json.loads(PINNED.read_text())
    assert sorted(measured) == sorted(pinned) and len(pinned) == 5
    for file, values in pinned.items():
        assert sorted(measured[file]) == sorted(values), file
        for key, value in values.items():
            got = measured[file][key]
            assert (math.isnan(got) and math.isnan(value)) or got == pytest.approx(value, rel=REL, abs=1e-9), (
                file,
                key,
                got,
                value,
            )
