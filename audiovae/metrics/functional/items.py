"""Per-item evaluation of padded batches: every item is compared at its own true length."""
from typing import Callable, Optional

import torch
from torch import Tensor

EPS = torch.finfo(torch.float32).eps


def per_item(fn: Callable[[Tensor, Tensor], Tensor], preds: Tensor, target: Tensor,
             lengths: Optional[Tensor] = None, time_dim: int = -1) -> Tensor:
    """Apply `fn(pred_i, target_i) -> scalar` to each item cropped to its length; returns `[B]`.

    Inputs are `[T]` (one item, two lengths allowed: compared over the common length N = min) or `[B, ..., T]`
    padded batches with `lengths` `[B]` along `time_dim` (the full padded length when omitted).
    """
    if preds.dim() == 1 and target.dim() == 1:
        n = min(preds.shape[0], target.shape[0])
        return fn(preds[:n], target[:n]).reshape(1)
    if preds.shape != target.shape:
        raise ValueError(f"preds {tuple(preds.shape)} and target {tuple(target.shape)} must have the same shape")
    size = preds.shape[time_dim]
    if lengths is None:
        lengths = torch.full((preds.shape[0],), size)
    out = []
    for i, n in enumerate(lengths.tolist()):
        n = min(int(n), size)
        out.append(fn(preds[i].narrow(time_dim, 0, n), target[i].narrow(time_dim, 0, n)).reshape(()))
    return torch.stack(out)


def nan_like(x: Tensor) -> Tensor:
    return torch.tensor(float("nan"), dtype=x.dtype if x.is_floating_point() else torch.float32, device=x.device)
