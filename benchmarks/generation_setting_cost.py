"""What one more enhancer setting costs in generation: AudioLDM2's pipeline at full size (random weights, built on
first use, about 4.5 GB) generates one 10 s item through `audiovae-generate` (the job's own code, no cache), then a
second setting decodes the same latents from the cache. Prints the share of one item's time (diffusion, base decode
and vocoder, enhanced decode and vocoder) that the enhancer setting costs, and the second run's speed-up.

    python benchmarks/generation_setting_cost.py [--steps 10] [--seconds 10] [--enhancement latent_fft_boost]
"""

import argparse
import json
import os
import tempfile
from pathlib import Path

from common import write_result

from audiovae.cli import main


def run(out: Path, prompts: Path, args, *words: str) -> dict:
    code = main(
        "generate",
        [
            "model=audioldm2_random_pipeline",
            "embedding=tiny_clap",
            f"prompts={prompts}",
            "seeds=[0]",
            f"generation.steps={args.steps}",
            f"generation.audio_length_s={args.seconds}",
            f"enhancement={args.enhancement}",
            "metrics.names=[hf_energy_share]",
            "logger=none",
            "outputs.save_plots=false",
            "outputs.listening_files=0",
            f"out_dir={out}",
            *words,
        ],
    )
    assert code == 0, f"generate exited {code}"
    return json.loads((out / "summary.json").read_text())


def main_() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--enhancement", default="latent_fft_boost")
    args = parser.parse_args()
    os.environ.setdefault("WANDB_MODE", "offline")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        os.environ["AUDIOVAE_CACHE_DIR"] = str(tmp / "cache")
        (tmp / "prompts.txt").write_text("The sound of a hammer hitting a wooden surface\n")
        first = run(tmp / "first", tmp / "prompts.txt", args)
        second = run(tmp / "second", tmp / "prompts.txt", args, "enhancement.gain=1.8")
    t1, t2 = first["timings"], second["timings"]
    cost = first["setting_cost"]
    work = ("diffusion", "base_decode", "vocoder", "enhanced_decode", "enhanced_vocoder")
    second_item = sum(t2.get(k, 0.0) for k in work)
    result = {
        "steps": args.steps,
        "seconds": args.seconds,
        "enhancement": args.enhancement,
        "first": {k: t1.get(k) for k in work},
        "second": {k: t2.get(k) for k in work},
        "setting_share": cost["setting_share"],
        "item_seconds": cost["item_seconds"],
        "setting_seconds": cost["setting_seconds"],
        "second_setting_seconds": second_item,
        "diffusions": [first["generation"]["diffusions_run"], second["generation"]["diffusions_run"]],
        "speedup_of_a_second_setting": cost["item_seconds"] / second_item,
    }
    path = write_result("generation_setting_cost", result)
    print(
        f"one {args.seconds:g} s item, {args.steps} steps: {cost['item_seconds']:.2f} s "
        f"(diffusion {t1['diffusion']:.2f} s); the {args.enhancement} setting costs {cost['setting_seconds']:.3f} s "
        f"= {100 * cost['setting_share']:.2f} % of it; a second setting from cached latents: {second_item:.3f} s "
        f"({result['speedup_of_a_second_setting']:.1f}× faster; diffusions {result['diffusions']}) -> {path}"
    )


if __name__ == "__main__":
    main_()
