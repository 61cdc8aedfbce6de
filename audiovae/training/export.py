"""Export the enhancer of a training checkpoint for `evaluate.py enhancement.checkpoint=PATH`.

    python -m audiovae.training.export CHECKPOINT.ckpt [OUT.safetensors]
"""
import sys
from pathlib import Path

import torch
from omegaconf import OmegaConf

from audiovae.enhancers.registry import build_enhancer
from audiovae.enhancers.serialization import export_enhancer

CHECKPOINT_KEY = "audiovae_enhancement"  # where a training checkpoint keeps the enhancement config
STATE_PREFIX = "model.enhancer."         # the enhancer's parameters inside the training module's state_dict


def export_from_checkpoint(checkpoint: Path, out: Path) -> Path:
    """Export the enhancer saved in a training checkpoint (last, best or any other)."""
    ckpt = torch.load(str(checkpoint), map_location="cpu", weights_only=False)
    if CHECKPOINT_KEY not in ckpt:
        raise ValueError(f"{checkpoint} is not an audiovae training checkpoint")
    enhancement = ckpt[CHECKPOINT_KEY]
    enhancer = build_enhancer(OmegaConf.create({k: v for k, v in enhancement.items() if k != "checkpoint"}))
    state = {k[len(STATE_PREFIX):]: v for k, v in ckpt["state_dict"].items() if k.startswith(STATE_PREFIX)}
    enhancer.load_state_dict(state, strict=True)
    return export_enhancer(enhancer, enhancement, out)


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    source = Path(sys.argv[1])
    target = Path(sys.argv[2]) if len(sys.argv) == 3 else source.with_suffix(".enhancer.safetensors")
    print(f"exported {export_from_checkpoint(source, target)}")
