"""What decides a cache entry, hashed: a file's model outputs are decided by its content and the front end, data,
segmenting, model weights, vocoder, precision, device type and library versions (`tensor_key`); its shared
metric values also by the metric definitions (`metric_key`)."""
import hashlib
import json

import torch

CACHE_FORMAT = 1  # bump when an entry's layout changes
METRIC_DEFINITIONS = 1  # bump when any metric's definition changes (its cached values then miss)


def digest(obj) -> str:
    """sha256 (hex) of `obj` as canonical JSON."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def weights_fingerprint(*modules: torch.nn.Module) -> str:
    """sha256 of every parameter's and buffer's name, dtype, shape and bytes (the weights, wherever they came from)."""
    h = hashlib.sha256()
    for module in modules:
        if module is None:
            continue
        for name, tensor in sorted(module.state_dict().items()):
            t = tensor.detach().cpu().contiguous()
            h.update(f"{name}:{t.dtype}:{tuple(t.shape)}".encode())
            h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def tensor_key(file_fingerprint: str, run_part: dict) -> str:
    return digest({"format": CACHE_FORMAT, "file": file_fingerprint, **run_part})


def metric_key(metric_part: dict) -> str:
    return digest({"definitions": METRIC_DEFINITIONS, **metric_part})
