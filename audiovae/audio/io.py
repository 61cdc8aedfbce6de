"""Read any file libsndfile reads as one channel at a target rate; write float wavs.

>>> to_mono(np.array([[1.0, 3.0], [2.0, 4.0]]), "mix"), to_mono(np.array([[1.0, 3.0], [2.0, 4.0]]), "first")
(array([2., 3.]), array([1., 2.]))
"""
import os
from dataclasses import dataclass
from pathlib import Path

import librosa
import numpy as np
import soundfile as sf

from audiovae.audio.resample import sinc_resample
from audiovae.paths import not_regular, open_name
from audiovae.errors import AudioError


@dataclass
class AudioClip:
    waveform: np.ndarray  # float32 [N], mono, at `sample_rate`
    sample_rate: int
    orig_sample_rate: int
    orig_channels: int

    @property
    def duration_s(self) -> float:
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


def open_sound(path) -> sf.SoundFile:
    """`path` open for reading (by its bytes, so any name works); AudioError naming the real cause otherwise: not a
    regular file (never opened), permission denied, missing, or what libsndfile says."""
    kind = not_regular(path)
    if kind:
        raise AudioError(path, f"not a regular file ({kind})")
    try:
        return sf.SoundFile(open_name(path))
    except (sf.LibsndfileError, RuntimeError, OSError) as err:
        raise AudioError(path, open_failure(path, err)) from None


def open_failure(path, err: Exception) -> str:
    """Why a file could not be opened, in words: libsndfile says "System error" for a file it may not read."""
    if not os.path.lexists(path):
        return "no such file"
    if not os.path.exists(path):
        return "no such file (a broken link)"
    if not os.access(path, os.R_OK):
        return "permission denied (the file cannot be read by this user)"
    return f"unreadable ({getattr(err, 'error_string', None) or err})"  # libsndfile's words, without the path


def load_audio(path, sample_rate: int, channels: str = "mix", resampler: str = "soxr_hq") -> AudioClip:
    """Load `path`, make it one channel (`to_mono`) and resample to `sample_rate`: soxr's high quality, or the
    windowed sinc AudioLDM2 uses (`audio.resample`)."""
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


def wav_writer(path: Path, sample_rate: int, channels: int = 1) -> sf.SoundFile:
    """A 32-bit float wav (mono, or `channels`) open for writing in consecutive chunks (`.write(float32 array
    [n] or [n, channels])`, then `.close()`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return sf.SoundFile(str(path), "w", sample_rate, channels, subtype="FLOAT")
