"""AudioLDM2's resampler (torchaudio's Hann-windowed sinc) against a float64 port of torchaudio's code, streamed
as files are read, and next to soxr."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from audiovae.audio import load_audio, stream
from audiovae.audio.resample import SincResampleStream, sinc_kernel, sinc_resample
from tests.conftest import chirp, evaluate_folder, noise, whole_of, write


def torchaudio_port(
    x: np.ndarray, orig: int, new: int, width_zc: int = 6, rolloff: float = 0.99, kernel_only: bool = False
) -> np.ndarray:
    """float64 port of torchaudio.functional.resample (sinc_interp_hann), written from its code: the kernel of
    `_get_sinc_resample_kernel`, then `_apply_sinc_resample_kernel` (pad w and w + o, stride-o dot products, phases
    interleaved, cut to ceil(n·N/o))."""
    g = math.gcd(orig, new)
    o, n = orig // g, new // g
    base = min(o, n) * rolloff
    w = math.ceil(width_zc * o / base)
    idx = np.arange(-w, w + o, dtype=np.float64)[None, :] / o
    t = np.clip((np.arange(0, -n, -1, dtype=np.float64)[:, None] / n + idx) * base, -width_zc, width_zc)
    window = np.cos(t * np.pi / width_zc / 2) ** 2
    tp = t * np.pi
    kernel = np.where(tp == 0, 1.0, np.sin(tp) / np.where(tp == 0, 1.0, tp)) * window * (base / o)  # [n, 2w + o]
    if kernel_only:
        return kernel
    padded = np.concatenate([np.zeros(w), np.asarray(x, dtype=np.float64), np.zeros(w + o)])
    steps = (len(padded) - kernel.shape[1]) // o + 1
    frames = np.stack([padded[j * o : j * o + kernel.shape[1]] for j in range(steps)])  # [steps, 2w + o]
    out = (frames @ kernel.T).reshape(-1)  # step-major, phase-minor: transpose(1, 2).reshape
    return out[: math.ceil(n * len(x) / o)]


@pytest.mark.parametrize("orig, new", [(44100, 16000), (22050, 16000), (48000, 16000), (8000, 16000), (32000, 16000)])
def test_equals_the_port_of_torchaudio(orig, new):
    x = (chirp(50, orig * 0.45, 0.5, orig) + noise(0.5, orig, seed=1, amp=0.2)).astype(np.float32)
    kernel, _ = sinc_kernel(orig, new, torch.float64)
    np.testing.assert_allclose(kernel[:, 0].numpy(), torchaudio_port(x, orig, new, kernel_only=True), atol=1e-12)
    ours, ref = sinc_resample(x, orig, new), torchaudio_port(x, orig, new)
    assert len(ours) == len(ref) == math.ceil(new * len(x) / orig)
    # in float32 (kernel and arithmetic, as torchaudio on float32 audio) the outputs round: within 5e-5 here
    assert np.max(np.abs(ours - ref)) < 5e-5


@settings(max_examples=25, deadline=None)
@given(cuts=st.lists(st.integers(1, 8819), max_size=6), seed=st.integers(0, 100))
def test_streamed_equals_whole_whatever_the_blocks(cuts, seed):
    x = np.random.default_rng(seed).standard_normal(8820).astype(np.float32)
    resampler, bounds = SincResampleStream(44100, 16000), [0, *sorted(set(cuts)), 8820]
    parts = [resampler.resample_chunk(x[a:b]) for a, b in zip(bounds, bounds[1:])]
    parts.append(resampler.resample_chunk(np.zeros(0, dtype=np.float32), last=True))
    np.testing.assert_allclose(np.concatenate(parts), sinc_resample(x, 44100, 16000), atol=1e-6)


def test_files_read_whole_and_block_by_block_agree_and_differ_from_soxr_in_the_high_band(tmp_path):
    path = write(tmp_path / "a.wav", chirp(100, 20000, 3.0, 44100) + noise(3.0, 44100, amp=0.05), 44100)
    whole = load_audio(path, 16000, resampler="audioldm2").waveform
    streamed = np.concatenate(list(stream.mono_blocks(path, 16000, resampler="audioldm2")))
    np.testing.assert_allclose(streamed, whole, atol=1e-6)
    prepared = stream.PreparedAudio.scan(path, 16000, None, -80.0, normalize=False, resampler="audioldm2")
    np.testing.assert_allclose(whole_of(prepared).numpy(), whole, atol=1e-6)
    soxr = load_audio(path, 16000).waveform
    snr = 10 * np.log10(np.sum(soxr**2) / np.sum((soxr - whole) ** 2))
    assert 10 < snr < 30  # close, not equal (15.2 dB on this file): they part ways near Nyquist
    hz = np.fft.rfftfreq(len(whole), 1 / 16000)

    def db(lo: float, hi: float) -> float:  # band magnitude of the sinc's output over soxr's
        band = (hz >= lo) & (hz < hi)
        return 20 * np.log10(np.abs(np.fft.rfft(whole))[band].sum() / np.abs(np.fft.rfft(soxr))[band].sum())

    assert abs(db(0, 6000)) < 0.1  # the same below 6 kHz
    assert db(6000, 7000) < -0.3 and db(7000, 7500) < -1.0  # the short sinc rolls off earlier ...
    assert db(7900, 8000) > 20  # ... and lets through what soxr stops just below Nyquist (README: measured)


def test_the_evaluation_reference_is_resampled_as_configured(tmp_path):
    import soundfile as sf

    write(tmp_path / "clips" / "a.wav", chirp(100, 20000, 1.0, 44100), 44100)
    saved = {}
    for rule in ("audioldm2", "soxr_hq"):
        evaluate_folder(
            tmp_path / "clips",
            tmp_path / rule,
            "model=tiny",
            "logger=none",
            "metrics.bootstrap_samples=50",
            "outputs.save_plots=false",
            "metrics.names=[snr]",
            f"data.resampler={rule}",
        )
        saved[rule] = sf.read(str(tmp_path / rule / "audio" / "a.wav.reference.wav"), dtype="float32")[0]
        prepared = stream.PreparedAudio.scan(
            tmp_path / "clips" / "a.wav", 16000, None, -80.0, normalize=True, resampler=rule
        )
        expected = whole_of(prepared).numpy()
        np.testing.assert_allclose(saved[rule], expected[: len(saved[rule])], atol=1e-6)
    assert np.max(np.abs(saved["audioldm2"] - saved["soxr_hq"])) > 1e-3
