"""Does adversarial fine-tuning restore the high band? The recipe `configs/train_demo_gan.yaml` (mel post-filter,
multi-scale mel discriminator, LSGAN + feature matching + L1 log-mel losses, EMA) on the bundled demo VAE, on
music-like clips of its own domain that it was not trained on, then `evaluate.py` on the held-out clips.

1. Seeded clips (`audiovae.demo.write_random_clips`, the demo VAE's training synthesiser with other seeds):
   `--train` training files, `--val` held-out files, 4 s each.
2. `train.py --config train_demo_gan` (timed, a fresh process, cold cache).
3. `evaluate.py` of the exported enhancer on the held-out files cut to the validation crop (must reproduce the
   training's validation numbers) and on the whole files (the paired verdicts).
4. The high band of the log-mel itself: mean |log-mel − reference| over bands ≥ `loss.hf_cutoff_band`, base and
   enhanced decodes, whole held-out files (what the post-filter changes, before any vocoder).
5. A control for the vocoder: a hand-set high shelf that *dulls* the high band (`mel_hf_shelf gain=0.7`).

Written to `benchmarks/results/gan_proof-demo.json`.

    python benchmarks/gan_proof.py [--train 64] [--val 16] [--steps 2000]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, write_result

METRICS = ["mel_l1", "lsd", "lsd_hf", "lsd_lf", "mel_distance", "hf_retention"]


def evaluate(folder: Path, out: Path, env: dict, *overrides: str) -> dict:
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "evaluate.py"),
            "model=demo",
            f"data.dir={folder}",
            f"out_dir={out}",
            "logger=none",
            f"metrics.names=[{','.join(METRICS)}]",
            "outputs.save_audio=false",
            "outputs.save_plots=false",
            *overrides,
        ],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    summary = json.loads((out / "summary.json").read_text())
    out_metrics = {}
    for name in METRICS:
        m = summary["metrics"][name]
        c = m["comparison"]
        out_metrics[name] = {
            "means": {v: m["variants"][v]["mean"] for v in m["variants"]},
            "change_percent": c["percent_change"],
            "ci": [c["ci_low"], c["ci_high"]],
            "wins": c["wins"],
            "losses": c["losses"],
            "verdict": m["verdict"]["outcome"],
        }
    return out_metrics


def high_band_l1(files: list[Path], exported: Path, cutoff_band: int) -> dict:
    """Mean |log-mel − reference| over bands ≥ cutoff_band of the base and enhanced decodes, over files."""
    sys.path.insert(0, str(ROOT))
    import torch

    from audiovae.audio.io import load_audio
    from audiovae.config import EvalConfig, compose
    from audiovae.enhancers import resolve_enhancement
    from audiovae.models.factory import build_frontend, build_model

    cfg = compose(
        "eval",
        ["model=demo", f"enhancement.checkpoint={exported}"],
        schema=EvalConfig,
        validators=[resolve_enhancement],
    )
    model = build_model(cfg.model, cfg.enhancement, cfg.frontend)
    frontend = build_frontend(cfg.frontend, model.downsampling)
    per_file = {"base": [], "enhanced": []}
    with torch.no_grad():
        for path in files:
            wave = torch.from_numpy(load_audio(path, frontend.sample_rate).waveform)
            frames = (len(wave) // frontend.hop_length) // model.downsampling * model.downsampling
            mel = frontend(frontend.prepare(wave)[None, : frames * frontend.hop_length])
            latent = model.encode(mel)
            for name, decoded in (
                ("base", model.decode(latent, enhanced=False)),
                ("enhanced", model.decode(latent, enhanced=True)),
            ):
                per_file[name].append(float((decoded - mel)[..., cutoff_band:].abs().mean()))
    return {name: statistics.mean(values) for name, values in per_file.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=64)
    parser.add_argument("--val", type=int, default=16)
    parser.add_argument("--steps", type=int, default=2000)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from audiovae.demo import write_random_clips

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        env = {**os.environ, "WANDB_MODE": "offline", "AUDIOVAE_CACHE_DIR": str(tmp / "cache")}
        write_random_clips(tmp / "train", args.train, seed=1001)
        val_files = write_random_clips(tmp / "val", args.val, seed=2002)
        start = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                str(ROOT / "train.py"),
                "--config",
                "train_demo_gan",
                f"data.dir={tmp / 'train'}",
                f"data.val_dir={tmp / 'val'}",
                f"out_dir={tmp / 'run'}",
                f"trainer.max_steps={args.steps}",
            ],
            cwd=ROOT,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        train_seconds = time.perf_counter() - start
        summary = json.loads((tmp / "run" / "train_summary.json").read_text())
        exported = tmp / "run" / "enhancer.safetensors"
        crop = summary["config"]["data"]["crop_seconds"]
        on_crops = evaluate(
            tmp / "val", tmp / "eval_crops", env, f"enhancement.checkpoint={exported}", f"data.max_seconds={crop}"
        )
        whole = evaluate(tmp / "val", tmp / "eval", env, f"enhancement.checkpoint={exported}")
        shelf = evaluate(tmp / "val", tmp / "eval_shelf", env, "enhancement=mel_hf_shelf", "enhancement.gain=0.7")
        band = high_band_l1(val_files, exported, summary["config"]["loss"]["hf_cutoff_band"])
    validation = {
        k: {"start": summary["initial_validation"].get(k), "end": summary["final_metrics"][k]}
        for k in sorted(summary["final_metrics"])
        if k.startswith("val/")
    }
    result = {
        "model": "demo",
        "recipe": "configs/train_demo_gan.yaml",
        "train_files": args.train,
        "val_files": args.val,
        "steps": summary["steps"],
        "train_seconds": train_seconds,
        "best_checkpoint": Path(summary["best_checkpoint"]).name,
        "best_score": summary["best_score"],
        "monitor": summary["monitor"],
        "validation": validation,
        "evaluate_on_validation_crops": on_crops,
        "evaluate_whole_files": whole,
        "control_mel_hf_shelf_0.7": shelf,
        "high_band_log_mel_l1": band,
    }
    print(
        json.dumps(
            {
                "train_seconds": train_seconds,
                "high_band_log_mel_l1": band,
                "whole": {m: v["means"] for m, v in whole.items()},
            },
            indent=1,
        )
    )
    write_result("gan_proof-demo", result)


if __name__ == "__main__":
    main()
