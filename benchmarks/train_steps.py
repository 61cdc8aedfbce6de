"""Steps per second of demo training before and after the fast loop, as a new user runs it.

`train.py model=demo trainer.max_steps=N` on seeded music-like clips (`audiovae.demo.write_random_clips`), once
with the source tree of `--before` (a commit, checked out into a temporary git worktree: validation every epoch,
examples at every validation, every crop encoded at every step, the base recomputed at every validation) and once
with this checkout (pre-encoded crops, validation every `trainer.val_check_interval` steps on a fixed subset, the
frozen base measured once, examples every 4th validation), each a fresh process with a cold cache, interleaved
A B A B. Printed and written to `benchmarks/results/train_steps-demo.json`: wall seconds of each run (start-up,
validation, checkpoints and examples included) and steps per second = N / wall seconds.

    python benchmarks/train_steps.py [--before 020f486] [--steps 40] [--clips 32] [--rounds 2]
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, write_result


def run(tree: Path, data: Path, out: Path, steps: int, extra: list[str]) -> float:
    env = {**os.environ, "WANDB_MODE": "offline", "AUDIOVAE_CACHE_DIR": str(out / "cache")}
    start = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            str(tree / "train.py"),
            "model=demo",
            f"data.dir={data}",
            f"out_dir={out / 'run'}",
            f"trainer.max_steps={steps}",
            "logger=none",
            *extra,
        ],
        cwd=tree,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default="020f486", help="the commit to measure as 'before'")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--clips", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--val-check-interval",
        type=int,
        default=20,
        help="the 'after' run's validation interval (the default 250 would not validate in a short run)",
    )
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from audiovae.demo import write_random_clips

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        write_random_clips(tmp / "clips", args.clips, seed=1001)
        before_tree = tmp / "before"
        subprocess.run(
            ["git", "worktree", "add", "--detach", str(before_tree), args.before],
            cwd=ROOT,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            seconds = {"before": [], "after": []}
            for r in range(args.rounds):
                for name, tree, extra in (
                    ("before", before_tree, []),
                    ("after", ROOT, [f"trainer.val_check_interval={args.val_check_interval}"]),
                ):
                    s = run(tree, tmp / "clips", tmp / f"{name}{r}", args.steps, extra)
                    seconds[name].append(s)
                    print(f"round {r} {name}: {s:.1f} s, {args.steps / s:.3f} steps/s", flush=True)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(before_tree)], cwd=ROOT, check=False)
    before, after = statistics.median(seconds["before"]), statistics.median(seconds["after"])
    result = {
        "model": "demo",
        "steps": args.steps,
        "clips": args.clips,
        "clip_seconds": 4.0,
        "before_commit": args.before,
        "after_val_check_interval": args.val_check_interval,
        "seconds": seconds,
        "steps_per_s": {"before": args.steps / before, "after": args.steps / after},
        "speedup": before / after,
    }
    print(f"steps/s before {args.steps / before:.3f}, after {args.steps / after:.3f}: {before / after:.2f}x")
    write_result("train_steps-demo", result)


if __name__ == "__main__":
    main()
