"""Metrics off the critical path (`metrics.workers`): the wall time of an evaluation whose metrics of whole signals
(pesq_wb, stoi, visqol) cost more than the model, computed inline and by one worker process while the model runs on
the next files, against the model's own time (the same run measuring snr alone). The model on one thread. Prints
the times, the pooled wall over max(model, metrics) and whether the rows are identical, measured in one run.

    python benchmarks/metric_workers.py [--files 12] [--seconds 4] [--griffin-lim-iters 4]
"""

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from common import write_clips, write_result

from audiovae.config import EvalConfig, compose
from audiovae.evaluation.job import run_evaluation
from audiovae.reporting.records import read_csv
from audiovae.sections import resolve_sections

SR = 16000
HEAVY = ["snr", "pesq_wb", "stoi", "visqol"]


def speech_like(seconds: float, f0: float, seed: int) -> np.ndarray:
    """Harmonics of f0 under a 4 Hz syllable envelope, a little noise."""
    t = np.arange(int(seconds * SR)) / SR
    harmonics = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 12))
    envelope = np.clip(np.sin(2 * np.pi * 4 * t), 0, None) ** 2
    noise = np.random.default_rng(seed).standard_normal(len(t))
    return (0.3 * envelope * harmonics + 0.01 * noise).astype(np.float32)


def evaluate(clips: Path, out: Path, names: list[str], workers: int, iters: int = 32) -> tuple[float, list[dict]]:
    """(wall seconds, rows) of one evaluation of `clips` with the demo model (`iters` Griffin-Lim iterations)."""
    words = [
        "model=demo",
        f"model.options.griffin_lim_iters={iters}",
        "logger=none",
        f"data.dir={clips}",
        f"out_dir={out}",
        "cache.enabled=false",
        "outputs.save_audio=false",
        "outputs.save_plots=false",
        "metrics.bootstrap_samples=100",
        f"metrics.names=[{','.join(names)}]",
        f"metrics.workers={workers}",
    ]
    cfg = compose("eval", words, schema=EvalConfig, validators=[resolve_sections])
    start = time.perf_counter()
    run_evaluation(cfg)
    return time.perf_counter() - start, read_csv(out / "results.csv")


def values(rows: list[dict]) -> list[dict]:
    """Each row's file and metric values (not its timings)."""
    prefixes = ("vocoder_", "base_", "enhanced_", "delta_")
    return [{k: v for k, v in r.items() if k == "file" or k.startswith(prefixes)} for r in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=12)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--griffin-lim-iters", type=int, default=4, help="the demo vocoder's (32 by default): fewer")
    args = parser.parse_args()
    torch.set_num_threads(1)
    os.environ.setdefault("WANDB_MODE", "offline")
    with tempfile.TemporaryDirectory() as tmp:
        clips = write_clips(Path(tmp), (speech_like(args.seconds, 110 + 13 * i, i) for i in range(args.files)), SR)
        iters = args.griffin_lim_iters  # so that the metrics cost more than the model
        evaluate(clips, Path(tmp) / "warm", HEAVY, 0, iters)  # imports, numba caches, first passes: not timed
        model, _ = evaluate(clips, Path(tmp) / "model", ["snr"], 0, iters)
        inline, inline_rows = evaluate(clips, Path(tmp) / "inline", HEAVY, 0, iters)
        pooled, pooled_rows = evaluate(clips, Path(tmp) / "pooled", HEAVY, 1, iters)
    metrics = inline - model
    identical = values(inline_rows) == values(pooled_rows)
    for a, b in zip(values(inline_rows), values(pooled_rows)):
        for column in [c for c in a if a[c] != b.get(c)][:4]:
            print(f"  differs: {a['file']} {column}: inline {a[column]}, pooled {b.get(column)}")
    ratio = pooled / max(model, metrics)
    print(
        f"{args.files} files of {args.seconds:g} s, demo model ({args.griffin_lim_iters} Griffin-Lim iterations) "
        f"on one thread, metrics {HEAVY}:\n"
        f"  model (snr only) {model:.1f} s, metrics inline {metrics:.1f} s, inline wall {inline:.1f} s "
        f"({inline / (model + metrics):.2f} × their sum)\n"
        f"  one metric worker: wall {pooled:.1f} s = {ratio:.2f} × max(model, metrics); rows identical: {identical}"
    )
    payload = {"files": args.files, "seconds": args.seconds, "metrics": HEAVY, "model_s": model}
    payload["griffin_lim_iters"] = args.griffin_lim_iters
    payload.update(inline_s=inline, pooled_s=pooled, ratio_to_max=ratio, identical=identical)
    print(json.dumps(payload))
    write_result("metric_workers-cpu", payload)


if __name__ == "__main__":
    main()
