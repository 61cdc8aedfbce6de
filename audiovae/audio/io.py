"""Read any file libsndfile reads as one channel at a target rate; write float wavs.

>>> to_mono(np.array([[1.0, 3.0], [2.0, 4.0]]), "mix"), to_mono(np.array([[1.0, 3.0], [2.0, 4.0]]), "first")
(array([2., 3.]), array([1., 2.]))
"""

import errno
import io
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

import librosa
import numpy as np
import soundfile as sf

from audiovae.audio.resample import sinc_resample
from audiovae.errors import AudioError
from audiovae.paths import not_regular, open_name


@dataclass
class AudioClip:
    """A whole clip in memory: its mono float32 waveform at `sample_rate`, and the file's own rate and channels."""

    waveform: np.ndarray  # float32 [N], mono, at `sample_rate`
    sample_rate: int
    orig_sample_rate: int
    orig_channels: int

    @property
    def duration_s(self) -> float:
        """Length in seconds: samples / sample_rate."""
        return len(self.waveform) / self.sample_rate


CHANNEL_RULES = ("mix", "first", "model")  # data.channels


def to_mono(frames: np.ndarray, channels: str = "mix") -> np.ndarray:
    """`[N, C]` frames as one channel: `mix` is the mean of the channels, `first` channel 0 alone (as AudioLDM2's
    `read_wav_file`, which keeps `waveform[0]` of what torchaudio loads); `model` (the model's channels, for a
    one-channel model) mixes."""
    if channels not in CHANNEL_RULES:
        raise ValueError(f"channels must be one of {CHANNEL_RULES}, got {channels!r}")
    if frames.shape[1] == 1 or channels == "first":
        return frames[:, 0]
    return frames.mean(axis=1)


RESAMPLERS = ("soxr_hq", "audioldm2")  # data.resampler


@dataclass
class SoundSource:
    """Where a sound is read from, when it is not simply a whole local file: a local file's excerpt (a manifest
    entry with `offset_s` / `duration_s`) or a file's bytes held in memory (a shard member). `name` is what messages
    and rows call it (`str(source)`). Picklable, so DataLoader workers and DDP ranks can pass it on (and not frozen:
    Lightning walks the dataclasses of a batch it moves to a device)."""

    name: str
    path: Optional[str] = None  # a local file (None: `data` holds the bytes)
    data: Optional[bytes] = None
    offset_s: float = 0.0
    duration_s: Optional[float] = None  # None: to the end

    def __str__(self) -> str:
        return self.name


Sound = Union[str, os.PathLike, SoundSource]  # what `open_sound` reads: a local file's path, or a SoundSource


class Excerpt:
    """A SoundFile seen from `start` for at most `length` frames: `frames`, `samplerate`, `channels`, `read(n)` and
    `close()` as the SoundFile's, positions relative to the excerpt."""

    def __init__(self, file: sf.SoundFile, start: int, length: int, missing: int = 0):
        self.file, self.left, self.missing = file, length, missing  # missing: frames asked for past the file's end
        self.frames, self.samplerate, self.channels = length, file.samplerate, file.channels
        file.seek(start)

    def read(self, frames: int = -1, dtype: str = "float64", always_2d: bool = False):
        """Up to `frames` frames (all that are left with −1) from the current position, never past the excerpt's end."""
        frames = self.left if frames < 0 else min(frames, self.left)
        block = self.file.read(frames, dtype=dtype, always_2d=always_2d)
        self.left -= len(block)
        return block

    def close(self) -> None:
        """Close the underlying file."""
        self.file.close()

    def __enter__(self) -> "Excerpt":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_sound(sound: Sound):
    """`sound` open for reading (a path by its bytes, so any name works): a SoundFile, or an `Excerpt` of one for a
    SoundSource with an offset or a duration. AudioError naming the real cause otherwise: not a regular file (never
    opened), permission denied, missing, what libsndfile says, or an excerpt that starts past the end."""
    if not isinstance(sound, SoundSource):
        return _open_file(sound)
    if sound.data is not None:
        try:
            file = sf.SoundFile(io.BytesIO(sound.data))
        except (sf.LibsndfileError, RuntimeError) as err:
            raise AudioError(sound, f"unreadable ({getattr(err, 'error_string', None) or err})") from None
    else:
        file = _open_file(sound.path, sound)
    if not sound.offset_s and sound.duration_s is None:
        return file
    start = round(sound.offset_s * file.samplerate)
    if start >= file.frames:
        file.close()
        raise AudioError(
            sound,
            f"offset_s {sound.offset_s:g} is at or past the end of the file ({file.frames / file.samplerate:.3f} s)",
        )
    left = file.frames - start
    asked = left if sound.duration_s is None else round(sound.duration_s * file.samplerate)
    try:
        return Excerpt(file, start, min(left, asked), max(0, asked - left))
    except (sf.LibsndfileError, RuntimeError) as err:
        file.close()
        raise AudioError(sound, f"cannot seek to offset_s {sound.offset_s:g} ({err})") from None


