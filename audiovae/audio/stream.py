"""A file read, mixed to mono and resampled block by block, so that a long recording is never held whole: one
pass for the statistics that checking and normalising need, then its prepared samples in order."""

from dataclasses import dataclass
from typing import Iterator, Optional, Union

import numpy as np
import soundfile as sf
import soxr
import torch

from audiovae.audio.frontend import normalisation_stats, normalise
from audiovae.audio.io import Sound, SoundSource, check_peak, open_sound, to_mono
from audiovae.audio.resample import SincResampleStream
from audiovae.errors import AudioError

BLOCK_FRAMES = 1 << 16  # samples a block holds at the model rate (and at most frames read at a time)


def block_frames(file_rate: int, sample_rate: int) -> int:
    """Frames read at a time: BLOCK_FRAMES, fewer when upsampling, so a block holds about BLOCK_FRAMES samples at the
    model rate whatever rate a file declares (a 1 Hz header would make one block of 2^16 frames 10^9 samples).

    >>> block_frames(16000, 16000), block_frames(48000, 16000), block_frames(1, 16000)
    (65536, 65536, 4)
    """
    return max(1, min(BLOCK_FRAMES, BLOCK_FRAMES * file_rate // sample_rate))


def fill_channels(frames: np.ndarray, n_channels: int) -> np.ndarray:
    """`[N, C]` frames as `[N, n_channels]`: a one-channel file on every channel, a file of more its first ones."""
    if frames.shape[1] == 1:
        return np.repeat(frames, n_channels, axis=1)
    if frames.shape[1] < n_channels:
        raise ValueError(f"{frames.shape[1]} channels cannot fill {n_channels}")
    return frames[:, :n_channels]


def mono_blocks(
    path: Sound,
    sample_rate: int,
    max_samples: Optional[int] = None,
    channels: str = "mix",
    resampler: str = "soxr_hq",
    n_channels: int = 1,
) -> Iterator[np.ndarray]:
    """The file as float32 mono (`to_mono` by the `channels` rule) at `sample_rate` in consecutive blocks, at most
    `max_samples` in all: the samples `load_audio` gives (soxr's stream resampler equals its one-shot high-quality
    resample). With `channels="model"` and a model of `n_channels` > 1 the blocks are `[n, n_channels]` frames
    (`fill_channels`: a mono file on every channel; a file of 2 to n_channels − 1 channels is an AudioError).

    Only what actually decodes is yielded: a truncated file ends where its decoder stops, whatever its header
    claims (soundfile's `blocks()` trusts the header and repeats its last buffer past the end). A decoding error
    part-way is an AudioError naming the file and the position."""
    keep = channels == "model" and n_channels > 1
    with open_sound(path) as file:
        if keep and 1 < file.channels < n_channels:
            raise AudioError(
                path, f"{file.channels} channels, the model takes {n_channels} (a mono file is put on every channel)"
            )
        stream = None
        if file.samplerate != sample_rate:
            if keep and resampler == "audioldm2":
                raise AudioError(path, "data.resampler=audioldm2 resamples one channel; use soxr_hq")
            stream = (
                SincResampleStream(file.samplerate, sample_rate)
                if resampler == "audioldm2"
                else soxr.ResampleStream(
                    file.samplerate, sample_rate, n_channels if keep else 1, dtype="float32", quality="HQ"
                )
            )
        left, decoded = float("inf") if max_samples is None else max_samples, 0
        frames = block_frames(file.samplerate, sample_rate)
        while left > 0:
            try:
                block = file.read(frames, dtype="float32", always_2d=True)
            except (sf.LibsndfileError, RuntimeError, OSError, ValueError) as err:
                raise AudioError(path, f"decoding failed after {decoded} frames ({err})") from None
            if not len(block):
                break
            decoded += len(block)
            samples = fill_channels(block, n_channels) if keep else to_mono(block, channels)
            out = stream.resample_chunk(samples, last=False) if stream else samples
            if out.shape[0]:
                yield out[: int(min(left, out.shape[0]))]
                left -= out.shape[0]
        if stream is not None and left > 0:
            tail = stream.resample_chunk(np.zeros((0, n_channels) if keep else 0, dtype=np.float32), last=True)
            if tail.shape[0]:
                yield tail[: int(min(left, tail.shape[0]))]


def channel_peak_db(path: Sound) -> float:
    """The peak |x − mean| of the loudest channel, dBFS (read in blocks): how loud a file is before mixing."""
    with open_sound(path) as file:
        if file.channels < 2:
            return -np.inf
        peak = 0.0
        while True:
            block = file.read(BLOCK_FRAMES, dtype="float32", always_2d=True)
            if not len(block):
                break
            peak = max(peak, float(np.max(np.abs(block - block.mean(axis=0)))))
    return 20 * np.log10(peak) if peak > 0 else -np.inf


def dropped_input(file, channels: str, n_channels: int) -> tuple[str, ...]:
    """What of an open sound (`open_sound`) is not evaluated, for the row's notes: channels past the model's, excerpt
    seconds past the file's end (the manifest asked for more than the file holds)."""
    notes = []
    if channels == "model" and 1 < n_channels < file.channels:
        notes.append(
            f"input: channels {n_channels + 1}-{file.channels} of {file.channels} dropped "
            f"(the model takes {n_channels})"
        )
    if getattr(file, "missing", 0) > 0:
        notes.append(
            f"input: the excerpt runs {file.missing / file.samplerate:.3f} s past the file's end; "
            f"{file.frames / file.samplerate:.3f} s evaluated"
        )
    return tuple(notes)


@dataclass
class PreparedAudio:
    """A file's prepared waveform (mono, model rate, cut to `max_samples`, AudioLDM's normalisation
    0.5 · (x − mean) / (max|x − mean| + 1e-8) when `normalize`), described by one statistics pass and read in order
    with `reader()`. Picklable (a path and numbers), so DataLoader workers and DDP ranks can pass it around."""

    path: Union[str, SoundSource]  # a local file, or an excerpt / a shard member's bytes
    sample_rate: int
    max_samples: Optional[int]
    num_samples: int
    mean: float
    peak: float  # max |x − mean|, in float32 arithmetic
    normalize: bool
    channels: str = "mix"  # data.channels: how several channels become one (`model`: kept for a multi-channel model)
    resampler: str = "soxr_hq"  # data.resampler
    n_channels: int = 1  # the channels read: the model's with channels="model", else 1 (samples `[N]` or `[N, C]`)

    @classmethod
    def scan(
        cls,
        path: Sound,
        sample_rate: int,
        max_samples: Optional[int],
        silence_threshold_db: float,
        normalize: bool,
        min_samples: int = 1,
        channels: str = "mix",
        resampler: str = "soxr_hq",
        n_channels: int = 1,
    ) -> "PreparedAudio":
        """One pass: length, sum, min and max (over every channel kept); raises AudioError if empty, shorter than
        `min_samples`, non-finite, or silent once its mean is removed (a constant offset is no signal)."""
        n_channels = n_channels if channels == "model" else 1
        count, total, low, high = 0, 0.0, np.float32(np.inf), np.float32(-np.inf)
        for block in mono_blocks(path, sample_rate, max_samples, channels, resampler, n_channels):
            if not np.all(np.isfinite(block)):
                raise AudioError(path, "contains NaN or inf samples")
            count, total = count + block.shape[0], total + float(block.sum(dtype=np.float64))
            low, high = min(low, block.min()), max(high, block.max())
        if count == 0:
            raise AudioError(path, "empty (zero samples)")
        if count < min_samples:
            raise AudioError(
                path,
                f"too short: {count} samples ({count / sample_rate:.3f} s) at {sample_rate} Hz; "
                f"at least {min_samples} ({min_samples / sample_rate:.3f} s, one metric STFT "
                f"window) are needed",
            )
        mean, peak = normalisation_stats(total, count * n_channels, float(low), float(high))
        try:
            check_peak(path, peak, silence_threshold_db)
        except AudioError:
            loudest = channel_peak_db(path) if channels != "first" and n_channels == 1 else -np.inf
            if loudest >= silence_threshold_db:
                raise AudioError(
                    path,
                    f"its channels cancel when mixed to mono (anti-phase): silent mixed, {loudest:.1f} dBFS in its "
                    f"loudest channel; evaluate one channel with data.channels=first",
                ) from None
            raise
        return cls(
            path if isinstance(path, SoundSource) else str(path),
            sample_rate,
            max_samples,
            count,
            mean,
            peak,
            normalize,
            channels,
            resampler,
            n_channels,
        )

    def normalise(self, block: torch.Tensor) -> torch.Tensor:
        """A block on the file's normalised scale, 0.5 · (x − mean) / (peak + 1e-8) with the whole file's statistics,
        when the front end normalises (`audiovae.audio.frontend.normalise`); else as it is."""
        return normalise(block, self.mean, self.peak) if self.normalize else block

    def reader(self) -> "SequentialReader":
        """A new `SequentialReader` of this audio, from its start."""
        return SequentialReader(self)


class SequentialReader:
    """Prepared samples of one file: `read(a, b)` (zero-padded past the end) for any a at or after the last
    `release(position)`; only [released, furthest read) is kept in memory."""

    def __init__(self, audio: PreparedAudio):
        self.audio, self.blocks = (
            audio,
            mono_blocks(
                audio.path, audio.sample_rate, audio.max_samples, audio.channels, audio.resampler, audio.n_channels
            ),
        )
        self.trailing = (audio.n_channels,) if audio.n_channels > 1 else ()  # `[N, C]` samples of several channels
        self.buffer, self.start = torch.zeros((0, *self.trailing)), 0  # buffer holds samples [start, start + len)

    def _fill(self, end: int) -> None:
        parts = [self.buffer]
        have = self.start + self.buffer.shape[0]
        for block in self.blocks:
            parts.append(self.audio.normalise(torch.from_numpy(block.copy())))
            have += block.shape[0]
            if have >= end:
                break
        self.buffer = torch.cat(parts)

    def read(self, a: int, b: int) -> torch.Tensor:
        """Samples [a, b) as a tensor (zeros past the end); a may not go back before what was released."""
        if a < self.start:
            raise ValueError(f"{self.audio.path}: samples before {self.start} were released (asked from {a})")
        if self.start + self.buffer.shape[0] < min(b, self.audio.num_samples):
            self._fill(min(b, self.audio.num_samples))
        out = torch.zeros((b - a, *self.trailing))
        piece = self.buffer[a - self.start : b - self.start]
        out[: piece.shape[0]] = piece
        return out

    def release(self, position: int) -> None:
        """Samples before `position` will not be read again."""
        drop = max(0, min(position - self.start, self.buffer.shape[0]))
        self.buffer, self.start = self.buffer[drop:].clone(), self.start + drop
