"""An enhancer as one small file: safetensors weights with its enhancement config in the metadata."""

import json
from pathlib import Path

from safetensors import safe_open
from safetensors.torch import load_file, save_file

from audiovae.enhancers.chain import EnhancerChain

METADATA_KEY = "audiovae_enhancement"
PROVENANCE_KEY = "audiovae_provenance"  # where it was trained: W&B run id, model artifact, out_dir, checkpoint
PLUGINS_KEY = "audiovae_plugins"  # the plugins the training run imported (its enhancer may be a plugin's)


def export_enhancer(
    enhancer: EnhancerChain,
    enhancement: dict,
    path: Path,
    provenance: dict | None = None,
    plugins: list | None = None,
) -> Path:
    """Write the chain's weights, its (checkpoint-free) enhancement config and, if given, its provenance and the
    plugins its training imported."""
    path.parent.mkdir(parents=True, exist_ok=True)
    config = {k: v for k, v in enhancement.items() if k != "checkpoint"}
    state = {k: v.detach().cpu().contiguous() for k, v in enhancer.state_dict().items()}
    metadata = {METADATA_KEY: json.dumps(config)}
    if provenance:
        metadata[PROVENANCE_KEY] = json.dumps(provenance)
    if plugins:
        metadata[PLUGINS_KEY] = json.dumps(list(plugins))
    save_file(state, str(path), metadata=metadata)
    return path


def read_plugins(path: str) -> list:
    """The plugins an exported enhancer's training imported (empty without any)."""
    with safe_open(path, framework="pt") as f:
        metadata = f.metadata() or {}
    return json.loads(metadata.get(PLUGINS_KEY, "[]"))


def read_provenance(path: str) -> dict:
    """Where an exported enhancer was trained (empty for a hand-made export)."""
    with safe_open(path, framework="pt") as f:
        metadata = f.metadata() or {}
    return json.loads(metadata.get(PROVENANCE_KEY, "{}"))


def read_enhancement_config(path: str) -> dict:
    """The enhancement config stored in an exported enhancer file."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"'{path}' does not exist")
    try:
        with safe_open(path, framework="pt") as f:
            metadata = f.metadata() or {}
    except Exception as err:  # safetensors raises its own error types for foreign files
        raise ValueError(f"'{path}' is not a safetensors file ({err})") from None
    if METADATA_KEY not in metadata:
        raise ValueError(f"'{path}' is not an exported audiovae enhancer")
    return json.loads(metadata[METADATA_KEY])


def load_enhancer_weights(enhancer: EnhancerChain, path: str) -> EnhancerChain:
    """Load an exported enhancer's weights (safetensors) into `enhancer`, every tensor required; CheckpointError
    (one line) when the file's tensors do not fit what its metadata describes (names or shapes)."""
    from audiovae.errors import CheckpointError

    try:
        enhancer.load_state_dict(load_file(path), strict=True)
    except RuntimeError as err:
        detail = " ".join(str(err).split())
        raise CheckpointError(
            f"config key 'enhancement.checkpoint': {path}: its weights do not fit the enhancer its metadata describes "
            f"({detail[:300]})"
        ) from None
    return enhancer
