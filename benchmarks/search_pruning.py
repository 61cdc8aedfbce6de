"""Pruning in `audiovae-search`: the same grid study of the demo model's enhancer (gain × cutoff; gains above 1
boost the high band's errors, so half of the settings damage it) run with the paired Wilcoxon pruner and without
any, on the same clips. Prints the file evaluations each used, their ratio, and each study's best setting (the
guarded rule, and Optuna's best objective), measured in one run.

    python benchmarks/search_pruning.py [--files 24] [--seconds 1]
"""

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from common import write_clips, write_result

from audiovae.demo import random_clip
from audiovae.search.outputs import select_trial
from audiovae.search.run import Search, compose_search, work

SR = 16000
GAINS, CUTOFFS = [0.5, 0.7, 0.9, 1.3, 1.6, 2.0], [0.15, 0.3]  # gains 1.3-2.0: the damaging half


def study(clips: Path, out: Path, cache: Path, pruner: str) -> Search:
    """The grid study with `pruner`, run by one worker."""
    space = (
        f"search.space={{enhancement.gain: {{type: categorical, choices: {GAINS}}}, "
        f"enhancement.cutoff: {{type: categorical, choices: {CUTOFFS}}}}}"
    )
    words = [
        "search.config=eval_demo",
        space,
        "search.sampler=grid",
        f"search.trials={len(GAINS) * len(CUTOFFS)}",
        f"search.pruner={pruner}",
        f"out_dir={out}",
        f"data.dir={clips}",
        "metrics.names=[lsd_hf,mel_distance,lsd_lf,spectral_correlation]",
        "logger=none",
        "outputs.save_audio=false",
        "outputs.save_plots=false",
        "outputs.listening_files=0",
        "model.options.griffin_lim_iters=4",
        f"cache.dir={cache}",
    ]
    search = Search(compose_search("search", words))
    work(search.cfg)
    return search


def facts(search: Search) -> dict:
    """File evaluations (Σ files each trial measured), trials pruned, the guarded best and Optuna's best."""
    s = search.study()
    best, _ = select_trial(search, s)
    guarded = s.trials[int(best.split("-")[1])].params if best else None
    return {
        "file_evaluations": sum(int(t.user_attrs.get("steps", 0)) for t in s.trials),
        "pruned": sum(t.state.name == "PRUNED" for t in s.trials),
        "guarded_best": guarded,
        "best_objective": s.best_trial.params,
        "best_value": s.best_value,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=24)
    parser.add_argument("--seconds", type=float, default=1.0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    os.environ.setdefault("WANDB_MODE", "offline")
    with tempfile.TemporaryDirectory() as tmp:
        clips = (0.5 * random_clip(np.random.default_rng(500 + i), args.seconds, SR) for i in range(args.files))
        clips = write_clips(Path(tmp), clips, SR)
        out = {}
        for pruner in ("none", "wilcoxon"):
            start = time.perf_counter()
            search = study(clips, Path(tmp) / pruner, Path(tmp) / "cache", pruner)
            out[pruner] = {**facts(search), "wall_s": time.perf_counter() - start}
    ratio = out["wilcoxon"]["file_evaluations"] / out["none"]["file_evaluations"]
    same = out["wilcoxon"]["guarded_best"] == out["none"]["guarded_best"]
    same_objective = out["wilcoxon"]["best_objective"] == out["none"]["best_objective"]
    print(
        f"grid of {len(GAINS) * len(CUTOFFS)} settings on {args.files} clips of {args.seconds:g} s (demo model):\n"
        f"  no pruning: {out['none']['file_evaluations']} file evaluations, {out['none']['wall_s']:.0f} s\n"
        f"  Wilcoxon pruning: {out['wilcoxon']['file_evaluations']} file evaluations "
        f"({out['wilcoxon']['pruned']} trials pruned), {out['wilcoxon']['wall_s']:.0f} s\n"
        f"  ratio {ratio:.2f}; same guarded best: {same} ({out['none']['guarded_best']}); "
        f"same best objective: {same_objective} ({out['none']['best_objective']})"
    )
    write_result("search_pruning-cpu", {"files": args.files, "seconds": args.seconds, "ratio": ratio, **out})


if __name__ == "__main__":
    main()
