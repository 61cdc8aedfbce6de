"""Per-item evaluation of padded batches, and the accumulator protocol that lets every metric follow a signal
given in consecutive chunks (a long file is never held whole)."""

from typing import Callable, Optional

import torch
from torch import Tensor

EPS = torch.finfo(torch.float32).eps


class Accumulator:
    """A metric's sufficient statistics for one (estimate y, reference x) pair: `update(y, x)` with consecutive
    chunks of equal shape (time last for waveforms, `[..., T, F]` for log-mels), then `value()` once. The value
    does not depend on how the signal was chunked. Statistics are kept in float64."""

    def update(self, y: Tensor, x: Tensor) -> "Accumulator":  # pragma: no cover
        """Add the next chunk of the estimate y and the reference x (equal shapes, time last; `[..., T, F]` for
        log-mels); returns self."""
        raise NotImplementedError

    def value(self) -> Tensor:  # pragma: no cover
        """The metric's value for everything added (float64 scalar; NaN where it is undefined). Called once, at the
        end."""
        raise NotImplementedError

    def frame_sums(self) -> list:
        """The STFT accumulators (`frames.FrameSums`) that this one feeds its chunks unchanged, which evaluation lets
        the file's other metrics share (`frames.SharedTransforms`); none by default."""
        return []


def whole(make: Callable[[], Accumulator]) -> Callable[[Tensor, Tensor], Tensor]:
    """`fn(y, x)`: the value of a fresh accumulator given the whole pair at once."""
    return lambda y, x: make().update(y, x).value()


def per_item(
    fn: Callable[[Tensor, Tensor], Tensor],
    preds: Tensor,
    target: Tensor,
    lengths: Optional[Tensor] = None,
    time_dim: int = -1,
) -> Tensor:
    """Apply `fn(pred_i, target_i) -> scalar` to each item cropped to its length; returns `[B]` in the inputs'
    floating dtype.

    Inputs are `[T]` (one item, two lengths allowed: compared over the common length N = min) or `[B, ..., T]`
    padded batches with `lengths` `[B]` along `time_dim` (the full padded length when omitted).
    """
    if preds.dim() == 1 and target.dim() == 1:
        n = min(preds.shape[0], target.shape[0])
        return fn(preds[:n], target[:n]).reshape(1).to(_out_dtype(preds))
    if preds.shape != target.shape:
        raise ValueError(f"preds {tuple(preds.shape)} and target {tuple(target.shape)} must have the same shape")
    size = preds.shape[time_dim]
    if lengths is None:
        lengths = torch.full((preds.shape[0],), size)
    out = []
    for i, n in enumerate(lengths.tolist()):
        n = min(int(n), size)
        out.append(fn(preds[i].narrow(time_dim, 0, n), target[i].narrow(time_dim, 0, n)).reshape(()))
    return torch.stack(out).to(_out_dtype(preds))


def _out_dtype(x: Tensor) -> torch.dtype:
    return x.dtype if x.is_floating_point() else torch.float64


def nan64() -> Tensor:
    """A float64 NaN tensor: the value of a metric that is not defined on an item."""
    return torch.tensor(float("nan"), dtype=torch.float64)
