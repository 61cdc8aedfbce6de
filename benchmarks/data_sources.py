"""Evaluation of many short clips read from a folder vs from WebDataset shards (the same clips packed by
`audiovae-data pack`), on the demo model: files per second, the share of the pass's wall time outside the measured
stages (goal <= 15 %), peak memory, and the size of each report file. Each source runs in its own process (its peak
RSS is its own), with the cross-run cache off so both compute everything.

    python benchmarks/data_sources.py [--files 2000] [--seconds 0.5] [--per-shard 500] [--model demo]
"""

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
from common import ROOT, write_result

from audiovae.demo import random_clip

REPORT_FILES = ("results.csv", "report.md", "report.html", "summary.json", "columns.csv")


def write_clips(folder: Path, count: int, seconds: float) -> None:
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        sf.write(str(folder / f"clip{i:05d}.wav"), random_clip(rng, seconds, sr=16000), 16000, subtype="PCM_16")


def one_run(data: str, out: str, model: str, seconds: str) -> None:
    """In the child process: one evaluation, then its own numbers as JSON on the last line of stdout."""
    from audiovae.config import EvalConfig, compose
    from audiovae.enhancers.registry import resolve_enhancement
    from audiovae.evaluation.job import run_evaluation

    start = time.perf_counter()
    cfg = compose(
        "eval",
        [f"model={model}", data, f"data.max_seconds={seconds}", "logger=none", "cache.enabled=false", f"out_dir={out}"],
        schema=EvalConfig,
        validators=[resolve_enhancement],
    )
    outcome = run_evaluation(cfg)
    wall = time.perf_counter() - start
    summary = json.loads((Path(out) / "summary.json").read_text())
    print(
        json.dumps(
            {
                "files": outcome.n_files,
                "ok": outcome.n_ok,
                "job_wall_s": wall,
                "accounting": summary["time_accounting"],
                "timings": summary["timings"],
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "report_bytes": {name: (Path(out) / name).stat().st_size for name in REPORT_FILES},
            }
        )
    )


def measure(data: str, out: Path, model: str, seconds: float) -> dict:
    done = subprocess.run(
        [sys.executable, __file__, "--one", data, str(out), model, str(seconds)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    if done.returncode != 0:
        raise SystemExit(done.stderr[-3000:])
    result = json.loads(done.stdout.strip().splitlines()[-1])
    a = result["accounting"]
    result["files_per_s"] = result["files"] / result["job_wall_s"]
    result["pass_files_per_s"] = a["files"] / a["wall_s"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=0.5)
    parser.add_argument("--per-shard", type=int, default=500)
    parser.add_argument("--model", default="demo")
    parser.add_argument(
        "--shards-first",
        action="store_true",
        help="run the shards before the folder (machine drift between the two runs shows as a swapped ratio)",
    )
    parser.add_argument("--one", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        one_run(*args.one)
        return
    from audiovae.data.packing import pack_entries, read_source

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        write_clips(tmp / "clips", args.files, args.seconds)
        start = time.perf_counter()
        shards = pack_entries(read_source(str(tmp / "clips"), ["*.wav"]).entries, tmp / "shards", args.per_shard)
        pack_s = time.perf_counter() - start
        pattern = str(tmp / "shards" / f"shard-{{000000..{len(shards) - 1:06d}}}.tar")
        sources = {"folder": f"data.dir={tmp / 'clips'}", "shards": f"data.shards={pattern}"}
        order = ["shards", "folder"] if args.shards_first else ["folder", "shards"]
        runs = {name: measure(sources[name], tmp / f"out_{name}", args.model, args.seconds) for name in order}
    for name, r in runs.items():
        a = r["accounting"]
        print(
            f"{name:6s}: {r['files']} files in {r['job_wall_s']:.1f} s = {r['files_per_s']:.2f} files/s "
            f"(the pass alone {r['pass_files_per_s']:.2f}); outside the stages {100 * a['outside_stages_share']:.1f} %"
            f" of the pass; listing {a['listing_s']:.2f} s, fingerprints {a['fingerprint_s']:.2f} s; peak RSS "
            f"{r['peak_rss_mb']:.0f} MB; report.md {r['report_bytes']['report.md'] / 1024:.1f} KB, report.html "
            f"{r['report_bytes']['report.html'] / 1024:.0f} KB, results.csv "
            f"{r['report_bytes']['results.csv'] / 1024:.0f} KB"
        )
    ratio = runs["shards"]["files_per_s"] / runs["folder"]["files_per_s"]
    print(f"shards / folder files per second: {ratio:.3f}; packing took {pack_s:.1f} s")
    name = f"data_sources-{args.model}-{args.files}" + ("-shards-first" if args.shards_first else "")
    path = write_result(
        name,
        {
            "files": args.files,
            "order": order,
            "seconds": args.seconds,
            "per_shard": args.per_shard,
            "pack_s": pack_s,
            "shards_over_folder": ratio,
            "runs": runs,
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
