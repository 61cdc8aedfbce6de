import numpy as np
import pytest
import soundfile as sf

from audiovae.audio import AudioError, check_waveform, load_audio
from tests.conftest import tone, write


def dominant_hz(x: np.ndarray, sr: int) -> float:
    spec = np.abs(np.fft.rfft(x))
    return np.argmax(spec) * sr / len(x)


@pytest.mark.parametrize("ext, subtype", [("wav", "PCM_16"), ("wav", "PCM_24"), ("wav", "FLOAT"),
                                           ("flac", "PCM_16"), ("ogg", "VORBIS")])
def test_reads_formats_and_resamples_to_the_model_rate(tmp_path, ext, subtype):
    sr = 44100
    path = write(tmp_path / f"a.{ext}", tone(1000, 1.0, sr), sr, subtype)
    clip = load_audio(path, 16000)
    assert clip.sample_rate == 16000 and clip.orig_sample_rate == sr and clip.orig_channels == 1
    assert clip.waveform.dtype == np.float32 and abs(len(clip.waveform) - 16000) <= 1
    assert clip.duration_s == pytest.approx(1.0, abs=1e-3)
    assert dominant_hz(clip.waveform, 16000) == pytest.approx(1000, abs=2)


def test_multichannel_is_mixed_to_mono_by_mean(tmp_path):
    left, right = tone(500, 0.5, 16000), tone(2000, 0.5, 16000, amp=0.25)
    path = write(tmp_path / "st.wav", np.stack([left, right, np.zeros_like(left)], axis=1), 16000)
    clip = load_audio(path, 16000)
    assert clip.orig_channels == 3
    np.testing.assert_allclose(clip.waveform, (left + right) / 3, atol=1e-6)


def test_unreadable_file_names_file_and_reason(tmp_path):
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF\x00\x00not really a wav")
    with pytest.raises(AudioError, match="broken.wav: unreadable"):
        load_audio(bad, 16000)


def test_empty_file_loads_as_zero_samples_and_is_rejected(tmp_path):
    path = tmp_path / "empty.wav"
    sf.write(str(path), np.zeros(0, dtype=np.float32), 16000)
    clip = load_audio(path, 16000)
    with pytest.raises(AudioError, match="empty"):
        check_waveform(path, clip.waveform, -80)


@pytest.mark.parametrize("data, reason", [
    (np.array([0.1, np.nan, 0.2], dtype=np.float32), "NaN or inf"),
    (np.array([0.1, np.inf], dtype=np.float32), "NaN or inf"),
    (np.zeros(100, dtype=np.float32), "silent"),
    (np.full(100, 1e-6, dtype=np.float32), "silent"),
])
def test_check_waveform_reasons(data, reason):
    with pytest.raises(AudioError, match=reason):
        check_waveform("x.wav", data, -80)
    check_waveform("ok.wav", tone(440, 0.1, 16000), -80)
