"""Log-spectral distance (NU-Wave convention), on the spectra as they are or after AudioSR's energy scaling.

Scaling rule `low_band_energy` (AudioSR's evaluation, its `lsd_calculation_pitfall` example): the estimate is scaled
by g = mean |X_kt| / mean |Y_kt| over the lowest ⌊0.1 · (n_fft/2 + 1)⌋ bins and every frame of the file (g = 1 when
the estimate has no energy there), so a reconstruction that is right but quieter or louder is not charged for its
level. Scaling the waveform by g scales its STFT by g, so the file's chunks are kept and replayed as g·y once g is
known: the file's signals are held whole while it is measured (as pesq_wb and stoi hold them).
"""

from typing import Literal, Optional

import torch
from torch import Tensor

from audiovae.metrics.functional.frames import FrameSums, band_mask, hf_cutoff
from audiovae.metrics.functional.items import Accumulator, nan64, per_item, whole

Scaling = Literal["raw", "low_band_energy"]
LOW_BAND_FRACTION = 0.1  # low_band_energy: the share of the bins, from 0 Hz, whose mean magnitudes are matched


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


class LowBandMagnitudes(FrameSums):
    """Σ |Y_kt| and Σ |X_kt| over the lowest ⌊LOW_BAND_FRACTION · bins⌋ bins and every frame: `result()` is g."""

    def __init__(self, n_fft: int, hop: int):
        super().__init__(n_fft, hop)
        self.bins = int((n_fft // 2 + 1) * LOW_BAND_FRACTION)
        self.y, self.x = torch.zeros((), dtype=torch.float64), torch.zeros((), dtype=torch.float64)

    def add(self, Y: Tensor, X: Tensor) -> None:
        self.y = self.y + Y[: self.bins].abs().sum().cpu()
        self.x = self.x + X[: self.bins].abs().sum().cpu()

    def result(self) -> Tensor:
        return self.x / self.y if self.y > 0 else torch.ones((), dtype=torch.float64)


class LowBandMatchedLSD(Accumulator):
    """LSD of g·y against x, g from the file's low-band magnitudes (`LowBandMagnitudes`): the chunks are kept and
    replayed through `LSDSums` once g is known."""

    def __init__(self, sample_rate: int, n_fft: int, hop: int, band: str, cutoff_hz: float):
        self.low = LowBandMagnitudes(n_fft, hop)
        self.sums = lambda: LSDSums(sample_rate, n_fft, hop, band, cutoff_hz)
        self.chunks: list[tuple[Tensor, Tensor]] = []

    def frame_sums(self) -> list[FrameSums]:
        return self.low.frame_sums()  # fed the file's chunks unchanged: it may share their STFT

    def update(self, y: Tensor, x: Tensor) -> "LowBandMatchedLSD":
        self.low.update(y, x)
        self.chunks.append((y.detach().cpu(), x.detach().cpu()))
        return self

    def value(self) -> Tensor:
        gain, sums = self.low.value(), self.sums()
        for y, x in self.chunks:
            sums.update(y.double() * gain, x)
        return sums.value()


def lsd_accumulator(
    sample_rate: int, n_fft: int, hop: int, band: str, cutoff_hz: float, scaling: Scaling = "raw"
) -> Accumulator:
    """The accumulator of one file's LSD under `scaling` ("raw" or "low_band_energy")."""
    if scaling == "low_band_energy":
        return LowBandMatchedLSD(sample_rate, n_fft, hop, band, cutoff_hz)
    if scaling != "raw":
        raise ValueError(f"scaling must be raw or low_band_energy, got {scaling!r}")
    return LSDSums(sample_rate, n_fft, hop, band, cutoff_hz)


def lsd(
    preds: Tensor,
    target: Tensor,
    sample_rate: int,
    n_fft: int = 2048,
    hop: int = 512,
    band: str = "all",
    cutoff_hz: Optional[float] = None,
    lengths: Optional[Tensor] = None,
    scaling: Scaling = "raw",
) -> Tensor:
    """LSD = mean_t sqrt(mean_f (log10 S_y − log10 S_x)²), S = clamp(|STFT|², 1e-8); Hann window, centred frames
    with zero padding; with `scaling="low_band_energy"` of g·y (module docstring).

    `band`: "all" bins, "high" (f ≥ fc) or "low" (f < fc); fc = sr/4 by default. Lower is better; 0 for y = x.
    """
    cutoff = hf_cutoff(sample_rate, cutoff_hz)
    band_mask(1, n_fft, sample_rate, band, cutoff)  # validates `band`
    make = lambda: lsd_accumulator(sample_rate, n_fft, hop, band, cutoff, scaling)  # noqa: E731
    return per_item(whole(make), preds, target, lengths)
