"""What decides a cache entry, hashed: a file's model outputs are decided by its content and the front end, data,
segmenting, model weights, vocoder, precision, device type and library versions (`tensor_key`); its shared
metric values also by the metric definitions (`metric_key`)."""

import hashlib
import json
import os
from concurrent.futures import ThreadPoolExecutor

import torch

CACHE_FORMAT = 1  # bump when an entry's layout changes
METRIC_DEFINITIONS = 1  # bump when any metric's definition changes (its cached values then miss)


def digest(obj) -> str:
    """sha256 (hex) of `obj` as canonical JSON."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def weights_fingerprint(*modules: torch.nn.Module) -> str:
    """sha256 over every parameter's and buffer's name, dtype, shape and the sha256 of its bytes (the weights,
    wherever they came from). The tensors are hashed on every core at once (hashlib releases the GIL): 0.2 s for
    AudioLDM2's 443 MB VAE + vocoder on 2 cores instead of 0.4 s."""
    tensors = [
        (name, tensor.detach().cpu().contiguous())
        for module in modules
        if module is not None
        for name, tensor in sorted(module.state_dict().items())
    ]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        digests = pool.map(_tensor_digest, (tensor for _, tensor in tensors))
        h = hashlib.sha256()
        for (name, tensor), tensor_digest in zip(tensors, digests):
            h.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)}:{tensor_digest}".encode())
    return h.hexdigest()


def _tensor_digest(tensor: torch.Tensor) -> str:
    return hashlib.sha256(
        memoryview(tensor.reshape(-1).view(torch.uint8).numpy()) if tensor.numel() else b""
    ).hexdigest()


def tensor_key(file_fingerprint: str, run_part: dict) -> str:
    """The key of a file's cached model outputs: its content fingerprint and all of the run that decides them."""
    return digest({"format": CACHE_FORMAT, "file": file_fingerprint, **run_part})


def metric_key(metric_part: dict) -> str:
    """The key of a file's cached shared metric values: the metric definitions' version and their settings."""
    return digest({"definitions": METRIC_DEFINITIONS, **metric_part})
