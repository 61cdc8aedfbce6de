"""Train the bundled demo VAE with train.py's own loop and write it in diffusers format.

    python -m audiovae.training.demo_vae [--clips 256] [--target audiovae/assets/models/demo] [key=value ...]

Writes `--clips` seeded random music-like clips (`audiovae.demo.random_clip`) into `data.dir` when missing,
trains every VAE parameter (configs/train_demo_vae.yaml), sets `scaling_factor` to 1 / std of the training
latents (as AudioLDM2 does for its diffusion space), and saves `vae/` plus a model card `audiovae_model.json`.
"""

import argparse
import json
import sys
from pathlib import Path

import torch

from audiovae.audio.io import load_audio
from audiovae.config.compose import ASSET_DIR, compose
from audiovae.config.schema import TrainConfig
from audiovae.data.segments import segment_samples
from audiovae.demo import write_random_clips
from audiovae.models.factory import build_frontend, build_model
from audiovae.sections import resolve_sections
from audiovae.training.run import run_training

STATE_PREFIX = "model.vae."


def load_trained_vae(cfg, checkpoint: Path):
    """The configured (untrained) VAE with the trained weights of a checkpoint, and the front end."""
    model = build_model(cfg.model, cfg.enhancement, cfg.frontend)
    state = torch.load(str(checkpoint), map_location="cpu", weights_only=True)["state_dict"]
    model.vae.load_state_dict({k[len(STATE_PREFIX) :]: v for k, v in state.items() if k.startswith(STATE_PREFIX)})
    return model, build_frontend(cfg.frontend, model.downsampling)


@torch.no_grad()
def latent_std(model, frontend, clips: list[Path], crop_seconds: float) -> float:
    """Standard deviation of the unscaled posterior modes of the clips' first crops."""
    crop = segment_samples(crop_seconds, frontend.sample_rate, frontend.hop_length, model.downsampling)
    latents = []
    for path in clips:
        wave = torch.from_numpy(load_audio(path, frontend.sample_rate).waveform[:crop]).float()
        mel = frontend(frontend.prepare(wave))
        latents.append(model.posterior(mel).mode().flatten())
    return float(torch.cat(latents).std())


def main(argv: list[str]) -> int:
    """Train the bundled demo VAE on synthesised music-like clips and write it to the assets."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=256, help="number of synthesised training clips")
    parser.add_argument("--target", type=Path, default=ASSET_DIR / "models" / "demo")
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args(argv)
    cfg = compose("train_demo_vae", args.overrides, schema=TrainConfig, validators=[resolve_sections])
    clip_dir = Path(cfg.data.dir)
    clips = sorted(clip_dir.glob("*.wav")) or write_random_clips(clip_dir, args.clips, seed=cfg.seed + 1)

    outcome = run_training(cfg)
    model, frontend = load_trained_vae(cfg, Path(outcome.best_checkpoint))
    scaling = 1.0 / latent_std(model, frontend, clips, cfg.data.crop_seconds)
    model.vae.register_to_config(scaling_factor=round(scaling, 4))
    model.vae.save_pretrained(args.target / "vae", safe_serialization=True)
    card = {
        "builder": "audiovae.training.demo_vae",
        "training_clips": len(clips),
        "steps": cfg.trainer.max_steps,
        "monitor": cfg.checkpoint.monitor,
        "best_score": outcome.best_score,
        "scaling_factor": round(scaling, 4),
        "config": "configs/train_demo_vae.yaml",
        "overrides": args.overrides,
        "seed": cfg.seed,
    }
    (args.target / "audiovae_model.json").write_text(json.dumps(card, indent=2) + "\n")
    print(
        f"demo VAE: {args.target} (best {cfg.checkpoint.monitor} = {outcome.best_score:.4f}, "
        f"scaling_factor {scaling:.4f})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
