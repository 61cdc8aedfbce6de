"""Shared parts of the benchmarks: devices, timing under synchronisation, machine info, result files."""

import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import soundfile as sf
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # `python benchmarks/x.py` from a checkout

from audiovae.pipeline import synchronize  # noqa: E402
from audiovae.reporting.summary import json_safe, package_versions  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"


def devices() -> list[torch.device]:
    """CPU always, CUDA when present."""
    return [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])


def median_seconds(fn: Callable[[], object], device: torch.device, repeats: int, warmup: int = 1) -> float:
    """Median wall time of `fn()` over `repeats` runs after `warmup` runs, synchronised on the device."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        synchronize(device)
        start = time.perf_counter()
        fn()
        synchronize(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def machine() -> dict:
    info = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "versions": package_versions(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }
    try:
        info["cpu"] = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if "model name" in line)
    except (OSError, StopIteration):
        info["cpu"] = platform.processor()
    return info


def write_result(name: str, payload: dict) -> Path:
    """benchmarks/results/<name>.json with the machine and the time it was taken."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    body = {"benchmark": name, "taken": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "machine": machine(), **payload}
    path.write_text(json.dumps(json_safe(body), indent=2, allow_nan=False) + "\n")
    return path


def write_clips(folder: Path, clips: Iterable[np.ndarray], sample_rate: int) -> Path:
    """`folder`/clips/00.wav, 01.wav, ... (float32) of `clips`: an evaluation benchmark's input folder."""
    out = Path(folder) / "clips"
    out.mkdir()
    for i, clip in enumerate(clips):
        sf.write(out / f"{i:02d}.wav", np.asarray(clip, dtype=np.float32), sample_rate)
    return out
