"""Log-spectral distance (NU-Wave convention)."""
from typing import Optional

import torch
from torch import Tensor

from audiovae.metrics.functional.items import per_item

BANDS = ("all", "high", "low")


def power_spectrogram(x: Tensor, n_fft: int, hop: int) -> Tensor:
    """|STFT|², Hann window, centred frames with zero padding: `[..., n_fft // 2 + 1, frames]`."""
    window = torch.hann_window(n_fft, dtype=x.dtype, device=x.device)
    spec = torch.stft(x, n_fft, hop_length=hop, window=window, center=True, pad_mode="constant",
                      return_complex=True)
    return spec.abs() ** 2


def _lsd_item(y: Tensor, x: Tensor, sample_rate: int, n_fft: int, hop: int, band: str, cutoff_hz: float):
    log_x = torch.log10(torch.clamp(power_spectrogram(x, n_fft, hop), min=1e-8))
    log_y = torch.log10(torch.clamp(power_spectrogram(y, n_fft, hop), min=1e-8))
    freqs = torch.arange(log_x.shape[-2], device=x.device) * sample_rate / n_fft
    keep = {"all": torch.ones_like(freqs, dtype=torch.bool), "high": freqs >= cutoff_hz, "low": freqs < cutoff_hz}[band]
    diff = (log_y - log_x)[keep]
    return torch.sqrt((diff ** 2).mean(dim=0)).mean()


def lsd(preds: Tensor, target: Tensor, sample_rate: int, n_fft: int = 2048, hop: int = 512, band: str = "all",
        cutoff_hz: Optional[float] = None, lengths: Optional[Tensor] = None) -> Tensor:
    """LSD = mean_t sqrt(mean_f (log10 S_y − log10 S_x)²), S = clamp(|STFT|², 1e-8).

    `band`: "all" bins, "high" (f ≥ fc) or "low" (f < fc); fc = sr/4 by default. Lower is better; 0 for y = x.
    """
    if band not in BANDS:
        raise ValueError(f"band must be one of {BANDS}, got {band!r}")
    cutoff = sample_rate / 4 if cutoff_hz is None else cutoff_hz
    return per_item(lambda y, x: _lsd_item(y, x, sample_rate, n_fft, hop, band, cutoff), preds, target, lengths)
