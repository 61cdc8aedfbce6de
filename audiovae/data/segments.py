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


def cut_segments(signal: torch.Tensor, starts: list[int], segment: int) -> torch.Tensor:
    """`[N]` -> `[K, segment]`, zero-padded past the end."""
    out = signal.new_zeros(len(starts), segment)
    for i, s in enumerate(starts):
        piece = signal[s : s + segment]
        out[i, : piece.shape[0]] = piece
    return out


def crossfade_join(segments: torch.Tensor, starts: list[int], overlap: int, total: int) -> torch.Tensor:
    """Overlap-add `[K, L, ...]` segments placed at `starts` along dim 1 with linear cross-fades of `overlap`
    samples (weights sum to 1 everywhere), cropped to `total`. Exact for K = 1."""
    k, length = segments.shape[0], segments.shape[1]
    out_len = starts[-1] + length
    out = segments.new_zeros((out_len,) + tuple(segments.shape[2:]))
    weight = segments.new_zeros(out_len)
    ramp = torch.ones(length, dtype=segments.dtype, device=segments.device)
    if overlap > 0 and k > 1:
        fade = torch.linspace(0, 1, overlap + 2, dtype=segments.dtype, device=segments.device)[1:-1]
        ramp_in, ramp_out = ramp.clone(), ramp.clone()
        ramp_in[:overlap], ramp_out[-overlap:] = fade, fade.flip(0)
    for i, s in enumerate(starts):
        w = ramp
        if overlap > 0 and k > 1:
            w = (ramp_in if i > 0 else ramp) * (ramp_out if i < k - 1 else ramp)
        shape = (length,) + (1,) * (segments.dim() - 2)
        out[s : s + length] += segments[i] * w.view(shape)
        weight[s : s + length] += w
    out = out / weight.clamp(min=1e-8).view((out_len,) + (1,) * (segments.dim() - 2))
    return out[:total]


def segment_samples(seconds: float, sample_rate: int, hop: int, downsampling: int) -> int:
    """`seconds` of audio rounded to whole latent frames (a multiple of hop × downsampling samples), at least one."""
    unit = hop * downsampling
    return max(unit, round(seconds * sample_rate / unit) * unit)
