import pytest
import torch

from audiovae.data.segments import OverlapAdd, segment_starts


# helpers: a signal cut into segments, and segments joined in one call (`OverlapAdd` pushed each in turn)
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
    join = OverlapAdd(starts, overlap, total)
    return torch.cat([join.push(segment) for segment in segments])


@pytest.mark.parametrize("n, seg, overlap", [(100, 40, 10), (40, 40, 10), (10, 40, 0), (1000, 64, 16), (81, 40, 0)])
def test_segments_cover_the_signal_and_rejoin_exactly(n, seg, overlap):
    x = torch.randn(n, dtype=torch.float64)
    starts = segment_starts(n, seg, overlap)
    assert starts[0] == 0 and starts[-1] + seg >= n
    assert all(b - a == seg - overlap for a, b in zip(starts, starts[1:]))
    pieces = cut_segments(x, starts, seg)
    torch.testing.assert_close(crossfade_join(pieces, starts, overlap, n), x)


def test_crossfade_blends_overlapping_segments_linearly():
    starts, overlap = [0, 6], 4
    pieces = torch.stack([torch.zeros(10), torch.ones(10)])
    out = crossfade_join(pieces, starts, overlap, 16)
    assert torch.all(out[:6] == 0) and torch.all(out[10:] == 1)
    assert torch.all(torch.diff(out[5:11]) > 0)


def test_joins_along_time_for_mel_shaped_segments():
    mel = torch.randn(50, 64)
    starts = segment_starts(50, 20, 4)
    pieces = torch.stack([torch.nn.functional.pad(mel[s : s + 20], (0, 0, 0, max(0, s + 20 - 50))) for s in starts])
    torch.testing.assert_close(crossfade_join(pieces, starts, 4, 50), mel)


def test_overlap_must_be_shorter_than_a_segment():
    with pytest.raises(ValueError, match="overlap"):
        segment_starts(100, 10, 10)


def test_streaming_join_returns_each_part_once_no_later_segment_touches_it():

    n, seg, overlap = 1000, 64, 16
    starts = segment_starts(n, seg, overlap)
    pieces = torch.randn(len(starts), seg, 3)
    join = OverlapAdd(starts, overlap, n)
    parts = [join.push(p) for p in pieces]
    ends = [*starts[1:], n]
    assert [p.shape[0] for p in parts] == [b - a for a, b in zip([0, *starts[1:]], ends)]
    assert torch.equal(torch.cat(parts), crossfade_join(pieces, starts, overlap, n))
    with pytest.raises(ValueError, match="already pushed"):
        join.push(pieces[0])
