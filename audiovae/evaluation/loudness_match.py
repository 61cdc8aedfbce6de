"""`metrics.loudness_normalize`: the reference and every reconstruction of a file scaled to one integrated loudness
(ITU-R BS.1770-4 through pyloudnorm, as `loudness_error` measures it) before the waveform metrics, so that a level
difference does not count where only the sound is compared.

Each signal s gets one gain g = 10^((T − L(s)) / 20), T the target in LUFS, L(s) its integrated loudness over the
whole file; a signal without one (shorter than a 400 ms block, or silent below the −70 LUFS gate) keeps g = 1. The
gain needs the whole file, so its chunks are held (`hold`) until it ends and then given out scaled (`release`), in
order: chunk-additive metrics see the same sums as on the scaled whole signals.
"""

import math
from typing import Hashable, Iterator, Mapping

import torch

from audiovae.metrics.loudness import integrated_loudness


def gain_to(target: float, loudness: float) -> float:
    """The amplitude gain that brings `loudness` to `target` (1 when the signal has no integrated loudness)."""
    return 10 ** ((target - loudness) / 20) if math.isfinite(loudness) else 1.0


class LoudnessMatch:
    """A file's waveform chunks (its reference and each measured estimate) held until the file ends, then given out
    scaled to `target` LUFS."""

    def __init__(self, target: float, sample_rate: int):
        self.target, self.sample_rate = target, sample_rate
        self.chunks: list[tuple[torch.Tensor, dict]] = []
        self.released = False

    def hold(self, reference: torch.Tensor, measured: Mapping[Hashable, torch.Tensor]) -> None:
        """Keep the next chunk of the reference and of each estimate (keyed as the caller keys them)."""
        self.chunks.append((reference, dict(measured)))

    def gains(self) -> tuple[float, dict]:
        """(the reference's gain, each estimate's) from the whole signals held."""
        if not self.chunks:
            return 1.0, {}
        reference = torch.cat([r for r, _ in self.chunks])
        gain = gain_to(self.target, integrated_loudness(reference, self.sample_rate))
        keys = self.chunks[0][1].keys()
        whole = {k: torch.cat([m[k] for _, m in self.chunks]) for k in keys}
        return gain, {k: gain_to(self.target, integrated_loudness(w, self.sample_rate)) for k, w in whole.items()}

    def release(self) -> Iterator[tuple[torch.Tensor, dict]]:
        """The held chunks in order, each signal scaled by its gain; the buffer is emptied."""
        reference_gain, gains = self.gains()
        chunks, self.chunks, self.released = self.chunks, [], True
        for reference, measured in chunks:
            yield reference * reference_gain, {k: w * gains[k] for k, w in measured.items()}
