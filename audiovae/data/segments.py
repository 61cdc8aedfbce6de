"""Fixed-length segments of a long signal and their cross-faded reassembly."""

import torch


def segment_starts(num_samples: int, segment: int, overlap: int) -> list[int]:
    """Start offsets of segments of length `segment` overlapping by `overlap` that cover `num_samples`."""
    if not 0 <= overlap < segment:
        raise ValueError(f"chunk overlap ({overlap}) must be in [0, segment length {segment})")
    step = segment - overlap
    starts = [0]
    while starts[-1] + segment < num_samples:
        starts.append(starts[-1] + step)
    return starts


class OverlapAdd:
    """Streaming cross-fade join: `push` segments `[L, ...]` in order; each push returns the part of the joined
    signal (along dim 0) that no later segment overlaps, so a long file is never held whole. Segments sit at
    `starts` with linear cross-fades of `overlap` samples (weights sum to 1 everywhere); the join is cropped to
    `total`. The concatenated pushes equal the whole join exactly (`tests/test_segments.py`)."""

    def __init__(self, starts: list[int], overlap: int, total: int):
        self.starts, self.overlap, self.total = list(starts), overlap, total
        self.done, self.count = 0, 0  # samples returned, segments pushed
        self.sum = self.weight = None  # weighted sum and weights of [done, end of the last segment)

    def _weights(self, i: int, length: int, like: torch.Tensor) -> torch.Tensor:
        w = torch.ones(length, dtype=like.dtype, device=like.device)
        if self.overlap > 0 and len(self.starts) > 1:
            fade = torch.linspace(0, 1, self.overlap + 2, dtype=like.dtype, device=like.device)[1:-1]
            if i > 0:
                w[: self.overlap] *= fade
            if i < len(self.starts) - 1:
                w[-self.overlap :] *= fade.flip(0)
        return w

    def push(self, segment: torch.Tensor) -> torch.Tensor:
        """Add the next segment; returns the samples that no later segment overlaps, with linear cross-fades where
        segments overlap."""
        i, length = self.count, segment.shape[0]
        if i >= len(self.starts):
            raise ValueError(f"all {len(self.starts)} segments were already pushed")
        offset, end = self.starts[i] - self.done, self.starts[i] + length - self.done
        if self.sum is None:
            self.sum = segment.new_zeros((0,) + tuple(segment.shape[1:]))
            self.weight = segment.new_zeros(0)
        grow = end - self.sum.shape[0]
        if grow > 0:
            self.sum = torch.cat([self.sum, segment.new_zeros((grow,) + tuple(segment.shape[1:]))])
            self.weight = torch.cat([self.weight, segment.new_zeros(grow)])
        w = self._weights(i, length, segment)
        self.sum[offset:end] += segment * w.view((length,) + (1,) * (segment.dim() - 1))
        self.weight[offset:end] += w
        self.count += 1
        last = self.count == len(self.starts)
        final = min(self.total, self.starts[i] + length if last else self.starts[i + 1]) - self.done
        final = max(final, 0)
        scale = self.weight[:final].clamp(min=1e-8).view((final,) + (1,) * (segment.dim() - 1))
        out = self.sum[:final] / scale
        self.sum, self.weight, self.done = self.sum[final:], self.weight[final:], self.done + final
        return out


def segment_samples(seconds: float, sample_rate: int, hop: int, downsampling: int) -> int:
    """`seconds` of audio rounded to whole latent frames (a multiple of hop × downsampling samples), at least one."""
    unit = hop * downsampling
    return max(unit, round(seconds * sample_rate / unit) * unit)
