import numpy as np
import pytest
import soundfile as sf
import torch

from audiovae.audio import AudioError, check_waveform, load_audio, stream
from audiovae.audio.frontend import MelFrontEnd
from tests.conftest import noise, tone, whole_of, write


def dominant_hz(x: np.ndarray, sr: int) -> float:
    spec = np.abs(np.fft.rfft(x))
    return np.argmax(spec) * sr / len(x)


@pytest.mark.parametrize(
    "ext, subtype", [("wav", "PCM_16"), ("wav", "PCM_24"), ("wav", "FLOAT"), ("flac", "PCM_16"), ("ogg", "VORBIS")]
)
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


def test_first_channel_rule_keeps_channel_0_whole_and_streamed(tmp_path):
    left, right = tone(500, 1.5, 44100), noise(1.5, 44100, amp=0.4)
    stereo = write(tmp_path / "st.wav", np.stack([left, right], axis=1), 44100)
    alone = write(tmp_path / "left.wav", left, 44100)
    first = load_audio(stereo, 16000, "first")
    np.testing.assert_array_equal(first.waveform, load_audio(alone, 16000).waveform)  # resampled exactly alike
    assert first.orig_channels == 2
    for rule in ("first", "mix"):
        whole = load_audio(stereo, 16000, rule).waveform
        np.testing.assert_array_equal(np.concatenate(list(stream.mono_blocks(stereo, 16000, channels=rule))), whole)
        prepared = stream.PreparedAudio.scan(stereo, 16000, None, -80.0, normalize=False, channels=rule)
        np.testing.assert_array_equal(whole_of(prepared).numpy(), whole)
    mixed = load_audio(stereo, 16000, "mix").waveform
    assert 20 * np.log10(np.linalg.norm(mixed - first.waveform) / np.linalg.norm(first.waveform)) > -20  # they differ


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


@pytest.mark.parametrize(
    "data, reason",
    [
        (np.array([0.1, np.nan, 0.2], dtype=np.float32), "NaN or inf"),
        (np.array([0.1, np.inf], dtype=np.float32), "NaN or inf"),
        (np.zeros(100, dtype=np.float32), "silent"),
        (np.full(100, 1e-6, dtype=np.float32), "silent"),
    ],
)
def test_check_waveform_reasons(data, reason):
    with pytest.raises(AudioError, match=reason):
        check_waveform("x.wav", data, -80)
    check_waveform("ok.wav", tone(440, 0.1, 16000), -80)


def test_a_file_read_block_by_block_equals_the_whole_file_load(tmp_path, monkeypatch):
    monkeypatch.setattr(stream, "BLOCK_FRAMES", 1000)  # many blocks, and the resampler's state across them
    left, right = tone(440, 1.3, 44100), noise(1.3, 44100, seed=5)
    path = tmp_path / "stereo.wav"
    write(path, np.stack([left, right], 1), 44100)
    whole = load_audio(path, 16000).waveform
    np.testing.assert_array_equal(np.concatenate(list(stream.mono_blocks(path, 16000))), whole)
    frontend = MelFrontEnd(16000, 1024, 1024, 160, 64, 0, 8000, 1e-5, normalize=True)
    audio = stream.PreparedAudio.scan(path, 16000, None, -80.0, normalize=True)
    prepared = frontend.prepare(torch.from_numpy(whole))
    assert audio.num_samples == len(whole)
    torch.testing.assert_close(whole_of(audio), prepared, rtol=0, atol=0)
    reader = audio.reader()  # overlapping reads in order, releasing what is done: the engine's pattern
    torch.testing.assert_close(reader.read(0, 9000), prepared[:9000], rtol=0, atol=0)
    torch.testing.assert_close(reader.read(7000, 16000), prepared[7000:16000], rtol=0, atol=0)
    reader.release(7000)
    tail = reader.read(15000, len(whole) + 50)
    torch.testing.assert_close(tail[:-50], prepared[15000:], rtol=0, atol=0)
    assert torch.all(tail[-50:] == 0) and reader.buffer.shape[0] <= len(whole) - 7000
    with pytest.raises(ValueError, match="released"):
        reader.read(6000, 7000)
    cut = stream.PreparedAudio.scan(path, 16000, 5000, -80.0, normalize=False)
    assert cut.num_samples == 5000
    np.testing.assert_array_equal(whole_of(cut).numpy(), whole[:5000])
