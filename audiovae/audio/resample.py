"""The resampler AudioLDM2 uses (`torchaudio.functional.resample`, Hann-windowed sinc, 6 zero crossings, rolloff
0.99), ported from torchaudio's code and run block by block, so a long file is resampled as it is read.

With o = orig/g and n = new/g (g their gcd), f_c = min(o, n)·rolloff and w = ⌈6·o / f_c⌉, output phase p of step j
is y[j·n + p] = Σ_k h_p[k] · x̃[j·o + k], x̃ = x with w zeros before and w + o after, and

    h_p[k] = (f_c / o) · sinc(π t) · cos²(π t / 12),  t = clamp(f_c · ((k − w) / o − p / n), −6, 6)

(sinc(0) = 1); the output is cut to ⌈n·N / o⌉ samples. The kernel is computed in the signal's dtype, as
torchaudio does (float32 for a float32 waveform).
"""

import math

import numpy as np
import torch

LOWPASS_WIDTH, ROLLOFF = 6, 0.99


def sinc_kernel(orig: int, new: int, dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, int]:
    """torchaudio's `_get_sinc_resample_kernel` (sinc_interp_hann): `[n, 1, 2w + o]` and w."""
    g = math.gcd(orig, new)
    orig, new = orig // g, new // g
    base = min(orig, new) * ROLLOFF
    width = math.ceil(LOWPASS_WIDTH * orig / base)
    idx = torch.arange(-width, width + orig, dtype=dtype)[None, None] / orig
    t = torch.arange(0, -new, -1, dtype=dtype)[:, None, None] / new + idx
    t = (t * base).clamp(-LOWPASS_WIDTH, LOWPASS_WIDTH)
    window = torch.cos(t * math.pi / LOWPASS_WIDTH / 2) ** 2
    t = t * math.pi
    kernel = torch.where(t == 0, torch.tensor(1.0, dtype=dtype), t.sin() / t)
    return kernel * window * (base / orig), width


class SincResampleStream:
    """`resample_chunk(x, last)` over consecutive float32 chunks of one channel, equal to resampling the whole
    signal at once (the conv1d of torchaudio, applied to every step whose input window is complete)."""

    def __init__(self, orig: int, new: int):
        g = math.gcd(orig, new)
        self.o, self.n = orig // g, new // g
        self.kernel, self.width = sinc_kernel(orig, new, torch.float32)
        self.buffer = torch.zeros(self.width)  # the left zero padding, then input not yet consumed
        self.seen = self.emitted = 0

    def _steps(self, x: torch.Tensor) -> np.ndarray:
        size = self.kernel.shape[-1]
        steps = (x.shape[0] - size) // self.o + 1 if x.shape[0] >= size else 0
        if steps == 0:  # not one whole window yet: keep everything for the next chunk
            self.buffer = x
            return np.zeros(0, dtype=np.float32)
        out = torch.nn.functional.conv1d(x[None, None, : (steps - 1) * self.o + size], self.kernel, stride=self.o)
        self.buffer = x[steps * self.o :]
        return out[0].transpose(0, 1).reshape(-1).numpy()

    def resample_chunk(self, chunk: np.ndarray, last: bool = False) -> np.ndarray:
        """Resample the next chunk of input samples; `last` flushes the filter's tail, so the chunks' outputs
        together equal the whole signal's (torchaudio's output length ⌈n·new / orig⌉)."""
        self.seen += len(chunk)
        x = torch.cat([self.buffer, torch.from_numpy(np.ascontiguousarray(chunk, dtype=np.float32))])
        if last:
            x = torch.cat([x, torch.zeros(self.width + self.o)])
        out = self._steps(x)
        if last:  # torchaudio cuts the output to ⌈n·N / o⌉
            out = out[: max(0, math.ceil(self.n * self.seen / self.o) - self.emitted)]
        self.emitted += len(out)
        return out


def sinc_resample(x: np.ndarray, orig: int, new: int) -> np.ndarray:
    """The whole float32 signal at `new` Hz (identity when the rates are equal)."""
    if orig == new:
        return np.asarray(x, dtype=np.float32)
    return SincResampleStream(orig, new).resample_chunk(x, last=True)
