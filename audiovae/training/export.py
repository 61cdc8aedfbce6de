"""Export the enhancer of a training checkpoint for `evaluate.py enhancement.checkpoint=PATH`.

    audiovae-export CHECKPOINT.ckpt [OUT.safetensors] [--force]      (or python -m audiovae.training.export ...)

An existing output is never replaced without --force, and never the checkpoint itself.
"""

import argparse
import pickle
import sys
from pathlib import Path

import torch
from omegaconf import OmegaConf

from audiovae.consent import check_consent, plugin_use
from audiovae.enhancers.registry import build_enhancer
from audiovae.enhancers.serialization import PLUGINS_KEY, export_enhancer  # the same key in a checkpoint
from audiovae.errors import CheckpointError, exit_status
from audiovae.plugins import load_plugins
from audiovae.written import check_single_output

CHECKPOINT_KEY = "audiovae_enhancement"  # where a training checkpoint keeps the enhancement config
STATE_PREFIX = "model.enhancer."  # the enhancer's parameters inside the training module's state_dict
EMA_KEY = "audiovae_ema"  # the average of the trained parameters (training/ema.py), when kept


def load_checkpoint(checkpoint: Path) -> dict:
    """A training checkpoint loaded safely: tensors and plain Python values only (`weights_only=True`), so a crafted
    file cannot run code; anything else is refused with one line."""
    if not Path(checkpoint).is_file():
        raise CheckpointError(f"{checkpoint}: no such file")
    try:
        ckpt = torch.load(str(checkpoint), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        if "unsupported global" in str(err).lower():  # a pickle that names functions or classes to call
            raise CheckpointError(
                f"{checkpoint}: refused: it holds objects that loading would have to execute "
                f"(not an audiovae checkpoint, or a tampered one)"
            ) from None
        raise CheckpointError(f"{checkpoint}: not a PyTorch checkpoint ({type(err).__name__})") from None
    except Exception as err:  # torch raises many kinds for a file that is not a checkpoint
        raise CheckpointError(f"{checkpoint}: not a PyTorch checkpoint ({type(err).__name__})") from None
    if not isinstance(ckpt, dict):
        raise CheckpointError(f"{checkpoint} is not an audiovae training checkpoint")
    return ckpt


def export_from_checkpoint(
    checkpoint: Path, out: Path, provenance: dict | None = None, trust_code: bool = False
) -> Path:
    """Export the enhancer saved in a training checkpoint (last, best or any other), with its `provenance`: its
    EMA weights when the run kept an average (`ema.enabled`), else its raw weights. The plugins the checkpoint
    records are imported only with `trust_code` (a checkpoint may be someone else's: `audiovae.consent`)."""
    ckpt = load_checkpoint(checkpoint)
    if CHECKPOINT_KEY not in ckpt:
        raise CheckpointError(f"{checkpoint} is not an audiovae training checkpoint")
    enhancement = ckpt[CHECKPOINT_KEY]
    plugins = [str(name) for name in ckpt.get(PLUGINS_KEY) or []]
    uses = [plugin_use(i, name) for i, name in enumerate(plugins)]
    check_consent(uses, set(), trust_code, str(checkpoint), "export again with --trust-code")
    load_plugins(plugins)  # a plugin's enhancer is built from its class
    enhancer = build_enhancer(OmegaConf.create({k: v for k, v in enhancement.items() if k != "checkpoint"}))
    weights = {**ckpt["state_dict"], **ckpt.get(EMA_KEY, {})}  # (an average covers the parameters, not buffers)
    state = {k[len(STATE_PREFIX) :]: v for k, v in weights.items() if k.startswith(STATE_PREFIX)}
    enhancer.load_state_dict(state, strict=True)
    return export_enhancer(enhancer, enhancement, out, provenance, plugins)


def main(argv: list[str]) -> int:
    """`audiovae-export CHECKPOINT [OUT]`: the trained enhancer of a checkpoint as one safetensors file evaluation
    loads."""
    parser = argparse.ArgumentParser(prog="audiovae-export", description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", type=Path, help="a training checkpoint (last.ckpt, step*.ckpt)")
    parser.add_argument("out", type=Path, nargs="?", help="default: <checkpoint>.enhancer.safetensors")
    parser.add_argument("--force", action="store_true", help="overwrite an existing output file")
    parser.add_argument("--trust-code", action="store_true", help="import the plugins the checkpoint records")
    args = parser.parse_args(argv)

    def run() -> None:
        out = args.out or args.checkpoint.with_suffix(".enhancer.safetensors")
        check_single_output(out, [args.checkpoint], args.force)
        print(f"exported {export_from_checkpoint(args.checkpoint, out, trust_code=args.trust_code)}")

    return exit_status(run)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
