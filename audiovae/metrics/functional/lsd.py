"""Log-spectral distance (NU-Wave convention)."""

from typing import Optional

import torch
from torch import Tensor

from audiovae.metrics.functional.frames import FrameSums, band_mask, hf_cutoff
from audiovae.metrics.functional.items import nan64, per_item, whole


class LSDSums(FrameSums):
    """Σ_t sqrt(mean_{f in band} (log10 S_y − log10 S_x)²) and the frame count."""

    def __init__(self, sample_rate: int, n_fft: int, hop: int, band: str, cutoff_hz: float):
        super().__init__(n_fft, hop)
        self.keep = band_mask(n_fft // 2 + 1, n_fft, sample_rate, band, cutoff_hz)
        self.total, self.frames = torch.zeros((), dtype=torch.float64), 0

    def add(self, Y: Tensor, X: Tensor) -> None:
        keep = self.keep.to(X.device)
        log_x = torch.log10(torch.clamp(X[keep].abs() ** 2, min=1e-8))
        log_y = torch.log10(torch.clamp(Y[keep].abs() ** 2, min=1e-8))
        self.total = self.total + torch.sqrt(((log_y - log_x) ** 2).mean(dim=0)).sum().cpu()
        self.frames += X.shape[-1]

    def result(self) -> Tensor:
        return self.total / self.frames if self.frames else nan64()


def lsd(
    preds: Tensor,
    target: Tensor,
    sample_rate: int,
    n_fft: int = 2048,
    hop: int = 512,
    band: str = "all",
    cutoff_hz: Optional[float] = None,
    lengths: Optional[Tensor] = None,
) -> Tensor:
    """LSD = mean_t sqrt(mean_f (log10 S_y − log10 S_x)²), S = clamp(|STFT|², 1e-8); Hann window, centred frames
    with zero padding.

    `band`: "all" bins, "high" (f ≥ fc) or "low" (f < fc); fc = sr/4 by default. Lower is better; 0 for y = x.
    """
    cutoff = hf_cutoff(sample_rate, cutoff_hz)
    band_mask(1, n_fft, sample_rate, band, cutoff)  # validates `band`
    return per_item(whole(lambda: LSDSums(sample_rate, n_fft, hop, band, cutoff)), preds, target, lengths)
