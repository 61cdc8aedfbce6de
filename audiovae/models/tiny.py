"""Tiny, seeded, diffusers-format AudioLDM2-shaped models for tests, CI and offline runs."""
import json
from pathlib import Path

import torch
from diffusers import AutoencoderKL
from transformers import SpeechT5HifiGan, SpeechT5HifiGanConfig
from transformers.utils import logging as transformers_logging

TINY_VAE = dict(
    in_channels=1, out_channels=1, latent_channels=8, layers_per_block=1, norm_num_groups=8, sample_size=64,
    block_out_channels=(8, 16, 16), down_block_types=("DownEncoderBlock2D",) * 3,
    up_block_types=("UpDecoderBlock2D",) * 3, scaling_factor=0.5,
)
TINY_VOCODER = dict(
    model_in_dim=64, sampling_rate=16000, upsample_initial_channel=32, upsample_rates=[4, 4, 10],
    upsample_kernel_sizes=[8, 8, 20], resblock_kernel_sizes=[3], resblock_dilation_sizes=[[1, 3]],
    normalize_before=False, initializer_range=0.1,  # audible output from random weights
)


def build_tiny_model(path: Path, seed: int = 0) -> Path:
    """Write `vae/` and `vocoder/` (config.json + safetensors) under `path`; same seed, same weights."""
    path = Path(path)
    transformers_logging.disable_progress_bar()
    torch.manual_seed(seed)
    AutoencoderKL(**TINY_VAE).save_pretrained(path / "vae", safe_serialization=True)
    torch.manual_seed(seed + 1)
    SpeechT5HifiGan(SpeechT5HifiGanConfig(**TINY_VOCODER)).save_pretrained(path / "vocoder", safe_serialization=True)
    (path / "audiovae_model.json").write_text(json.dumps({"builder": "tiny", "seed": seed}) + "\n")
    return path


BUILDERS = {"tiny": build_tiny_model}
