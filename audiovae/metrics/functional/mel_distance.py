"""Multi-scale mel distance (DAC convention)."""

import warnings
from functools import lru_cache
from typing import Optional, Sequence

import librosa
import torch
from torch import Tensor

from audiovae.metrics.functional.frames import FrameSums
from audiovae.metrics.functional.items import Accumulator, per_item, whole

WINDOW_LENGTHS = (32, 64, 128, 256, 512, 1024, 2048)
N_MELS = (5, 10, 20, 40, 80, 160, 320)


@lru_cache(maxsize=64)
def _mel_basis(sample_rate: int, n_fft: int, n_mels: int) -> Tensor:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # high n_mels at short windows leave some filters empty, as in DAC
        basis = librosa.filters.mel(
            sr=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=0, fmax=sample_rate / 2, dtype="float64"
        )
    return torch.from_numpy(basis)


class LogMelL1Sums(FrameSums):
    """One scale: Σ|log10 mel_y − log10 mel_x| over the STFT frames (window w, hop w/4) and the element count."""

    def __init__(self, sample_rate: int, window: int, n_mels: int):
        super().__init__(window, window // 4)
        self.basis = _mel_basis(sample_rate, window, n_mels)
        self.total, self.count = torch.zeros((), dtype=torch.float64), 0

    def add(self, Y: Tensor, X: Tensor) -> None:
        basis = self.basis.to(X.device)
        log_y = torch.log10(torch.clamp(basis @ Y.abs(), min=1e-5))
        log_x = torch.log10(torch.clamp(basis @ X.abs(), min=1e-5))
        self.total = self.total + (log_y - log_x).abs().sum().cpu()
        self.count += log_x.numel()

    def result(self) -> Tensor:
        return self.total / self.count


class MelDistanceSums(Accumulator):
    """One LogMelL1Sums per scale; the value is the sum of their means."""

    def __init__(self, sample_rate: int, window_lengths: Sequence[int], n_mels: Sequence[int]):
        if len(window_lengths) != len(n_mels):
            raise ValueError("window_lengths and n_mels must have the same length")
        self.scales = [LogMelL1Sums(sample_rate, w, m) for w, m in zip(window_lengths, n_mels)]

    def frame_sums(self) -> list[FrameSums]:
        return list(self.scales)

    def update(self, y: Tensor, x: Tensor) -> "MelDistanceSums":
        for scale in self.scales:
            scale.update(y, x)
        return self

    def value(self) -> Tensor:
        return sum(scale.value() for scale in self.scales)


def mel_distance(
    preds: Tensor,
    target: Tensor,
    sample_rate: int,
    window_lengths: Sequence[int] = WINDOW_LENGTHS,
    n_mels: Sequence[int] = N_MELS,
    lengths: Optional[Tensor] = None,
) -> Tensor:
    """Σ_scales mean |log10(clamp(mel_x, 1e-5)) − log10(clamp(mel_y, 1e-5))|.

    Per scale: magnitude STFT with a Hann window of length w, hop w/4, centred with zero padding; librosa slaney
    mel filterbank with m bands over 0…sr/2. Lower is better; 0 for y = x.
    """
    return per_item(whole(lambda: MelDistanceSums(sample_rate, window_lengths, n_mels)), preds, target, lengths)
