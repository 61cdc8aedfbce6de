"""Multi-scale mel distance (DAC convention)."""
import warnings
from functools import lru_cache
from typing import Optional, Sequence

import librosa
import torch
from torch import Tensor

from audiovae.metrics.functional.items import per_item

WINDOW_LENGTHS = (32, 64, 128, 256, 512, 1024, 2048)
N_MELS = (5, 10, 20, 40, 80, 160, 320)


@lru_cache(maxsize=64)
def _mel_basis(sample_rate: int, n_fft: int, n_mels: int) -> Tensor:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # high n_mels at short windows leave some filters empty, as in DAC
        basis = librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=0, fmax=sample_rate / 2)
    return torch.from_numpy(basis)


def _log_mel(x: Tensor, sample_rate: int, window: int, n_mels: int) -> Tensor:
    stft = torch.stft(x, window, hop_length=window // 4, window=torch.hann_window(window, dtype=x.dtype,
                      device=x.device), center=True, pad_mode="constant", return_complex=True).abs()
    mel = _mel_basis(sample_rate, window, n_mels).to(x.device, x.dtype) @ stft
    return torch.log10(torch.clamp(mel, min=1e-5))


def _mel_distance_item(y: Tensor, x: Tensor, sample_rate: int, windows, n_mels) -> Tensor:
    return sum((_log_mel(y, sample_rate, w, m) - _log_mel(x, sample_rate, w, m)).abs().mean()
               for w, m in zip(windows, n_mels))


def mel_distance(preds: Tensor, target: Tensor, sample_rate: int, window_lengths: Sequence[int] = WINDOW_LENGTHS,
                 n_mels: Sequence[int] = N_MELS, lengths: Optional[Tensor] = None) -> Tensor:
    """Σ_scales mean |log10(clamp(mel_x, 1e-5)) − log10(clamp(mel_y, 1e-5))|.

    Per scale: magnitude STFT with a Hann window of length w, hop w/4, centred with zero padding; librosa slaney
    mel filterbank with m bands over 0…sr/2. Lower is better; 0 for y = x.
    """
    if len(window_lengths) != len(n_mels):
        raise ValueError("window_lengths and n_mels must have the same length")
    return per_item(lambda y, x: _mel_distance_item(y, x, sample_rate, window_lengths, n_mels), preds, target,
                    lengths)
