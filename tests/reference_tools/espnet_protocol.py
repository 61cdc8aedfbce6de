"""Writes tests/data/espnet_protocol_references.json: the signal columns of ESPnet-Codec's evaluation as VERSA's own
functions compute them (`versa/sequence_metrics/signal_metric.py`: sdr, ci_sdr, si_snr; `mcd_f0.py` with the codec
configuration's settings; `utterance_metrics/pesq_score.py`, `stoi.py`, `visqol_score.py` with `model: default`), on
seeded test pairs, for tests/test_protocols.py.

VERSA is not on the package registry: give a checkout of github.com/shinjiwlab/versa (its commit is recorded). Its
metric modules are loaded from their files (not its package, which imports every metric's dependencies); the
packages they call are downloaded from the registry at the versions below (mir_eval, fast-bss-eval, ci-sdr, einops,
fastdtw;
pyworld, pysptk, pesq, pystoi and librosa are this project's own). Google's C++ ViSQOL binding is not on the
registry: the shim of tests/reference_tools/dac_protocol.py runs visqol-python's model of the same mode. Run:

    .venv/bin/python -m tests.reference_tools.espnet_protocol /path/to/versa
"""

import argparse
import importlib.util
import json
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import torch

from tests.reference_tools import use_downloaded
from tests.reference_tools.dac_protocol import _visqol_binding

OUT = Path(__file__).parents[1] / "data" / "espnet_protocol_references.json"
PACKAGES = {"mir_eval": "0.8.2", "fast-bss-eval": "0.1.4", "ci-sdr": "0.0.2", "einops": "0.8.2", "fastdtw": "0.3.4"}
MCD_SETTINGS = {  # VERSA's codec configuration (egs/codec_16k.yaml, egs/separate_metrics/mcd_f0.yaml)
    "f0min": 40,
    "f0max": 800,
    "mcep_shift": 5,
    "mcep_fftl": 1024,
    "mcep_dim": 39,
    "mcep_alpha": 0.466,
    "seq_mismatch_tolerance": 0.1,
    "power_threshold": -20,
    "dtw": False,
}
SECONDS = 1.5
CASES = {"lowpass": 16000, "gain_noise": 16000, "quantised": 16000, "lowpass_24k": 24000}


def pair(case: str) -> tuple[np.ndarray, np.ndarray, int]:
    """(reference, estimate, rate): a seeded clip of the demo's generator and a degraded copy, float32."""
    from scipy.signal import butter, sosfilt

    from audiovae.demo import random_clip

    rate, seed = CASES[case], list(CASES).index(case)
    x = (0.5 * random_clip(np.random.default_rng(300 + seed), SECONDS, rate)).astype(np.float32)
    noise = np.random.default_rng(400 + seed).standard_normal(len(x))
    if case.startswith("lowpass"):
        y = sosfilt(butter(8, 4000, fs=rate, output="sos"), x) + 0.003 * noise
    elif case == "gain_noise":
        y = 0.7 * x + 0.01 * noise
    else:
        y = np.round(x * 64) / 64
    return x, y.astype(np.float32), rate


def _module(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def versa_columns(versa: dict, x: np.ndarray, y: np.ndarray, rate: int) -> dict:
    """VERSA's values for reference `x` and estimate `y` (float64, as its scorer's `wav_normalize` gives them)."""
    gt, pred = x.astype(np.float64), y.astype(np.float64)
    signal = versa["signal"].signal_metric(pred, gt)
    api, api_rate = versa["visqol"].visqol_setup("default")
    return {
        "sdr": float(signal["sdr"]),
        "ci_sdr": float(signal["ci_sdr"]),
        "si_snr": float(signal["si_snr"]),
        "mcd": float(versa["mcd"].mcd_f0(pred, gt, rate, **MCD_SETTINGS)["mcd"]),
        "pesq": float(versa["pesq"].pesq_metric(pred, gt, rate)["pesq"]),
        "stoi": float(versa["stoi"].stoi_metric(pred, gt, rate)["stoi"]),
        "visqol": float(versa["visqol"].visqol_metric(api, api_rate, pred, gt, rate)["visqol"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("versa", type=Path, help="a checkout of github.com/shinjiwlab/versa")
    args = parser.parse_args()
    commit = subprocess.run(
        ["git", "-C", str(args.versa), "rev-parse", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        use_downloaded(PACKAGES, Path(tmp))
        _visqol_binding()
        metrics = args.versa / "versa"
        versa = {
            "signal": _module(metrics / "sequence_metrics" / "signal_metric.py"),
            "mcd": _module(metrics / "sequence_metrics" / "mcd_f0.py"),
            "pesq": _module(metrics / "utterance_metrics" / "pesq_score.py"),
            "stoi": _module(metrics / "utterance_metrics" / "stoi.py"),
            "visqol": _module(metrics / "utterance_metrics" / "visqol_score.py"),
        }
        cases = {case: versa_columns(versa, *pair(case)) for case in CASES}
    payload = {"versa_commit": commit or "unknown", "packages": PACKAGES, "seconds": SECONDS, "cases": cases}
    OUT.write_text(json.dumps(payload, indent=1) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