def _open_file(path, name=None) -> sf.SoundFile:
    name = path if name is None else name
    kind = not_regular(path)
    if kind:
        raise AudioError(name, f"not a regular file ({kind})")
    try:
        return sf.SoundFile(open_name(path))
    except (sf.LibsndfileError, RuntimeError, OSError) as err:
        raise AudioError(name, open_failure(path, err)) from None


def open_failure(path, err: Exception) -> str:
    """Why a file could not be opened, in words: libsndfile says "System error" for a file it may not read."""
    if not os.path.lexists(path):
        return "no such file"
    if not os.path.exists(path):
        return "no such file (a broken link)"
    if not os.access(path, os.R_OK):
        return "permission denied (the file cannot be read by this user)"
    return f"unreadable ({getattr(err, 'error_string', None) or err})"  # libsndfile's words, without the path


def load_audio(path: Sound, sample_rate: int, channels: str = "mix", resampler: str = "soxr_hq") -> AudioClip:
    """Load `path` (a file, or a SoundSource: an excerpt, bytes in memory), make it one channel (`to_mono`) and
    resample to `sample_rate`: soxr's high quality, or the windowed sinc AudioLDM2 uses (`audio.resample`)."""
    with open_sound(path) as file:
        try:
            data, orig_sr = file.read(dtype="float32", always_2d=True), file.samplerate
        except (sf.LibsndfileError, RuntimeError, OSError, ValueError) as err:
            raise AudioError(path, f"decoding failed ({err})") from None
    n_channels = data.shape[1]
    mono = to_mono(data, channels)
    if mono.size and orig_sr != sample_rate:
        if resampler == "audioldm2":
            mono = sinc_resample(mono, orig_sr, sample_rate)
        else:
            mono = librosa.resample(mono, orig_sr=orig_sr, target_sr=sample_rate, res_type="soxr_hq")
    return AudioClip(np.ascontiguousarray(mono, dtype=np.float32), sample_rate, orig_sr, n_channels)


def check_waveform(path, waveform: np.ndarray, silence_threshold_db: float) -> None:
    """Raise AudioError if the waveform is empty, non-finite, or silent once its mean is removed (peak of
    |x − mean| below the threshold, dBFS: a constant offset is no signal), as evaluation's scan decides."""
    if waveform.size == 0:
        raise AudioError(path, "empty (zero samples)")
    if not np.all(np.isfinite(waveform)):
        raise AudioError(path, "contains NaN or inf samples")
    check_peak(path, float(np.max(np.abs(waveform - waveform.mean(dtype=np.float64)))), silence_threshold_db)


def check_peak(path, peak: float, silence_threshold_db: float) -> None:
    """Raise AudioError if the peak |x − mean| is below the threshold (dBFS): a silent (or constant) file."""
    if peak == 0.0 or 20 * np.log10(peak) < silence_threshold_db:
        raise AudioError(path, f"silent (peak below {silence_threshold_db:g} dBFS once its mean is removed)")


def write_failure(path, err: BaseException) -> OSError:
    """An OSError for a write libsndfile could not finish (it reports a full disk as a short write, an assertion in
    soundfile): ENOSPC when the folder's file system has under 1 MiB free, else EIO, naming the file."""
    try:
        free = shutil.disk_usage(Path(path).parent).free
    except OSError:
        free = 0
    code = errno.ENOSPC if free < (1 << 20) else errno.EIO
    return OSError(code, f"{os.strerror(code)}: {type(err).__name__} {err}".strip(), str(path))


class WavWriter:
    """A 32-bit float wav open for writing in consecutive chunks; a write that fails is an OSError naming the file
    (`write_failure`), which the commands report in one line with what finished kept."""

    def __init__(self, path: Path, sample_rate: int, channels: int):
        self.name = str(path)
        try:
            self.file = sf.SoundFile(self.name, "w", sample_rate, channels, subtype="FLOAT")
        except (sf.LibsndfileError, RuntimeError) as err:
            raise write_failure(path, err) from None

    def write(self, data: np.ndarray) -> None:
        """Append `[n]` or `[n, channels]` float32 samples."""
        try:
            self.file.write(data)
        except (AssertionError, sf.LibsndfileError, RuntimeError) as err:
            raise write_failure(self.name, err) from None

    def close(self) -> None:
        """Finish the file."""
        try:
            self.file.close()
        except (AssertionError, sf.LibsndfileError, RuntimeError) as err:
            raise write_failure(self.name, err) from None


def wav_writer(path: Path, sample_rate: int, channels: int = 1) -> WavWriter:
    """A 32-bit float wav (mono, or `channels`) open for writing in consecutive chunks (`.write(float32 array
    [n] or [n, channels])`, then `.close()`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return WavWriter(path, sample_rate, channels)
