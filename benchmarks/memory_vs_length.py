"""Peak memory of evaluation with chunking (data.chunking=true) for 10 s, 60 s and 300 s inputs: should be flat,
since a long file goes through the VAE in fixed-length segments and streams out (joined, measured, its audio and
plot written) segment by segment. Default outputs (audio and plot on). Each length runs in a fresh process.

    python benchmarks/memory_vs_length.py [--lengths 10 60 300] [--model audioldm2_random] [--batch-size 4]
                                          [--name NAME] [key=value ...]   (evaluation config overrides)

Peak RSS includes what glibc's allocator keeps after frees; `MALLOC_MMAP_THRESHOLD_=65536 python ...` (recorded in
the result) makes large blocks go back to the system when freed, so the figure follows live memory.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from common import write_result

from audiovae.config import EvalConfig, compose
from audiovae.demo import random_clip
from audiovae.enhancers.registry import resolve_enhancement
from audiovae.evaluation.job import run_evaluation

ALLOCATOR_ENV = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_ARENA_MAX")


def one_length(seconds: float, model: str, batch: int, device: str, overrides: list[str]) -> dict:
    """Evaluate one file of `seconds` in this process; peak resident memory and peak CUDA memory."""
    with tempfile.TemporaryDirectory() as tmp:
        clips = Path(tmp) / "clips"
        clips.mkdir()
        rng = np.random.default_rng(0)
        clip = np.concatenate([random_clip(rng, 10.0, sr=16000) for _ in range(int(np.ceil(seconds / 10)))])
        sf.write(str(clips / "long.wav"), clip[: int(seconds * 16000)], 16000, subtype="FLOAT")
        cfg = compose(
            "eval",
            [
                f"model={model}",
                f"data.dir={clips}",
                "data.chunking=true",
                "data.max_seconds=10.24",
                f"data.batch_size={batch}",
                f"trainer.accelerator={device}",
                "logger=none",
                f"out_dir={tmp}/out",
                *overrides,
            ],
            schema=EvalConfig,
            validators=[resolve_enhancement],
        )
        run_evaluation(cfg)
        ok = json.loads((Path(tmp) / "out" / "summary.json").read_text())["counts"]["ok"]
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kilobytes
    cuda_mb = torch.cuda.max_memory_allocated() / 2**20 if device == "cuda" else None
    return {"seconds": seconds, "ok": ok, "peak_rss_mb": peak_rss_mb, "peak_cuda_mb": cuda_mb}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", type=float, nargs="+", default=[10, 60, 300])
    parser.add_argument("--model", default="audioldm2_random")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--one", type=float, help=argparse.SUPPRESS)  # internal: one length, JSON on stdout
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--name", help="result file name (default: memory_vs_length-<model>)")
    parser.add_argument("overrides", nargs="*", help="evaluation config overrides, e.g. metrics.names=[mel_l1]")
    args = parser.parse_args()
    if args.one is not None:
        print(json.dumps(one_length(args.one, args.model, args.batch_size, args.device, args.overrides)))
        return
    results = []
    for seconds in args.lengths:
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--one",
                str(seconds),
                "--model",
                args.model,
                "--batch-size",
                str(args.batch_size),
                "--device",
                args.device,
                *args.overrides,
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        results.append(json.loads(out.strip().splitlines()[-1]))
        r = results[-1]
        print(
            f"{seconds:6.0f} s: peak RSS {r['peak_rss_mb']:.0f} MB"
            + (f", peak CUDA {r['peak_cuda_mb']:.0f} MB" if r["peak_cuda_mb"] is not None else "")
            + f" ({r['peak_rss_mb'] / results[0]['peak_rss_mb']:.2f}x the {args.lengths[0]:.0f} s run)"
        )
    allocator = {k: os.environ[k] for k in ALLOCATOR_ENV if k in os.environ}  # glibc malloc tuning, if any
    payload = {
        "model": args.model,
        "device": args.device,
        "batch_size": args.batch_size,
        "overrides": args.overrides,
        "allocator_env": allocator,
        "results": results,
    }
    print(f"wrote {write_result(args.name or f'memory_vs_length-{args.model}', payload)}")


if __name__ == "__main__":
    main()
