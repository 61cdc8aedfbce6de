"""STFT frames of signals that arrive in consecutive chunks, equal to the STFT of the whole signal, and the base
of the metrics that sum over them."""

from typing import Hashable, Optional

import torch
from torch import Tensor

from audiovae.metrics.functional.items import Accumulator

BANDS = ("all", "high", "low")


class StftStream:
    """`torch.stft(x, n_fft, hop, hann_window(n_fft), center=True, pad_mode="constant")` of a signal `[..., N]`
    given as consecutive chunks, in float64: `push(chunk)` returns the frames `[..., n_fft // 2 + 1, t]` whose
    samples have all arrived, `finish()` the rest; together the 1 + N // hop frames of the whole signal."""

    def __init__(self, n_fft: int, hop: int):
        self.n_fft, self.hop = n_fft, hop
        self.buffer: Tensor | None = None  # samples from the start of the next frame (zero padding included)
        self.received = self.emitted = 0

    def _frames(self, count: int) -> Tensor:
        if count <= 0:
            return torch.zeros(
                self.buffer.shape[:-1] + (self.n_fft // 2 + 1, 0),
                dtype=self.buffer.dtype.to_complex(),
                device=self.buffer.device,
            )
        window = torch.hann_window(self.n_fft, dtype=self.buffer.dtype, device=self.buffer.device)
        used = self.buffer[..., : (count - 1) * self.hop + self.n_fft]
        frames = torch.stft(
            used.reshape(-1, used.shape[-1]), self.n_fft, self.hop, window=window, center=False, return_complex=True
        )
        self.buffer = self.buffer[..., count * self.hop :]
        self.emitted += count
        return frames.reshape(used.shape[:-1] + frames.shape[-2:])

    def push(self, chunk: Tensor) -> Tensor:
        """Add the next chunk `[..., n]`; returns the frames `[..., n_fft // 2 + 1, t]` whose samples have all
        arrived (t may be 0)."""
        chunk = chunk.double()
        if self.buffer is None:
            self.buffer = chunk.new_zeros(chunk.shape[:-1] + (self.n_fft // 2,))
        self.buffer = torch.cat([self.buffer, chunk], dim=-1)
        self.received += chunk.shape[-1]
        available = (self.buffer.shape[-1] - self.n_fft) // self.hop + 1
        return self._frames(available)

    def finish(self) -> Tensor:
        """The frames that reach past the end of the signal (zero padded); the stream is spent afterwards."""
        if self.buffer is None:
            raise ValueError("finish() before any push(): the signal is empty")
        self.buffer = torch.cat(
            [self.buffer, self.buffer.new_zeros(self.buffer.shape[:-1] + (self.n_fft // 2,))], dim=-1
        )
        return self._frames(1 + self.received // self.hop - self.emitted)


class SharedStftStream(StftStream):
    """A StftStream that `readers` accumulators push the same chunks into, in turn: the first push of each round
    transforms the chunk, the others get its frames (a push of other memory within a round is refused)."""

    def __init__(self, n_fft: int, hop: int):
        super().__init__(n_fft, hop)
        self.readers = self.pushes = 0
        self.chunk: Tensor | None = None
        self.frames: Tensor | None = None
        self.tail: Tensor | None = None

    def push(self, chunk: Tensor) -> Tensor:
        """The frames the chunk completes: transformed by the round's first reader, handed to the others."""
        if self.pushes % max(self.readers, 1) == 0:
            self.chunk, self.frames = chunk, super().push(chunk)
        elif not _same_memory(chunk, self.chunk):
            raise ValueError("the readers of a shared STFT stream must push the same chunks in turn")
        self.pushes += 1
        return self.frames

    def finish(self) -> Tensor:
        """The last frames, computed once for every reader."""
        if self.tail is None:
            self.tail = super().finish()
        return self.tail


def _same_memory(a: Tensor, b: Tensor) -> bool:
    return (a.data_ptr(), a.shape, a.stride(), a.dtype) == (b.data_ptr(), b.shape, b.stride(), b.dtype)


class PairedStft:
    """Frames of an estimate y and a reference x pushed together (always equal lengths): `(Y, X)` per push; each
    signal's stream is its own, or one that other accumulators share (`SharedTransforms`)."""

    def __init__(self, n_fft: int, hop: int, y: Optional[StftStream] = None, x: Optional[StftStream] = None):
        self.n_fft, self.hop = n_fft, hop
        self.y, self.x = y or StftStream(n_fft, hop), x or StftStream(n_fft, hop)

    def push(self, y: Tensor, x: Tensor) -> tuple[Tensor, Tensor]:
        """Add the next chunks of y and x (one shape); returns their completed frames `(Y, X)`."""
        if y.shape != x.shape:
            raise ValueError(f"estimate {tuple(y.shape)} and reference {tuple(x.shape)} chunks must have one shape")
        return self.y.push(y), self.x.push(x)

    def finish(self) -> tuple[Tensor, Tensor]:
        """The last frames `(Y, X)`, those reaching past the end (zero padded)."""
        return self.y.finish(), self.x.finish()


def hf_cutoff(sample_rate: int, cutoff_hz: Optional[float] = None) -> float:
    """The high band's lower edge (Hz): `cutoff_hz` (`metrics.hf_cutoff_hz`), by default sample_rate / 4.

    >>> hf_cutoff(16000), hf_cutoff(16000, 6000.0)
    (4000.0, 6000.0)
    """
    return sample_rate / 4 if cutoff_hz is None else float(cutoff_hz)


def band_mask(n_bins: int, n_fft: int, sample_rate: int, band: str, cutoff_hz: float, device=None) -> Tensor:
    """Bins k (f_k = k·sr/n_fft) of `band`: "all", "high" (f_k ≥ fc) or "low" (f_k < fc)."""
    if band not in BANDS:
        raise ValueError(f"band must be one of {BANDS}, got {band!r}")
    freqs = torch.arange(n_bins, device=device) * sample_rate / n_fft
    return {"all": torch.ones_like(freqs, dtype=torch.bool), "high": freqs >= cutoff_hz, "low": freqs < cutoff_hz}[band]


class FrameSums(Accumulator):
    """Base of the STFT metrics: frames of y and x as they complete, `add(Y, X)` per batch of frames `[bins, t]`
    (complex, float64)."""

    def __init__(self, n_fft: int, hop: int):
        self.stft, self.finished = PairedStft(n_fft, hop), False

    def add(self, Y: Tensor, X: Tensor) -> None:  # pragma: no cover
        """Add a batch of completed frames of the estimate Y and reference X (`[bins, t]`, complex float64) to the
        sums. Read them, never change them in place: the file's other STFT metrics may read the same frames."""
        raise NotImplementedError

    def result(self) -> Tensor:  # pragma: no cover
        """The value from the sums once every frame has been added."""
        raise NotImplementedError

    def frame_sums(self) -> list["FrameSums"]:
        """Itself, unless a subclass changes `update` (then what it pushes is not the file's signal)."""
        return [self] if type(self).update is FrameSums.update else []

    def update(self, y: Tensor, x: Tensor) -> "FrameSums":
        """Push the chunks through the paired STFT and `add` the frames they complete."""
        self.add(*self.stft.push(y, x))
        return self

    def value(self) -> Tensor:
        """`add` the last (zero-padded) frames once, then `result()`."""
        if not self.finished:
            self.add(*self.stft.finish())
            self.finished = True
        return self.result()


class SharedTransforms:
    """The STFT streams of one file's signals, one per (signal, n_fft, hop): the STFT accumulators that read a
    signal with one framing share its stream, so each chunk of it is transformed once (lsd, lsd_hf, lsd_lf,
    hf_retention and spectral_correlation at their defaults read one STFT of the reconstruction and one of the
    reference). Every accumulator is shared before its first chunk and then fed every chunk, as evaluation does."""

    def __init__(self):
        self.streams: dict[tuple, SharedStftStream] = {}

    def _stream(self, signal: Hashable, n_fft: int, hop: int) -> SharedStftStream:
        stream = self.streams.setdefault((signal, n_fft, hop), SharedStftStream(n_fft, hop))
        stream.readers += 1
        return stream

    def share(self, accumulator: Accumulator, estimate: Hashable, reference: Hashable) -> None:
        """Let `accumulator`'s STFTs (`Accumulator.frame_sums`) read the shared streams of the signals named
        `estimate` and `reference`."""
        for sums in accumulator.frame_sums() if isinstance(accumulator, Accumulator) else ():
            n_fft, hop = sums.stft.n_fft, sums.stft.hop
            sums.stft = PairedStft(n_fft, hop, self._stream(estimate, n_fft, hop), self._stream(reference, n_fft, hop))
