"""Seconds of audio evaluated per second by the full evaluation (evaluate.py's own run) at AudioLDM2's full size
(random weights), for batch sizes and precisions, and the share of time spent in metrics (target <= 5 %).

    python benchmarks/eval_throughput.py [--files 16] [--seconds 10.24] [--batch-sizes 1 4 16]
                                         [--precisions 32-true bf16-mixed] [--model audioldm2_random]
"""

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from common import devices, write_result

from audiovae.config import EvalConfig, compose
from audiovae.demo import random_clip
from audiovae.enhancers.registry import resolve_enhancement
from audiovae.evaluation.job import run_evaluation


def write_clips(folder: Path, count: int, seconds: float) -> None:
    rng = np.random.default_rng(0)
    for i in range(count):
        sf.write(str(folder / f"clip{i:03d}.wav"), random_clip(rng, seconds, sr=16000), 16000, subtype="FLOAT")


def evaluate_once(
    clips: Path, out: Path, model: str, device: torch.device, batch: int, precision: str, seconds: float
) -> dict:
    cfg = compose(
        "eval",
        [
            f"model={model}",
            f"data.dir={clips}",
            f"data.batch_size={batch}",
            f"data.max_seconds={seconds}",
            f"trainer.accelerator={device.type}",
            f"trainer.precision={precision}",
            "logger=none",
            "outputs.save_audio=false",
            "outputs.save_plots=false",
            f"out_dir={out}",
        ],
        schema=EvalConfig,
        validators=[resolve_enhancement],
    )
    run_evaluation(cfg)
    summary = json.loads((out / "summary.json").read_text())
    rows_metrics_s = summary["timings"]["metrics"] * summary["counts"]["ok"]
    throughput = summary["run"]["throughput_audio_s_per_s"]
    wall = summary["run"]["audio_seconds"] / throughput
    return {
        "audio_s_per_s": throughput,
        "wall_s": wall,
        "metrics_share": rows_metrics_s / wall,
        "mean_stage_s_per_file": summary["timings"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10.24)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--precisions", nargs="+", default=["32-true", "bf16-mixed"])
    parser.add_argument("--model", default="audioldm2_random")
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        clips = Path(tmp) / "clips"
        clips.mkdir()
        write_clips(clips, args.files, args.seconds)
        for device in devices():
            for precision in args.precisions:
                for batch in args.batch_sizes:
                    key = f"{device.type}/{precision}/batch{batch}"
                    try:
                        r = evaluate_once(
                            clips, Path(tmp) / key.replace("/", "-"), args.model, device, batch, precision, args.seconds
                        )
                    except (RuntimeError, ValueError) as err:  # a precision the device does not support
                        results[key] = {"error": str(err).splitlines()[0]}
                        print(f"{key}: not supported here ({results[key]['error']})")
                        continue
                    results[key] = r
                    print(
                        f"{key}: {r['audio_s_per_s']:.3f} s of audio per s; metrics {100 * r['metrics_share']:.2f} "
                        f"% of the time (target <= 5 %)"
                    )
    first = next((v for v in results.values() if "audio_s_per_s" in v), None)
    if first:
        for key, r in results.items():
            if "audio_s_per_s" in r:
                print(f"  {key}: {r['audio_s_per_s'] / first['audio_s_per_s']:.2f}x the first setting")
    payload = {"model": args.model, "files": args.files, "seconds": args.seconds, "results": results}
    print(f"wrote {write_result('eval_throughput', payload)}")


if __name__ == "__main__":
    main()
