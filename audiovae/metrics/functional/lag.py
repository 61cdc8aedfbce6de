"""Alignment of a reconstruction with its reference: the lag that maximises their cross-correlation, accumulated
over consecutive chunks, and a constant shift of the waveforms before the metrics.

    c[k] = Σ_t x[t] · y[t + k],  k ∈ [−K, K];  lag = argmax_k c[k]  (ties: the smallest |k|)
    ρ = c[lag] / √(Σ x² · Σ y²)  (how clear the peak is: 1 for a delayed copy, near 0 for unrelated signals)

A positive lag means `y` (the reconstruction) is late: y[t] ≈ x[t − lag].

>>> x = np.sin(np.arange(400) * 0.37) * np.hanning(400)
>>> best_lag(x, np.concatenate([np.zeros(7), x[:-7]]), 32), best_lag(x, x, 32)
(7, 0)
"""

from typing import Mapping

import numpy as np
import torch

CLEAR_PEAK = 0.3  # the normalised correlation ρ from which a peak counts as a measured lag


def cross_correlation(x: np.ndarray, y: np.ndarray, max_lag: int) -> np.ndarray:
    """c[k + K] = Σ_t x[t]·y[t + k] for k in [−K, K] over the indices where both exist (float64)."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    out = np.zeros(2 * max_lag + 1)
    if not len(x) or not len(y):
        return out
    from scipy.signal import correlate  # here: scipy.signal costs ~0.1 s of a start

    full = correlate(y, x, mode="full", method="fft" if min(len(x), len(y)) > 256 else "direct")
    lags = np.arange(-(len(x) - 1), len(y))  # full[i] is the lag lags[i]
    keep = (lags >= -max_lag) & (lags <= max_lag)
    out[lags[keep] + max_lag] = full[keep]
    return out


def lag_of(c: np.ndarray) -> int:
    """The lag of the largest correlation; ties within 1e-12 of the scale go to the smallest |k|."""
    max_lag = (len(c) - 1) // 2
    if not np.any(c):
        return 0
    top = c.max()
    candidates = np.flatnonzero(c >= top - 1e-12 * max(1.0, abs(top))) - max_lag
    return int(candidates[np.argmin(np.abs(candidates))])


def best_lag(x, y, max_lag: int) -> int:
    """The lag of `y` against `x` from whole signals (the reference for `LagSearch`)."""
    return lag_of(cross_correlation(x, y, max_lag))


class LagSearch:
    """`best_lag` over a signal pair that arrives in consecutive chunks, in memory bounded by `max_lag`: each
    pair (t, t + k) is counted once, when the later of its two samples arrives — the chunk with the last
    `max_lag` samples before it (W) counts every pair ending in the chunk, less the pairs inside those samples
    alone (T): c += corr(W) − corr(T)."""

    def __init__(self, max_lag: int):
        self.max_lag = max_lag
        self.sums = np.zeros(2 * max_lag + 1)
        self.energy_x = self.energy_y = 0.0
        self.x_tail, self.y_tail = np.zeros(0), np.zeros(0)

    def update(self, y: torch.Tensor, x: torch.Tensor) -> None:
        """The next samples of the reconstruction `y` and of the reference `x` (same length)."""
        y = y.detach().double().cpu().numpy().ravel()
        x = x.detach().double().cpu().numpy().ravel()
        self.energy_x, self.energy_y = self.energy_x + float(x @ x), self.energy_y + float(y @ y)
        wx, wy = np.concatenate([self.x_tail, x]), np.concatenate([self.y_tail, y])
        self.sums += cross_correlation(wx, wy, self.max_lag) - cross_correlation(self.x_tail, self.y_tail, self.max_lag)
        keep = len(wx) - min(self.max_lag, len(wx))  # the last max_lag samples (none when max_lag is 0)
        self.x_tail, self.y_tail = wx[keep:], wy[keep:]

    def value(self) -> tuple[int, float]:
        """(lag, ρ at the lag); ρ is NaN when either signal is all zeros."""
        lag = lag_of(self.sums)
        scale = np.sqrt(self.energy_x * self.energy_y)
        return lag, float(self.sums[lag + self.max_lag] / scale) if scale > 0 else float("nan")


class Shift:
    """Pairs reference sample t with reconstruction sample t + `samples` (a constant lag compensated before the
    waveform metrics, as audioldm_eval shifts its outputs) for streams that arrive in chunks: the later stream
    (the reconstructions for a positive lag, the reference for a negative one) loses its first |samples| and every
    stream is held back to the shortest, so each file's last |samples| of the earlier stream go unmeasured.

    >>> shift = Shift(2)
    >>> shift(torch.arange(4.0), {"base": torch.arange(4.0) + 10})
    (tensor([0., 1.]), {'base': tensor([12., 13.])})
    """

    def __init__(self, samples: int):
        self.samples = samples
        self.held: dict[str, torch.Tensor] = {}
        self.to_skip: dict[str, int] = {}

    def __call__(self, reference: torch.Tensor, estimates: Mapping[str, torch.Tensor]):
        """The next chunk's (reference, {name: reconstruction}), aligned; all of one length, empty at first."""
        if self.samples == 0:
            return reference, dict(estimates)
        for name, chunk in {"reference": reference, **estimates}.items():
            if (name == "reference") == (self.samples < 0):  # the later stream: skip its first |samples|
                skip = min(chunk.shape[0], self.to_skip.setdefault(name, abs(self.samples)))
                self.to_skip[name] -= skip
                chunk = chunk[skip:]
            self.held[name] = torch.cat([self.held[name], chunk]) if name in self.held else chunk
        n = min(b.shape[0] for b in self.held.values())
        out = {name: b[:n] for name, b in self.held.items()}
        self.held = {name: b[n:] for name, b in self.held.items()}
        return out.pop("reference"), out
