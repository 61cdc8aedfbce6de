"""Today's numbers on the demo, pinned: the bundled demo model over the demo clips through `evaluate.py
--config eval_demo` must give these values (every metric column of results.csv, per file) whatever the code around
them becomes. `AUDIOVAE_REPIN=1 pytest tests/test_pinned_numbers.py` writes the file again, for a change that means
to move them.

The values hold on any CPU within a tolerance that depends on what a column passes through:

- `exact` (rel 1e-9): what never meets the VAE: the input's facts and the vocoder ceiling (Griffin-Lim of the
  front end's mel, measured against the input). Identical digits on every machine measured.
- `vae` (rel 1e-4): metrics of the decoded log-mel itself (domain `mel`): convolutions are summed in another order
  by each CPU's kernels (AVX-512, AVX2, SSE4.1 paths of oneDNN). Measured spread: 3.0e-6.
- `griffin_lim` (rel 0.15): metrics of the audio that Griffin-Lim makes of a *decoded* mel: its iterations carry
  the decoder's 1e-6 rounding to the phase, so the audio differs by far more than the mel. Measured spread over the
  machine that pinned the file, an AMD EPYC (AVX2) and that machine with `ONEDNN_MAX_CPU_ISA=SSE41`: 5.8e-2
  (delta_si_sdr, a difference of two dB values), 1.3e-2 for the other columns.

A change to a metric moves the `exact` vocoder columns, a change to the front end, the VAE or the enhancer moves
the `vae` columns: `test_a_change_is_caught` keeps the tolerances honest with two mutants.
"""

import json
import math
import os
from pathlib import Path

import pytest
import torch

from audiovae import cli
from audiovae import runs as runs_module
from audiovae.demo import write_demo_clips
from audiovae.metrics.base import MEL
from audiovae.metrics.registry import METRICS
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
TOLERANCE = {"exact": 1e-9, "vae": 1e-4, "griffin_lim": 0.15}  # relative; see the module docstring
ABSOLUTE = 1e-9  # for values at zero
VARIANTS = ("base_", "enhanced_", "delta_")


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


def tolerance_class(column: str) -> str:
    """`exact`, `vae` or `griffin_lim` for a results.csv column (see the module docstring)."""
    variant = next((prefix for prefix in VARIANTS if column.startswith(prefix)), None)
    if variant is None:
        return "exact"
    metric = column[len(variant) :]
    spec = METRICS.get(metric)
    return "vae" if spec is not None and spec.cls.domain == MEL else "griffin_lim"


def violations(measured: dict, pinned: dict) -> list[tuple]:
    """(file, column, measured, pinned, class) for each value outside its class's tolerance."""
    out = []
    for file, values in pinned.items():
        for column, value in values.items():
            got = measured.get(file, {}).get(column, math.nan)
            if math.isnan(got) and math.isnan(value):
                continue
            kind = tolerance_class(column)
            if not got == pytest.approx(value, rel=TOLERANCE[kind], abs=ABSOLUTE):
                out.append((file, column, got, value, kind))
    return out


@pytest.fixture
def one_thread():
    """One intra-op thread: with one the numbers do not depend on the machine's number of cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def evaluate_demo(folder: Path, capsys) -> dict:
    clips = write_demo_clips(folder / "clips", seconds=2.0)
    os.environ.pop(runs_module.RUN_DIR_ENV, None)
    words = ["--config", "eval_demo", *WORDS, f"data.dir={clips[0].parent}", f"out_dir={folder / 'run'}"]
    assert cli.main("eval", words) == 0, capsys.readouterr().err
    return {row["file"]: numbers(row) for row in read_csv(folder / "run" / "results.csv")}


@pytest.mark.slow
def test_the_demo_numbers_are_todays(tmp_path, capsys, one_thread):
    measured = evaluate_demo(tmp_path, capsys)
    if os.environ.get("AUDIOVAE_REPIN"):
        PINNED.write_text(json.dumps(measured, indent=1, sort_keys=True) + "\n")
    pinned = json.loads(PINNED.read_text())
    assert sorted(measured) == sorted(pinned) and len(pinned) == 5
    for file, values in pinned.items():
        assert sorted(measured[file]) == sorted(values), file
    assert {tolerance_class(column) for column in pinned["band.wav"]} == set(TOLERANCE)
    assert violations(measured, pinned) == []


def test_the_classes_of_the_columns():
    assert tolerance_class("vocoder_si_sdr") == "exact" and tolerance_class("duration_s") == "exact"
    assert tolerance_class("base_mel_l1") == "vae" and tolerance_class("delta_mel_psnr") == "vae"
    assert tolerance_class("enhanced_lsd_hf") == "griffin_lim" and tolerance_class("delta_si_sdr") == "griffin_lim"


def _scaled_lsd(monkeypatch):
    """A metric changed by 0.1 %: every lsd value times 1.001."""
    from audiovae.metrics.functional.lsd import LSDSums

    result = LSDSums.result
    monkeypatch.setattr(LSDSums, "result", lambda self: result(self) * 1.001)


def _quieter_decode(monkeypatch):
    """A stage changed by 0.05 dB: every decoded log-mel 0.005 lower (natural log)."""
    from audiovae.models.enhanced_vae import EnhancedVAE

    decode_raw = EnhancedVAE.decode_raw
    monkeypatch.setattr(EnhancedVAE, "decode_raw", lambda self, latent: decode_raw(self, latent) - 0.005)


@pytest.mark.slow
@pytest.mark.parametrize("mutant", [_scaled_lsd, _quieter_decode])
def test_a_change_is_caught(tmp_path, capsys, one_thread, monkeypatch, mutant):
    mutant(monkeypatch)
    found = violations(evaluate_demo(tmp_path, capsys), json.loads(PINNED.read_text()))
    assert found, "a deliberate change went unnoticed"
    assert {kind for *_, kind in found} & {"exact", "vae"}, found


SAVED_RUN = Path(__file__).parent / "data" / "saved_run"  # a run's config.yaml and per-file values, kept as data


@pytest.mark.slow
def test_a_saved_config_of_the_older_layout_reproduces_its_values(tmp_path, capsys, one_thread):
    """`--config run/config.yaml` of a run saved in the older layout (flat metric settings `metrics.lsd_n_fft`,
    the vocoder keys at the top of `model`), every setting off its default, gives that run's values."""
    clips = write_demo_clips(tmp_path / "clips", seconds=2.0)
    text = (SAVED_RUN / "config.yaml").read_text()
    text = text.replace("/work/main/", f"{Path(__file__).resolve().parents[1]}/")
    text = text.replace("/tmp/saved/clips", str(clips[0].parent)).replace("/tmp/saved/run", str(tmp_path / "run"))
    (tmp_path / "config.yaml").write_text(text)
    os.environ.pop(runs_module.RUN_DIR_ENV, None)
    assert cli.main("eval", ["--config", str(tmp_path / "config.yaml")]) == 0, capsys.readouterr().err
    measured = {row["file"]: numbers(row) for row in read_csv(tmp_path / "run" / "results.csv")}
    saved = json.loads((SAVED_RUN / "numbers.json").read_text())
    assert sorted(measured) == sorted(saved) and "enhanced_lsd_audioldm_eval" in saved["band.wav"]
    assert violations(measured, saved) == []
