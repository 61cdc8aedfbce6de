"""The mel front end against an independent float64 librosa computation of AudioLDM2's definition."""

import librosa
import numpy as np
import pytest
import torch

from audiovae.audio import MelFrontEnd
from tests.conftest import chirp, noise, tone

AUDIOLDM2_16K = dict(
    sample_rate=16000,
    n_fft=1024,
    win_length=1024,
    hop_length=160,
    n_mels=64,
    fmin=0,
    fmax=8000,
    clamp_min=1e-5,
    normalize=True,
)
AUDIOLDM_48K = dict(
    sample_rate=48000,
    n_fft=2048,
    win_length=2048,
    hop_length=480,
    n_mels=256,
    fmin=20,
    fmax=24000,
    clamp_min=1e-5,
    normalize=True,
)


def reference_logmel(x: np.ndarray, p: dict) -> np.ndarray:
    """float64 numpy/librosa: AudioLDM normalisation, reflect pad, STFT magnitude, slaney mel, log clamp."""
    x = x.astype(np.float64)
    x = x - x.mean()
    x = 0.5 * x / (np.abs(x).max() + 1e-8)
    pad = (p["n_fft"] - p["hop_length"]) // 2
    x = np.pad(x, pad, mode="reflect")
    mag = np.abs(
        librosa.stft(
            x, n_fft=p["n_fft"], hop_length=p["hop_length"], win_length=p["win_length"], window="hann", center=False
        )
    )
    basis = librosa.filters.mel(
        sr=p["sample_rate"],
        n_fft=p["n_fft"],
        n_mels=p["n_mels"],
        fmin=p["fmin"],
        fmax=p["fmax"],
        norm="slaney",
        dtype=np.float64,
    )
    return np.log(np.maximum(basis @ mag, p["clamp_min"])).T  # [T, n_mels]


def audioldm2_inference_logmel(x: np.ndarray, p: dict) -> np.ndarray:
    """A float64 port of AudioLDM2's inference front end (haoheliu/AudioLDM2 utilities/audio: `normalize_wav`,
    `STFT.transform` — a windowed DFT basis applied by a strided convolution after reflect padding of n_fft / 2 —
    `TacotronSTFT.mel_spectrogram` and `_pad_spec` cutting to N // hop frames), written from its code."""
    from scipy.signal import get_window

    x = x.astype(np.float64)
    x = x - x.mean()
    x = 0.5 * x / (np.abs(x).max() + 1e-8)
    n_fft, hop = p["n_fft"], p["hop_length"]
    basis = np.fft.fft(np.eye(n_fft))[: n_fft // 2 + 1]
    window = librosa.util.pad_center(get_window("hann", p["win_length"], fftbins=True), size=n_fft)
    padded = np.pad(x, n_fft // 2, mode="reflect")
    starts = np.arange(0, len(padded) - n_fft + 1, hop)
    frames = np.stack([padded[s : s + n_fft] for s in starts])  # what conv1d with stride hop sees
    real, imag = frames @ (basis.real * window).T, frames @ (basis.imag * window).T
    magnitude = np.sqrt(real**2 + imag**2).T  # [freq, frames]: N // hop + 1 of them
    mel = (
        librosa.filters.mel(
            sr=p["sample_rate"], n_fft=n_fft, n_mels=p["n_mels"], fmin=p["fmin"], fmax=p["fmax"], dtype=np.float64
        )
        @ magnitude
    )
    return np.log(np.maximum(mel, 1e-5)).T[: len(x) // hop]  # _pad_spec to the target length


def training_repo_logmel(x: np.ndarray, p: dict) -> np.ndarray:
    """A float64 port of AudioLDM's training front end (`mel_spectrogram_train`): reflect pad (n_fft − hop) / 2,
    torch.stft(center=False) with torch's (periodic) Hann window, |·|, mel, log clamp 1e-5."""
    x = torch.from_numpy(x.astype(np.float64))
    x = x - x.mean()
    x = 0.5 * x / (x.abs().max() + 1e-8)
    pad = (p["n_fft"] - p["hop_length"]) // 2
    y = torch.nn.functional.pad(x[None, None], (pad, pad), mode="reflect")[0]
    spec = torch.stft(
        y,
        p["n_fft"],
        hop_length=p["hop_length"],
        win_length=p["win_length"],
        window=torch.hann_window(p["win_length"], dtype=torch.float64),
        center=False,
        return_complex=True,
    ).abs()[0]
    mel = (
        torch.from_numpy(
            librosa.filters.mel(
                sr=p["sample_rate"],
                n_fft=p["n_fft"],
                n_mels=p["n_mels"],
                fmin=p["fmin"],
                fmax=p["fmax"],
                dtype=np.float64,
            )
        )
        @ spec
    )
    return torch.log(torch.clamp(mel, min=1e-5)).T.numpy()


def run(frontend: MelFrontEnd, x: np.ndarray, dtype=torch.float64) -> np.ndarray:
    w = frontend.prepare(torch.from_numpy(x).to(dtype))
    return frontend(w)[0, 0].double().numpy()


@pytest.mark.parametrize("signal", [tone(440, 1.0, 16000), chirp(50, 7900, 1.0, 16000), noise(1.0, 16000)])
def test_matches_float64_librosa_within_1e_5(signal):
    fe = MelFrontEnd(**AUDIOLDM2_16K)
    ref = reference_logmel(signal, AUDIOLDM2_16K)
    ours = run(fe, signal)
    assert ours.shape == ref.shape == (100, 64)
    assert np.max(np.abs(ours - ref)) <= 1e-5


@pytest.mark.parametrize(
    "framing, port", [("audioldm2", audioldm2_inference_logmel), ("training_repo", training_repo_logmel)]
)
@pytest.mark.parametrize("signal", [chirp(50, 7900, 1.0, 16000), noise(1.0, 16000) + tone(300, 1.0, 16000)])
def test_each_framing_equals_its_upstream_port(framing, port, signal):
    ours = run(MelFrontEnd(**AUDIOLDM2_16K, framing=framing), signal)
    ref = port(signal, AUDIOLDM2_16K)
    assert ours.shape == ref.shape == (100, 64)
    assert np.max(np.abs(ours - ref)) <= 1e-6  # what is left: the float32 normalisation statistics (by design)


def test_the_two_framings_are_the_same_frames_half_a_hop_apart():
    signal = noise(1.0, 16000, seed=2) + chirp(80, 7000, 1.0, 16000)
    half = AUDIOLDM2_16K["hop_length"] // 2
    inference = run(MelFrontEnd(**{**AUDIOLDM2_16K, "normalize": False}, framing="audioldm2"), signal)
    training = run(
        MelFrontEnd(**{**AUDIOLDM2_16K, "normalize": False}, framing="training_repo"),
        np.concatenate([np.zeros(half), signal[:-half]]),
    )  # the signal 80 samples later
    interior = slice(5, -5)  # away from the padded edges
    assert np.max(np.abs(inference[interior] - training[interior])) <= 1e-9
    apart = np.abs(inference - run(MelFrontEnd(**{**AUDIOLDM2_16K, "normalize": False}), signal))
    assert apart.max() > 0.5 and apart.mean() > 0.01  # without the shift they differ (README: max, mean)


def test_float32_is_close_to_reference_where_the_signal_is_above_the_floor():
    signal = chirp(50, 7900, 1.0, 16000)
    ref = reference_logmel(signal, AUDIOLDM2_16K)
    ours = run(MelFrontEnd(**AUDIOLDM2_16K), signal, dtype=torch.float32)
    loud = ref > np.log(1e-3)
    assert np.max(np.abs(ours - ref)[loud]) < 1e-3


def test_48k_variant_is_only_a_config():
    signal = chirp(100, 20000, 0.5, 48000)
    ref = reference_logmel(signal, AUDIOLDM_48K)
    ours = run(MelFrontEnd(**AUDIOLDM_48K), signal)
    assert ours.shape == (50, 256) and np.max(np.abs(ours - ref)) <= 1e-5


@pytest.mark.parametrize("num_samples", [16000, 16160, 16159, 3200])
def test_frame_count_is_length_over_hop(num_samples):
    fe = MelFrontEnd(**AUDIOLDM2_16K)
    out = fe(torch.randn(num_samples))
    assert out.shape == (1, 1, num_samples // 160, 64) and fe.num_frames(num_samples) == num_samples // 160


def test_frames_padded_with_silence_to_the_vae_multiple():
    fe = MelFrontEnd(**AUDIOLDM2_16K, frame_multiple=4)
    out = fe(torch.randn(2, 16160))  # 101 frames -> 104
    assert out.shape == (2, 1, 104, 64)
    assert torch.all(out[:, :, 101:] == torch.log(torch.tensor(1e-5)))


def test_batched_equals_one_at_a_time():
    fe = MelFrontEnd(**AUDIOLDM2_16K)
    batch = torch.randn(3, 8000, dtype=torch.float64)
    together = fe(batch)
    for i in range(3):
        torch.testing.assert_close(together[i : i + 1], fe(batch[i]))


def test_normalisation_matches_audioldm():
    fe = MelFrontEnd(**AUDIOLDM2_16K)
    x = torch.tensor([1.0, 3.0, -2.0, 0.0])
    centred = x - x.mean()
    torch.testing.assert_close(fe.prepare(x), 0.5 * centred / (centred.abs().max() + 1e-8))
    assert fe.prepare(x).abs().max() == pytest.approx(0.5, abs=1e-6)
    assert torch.equal(MelFrontEnd(**{**AUDIOLDM2_16K, "normalize": False}).prepare(x), x)


def test_differentiable_with_respect_to_the_waveform():
    fe = MelFrontEnd(**AUDIOLDM2_16K)
    w = torch.randn(1, 4000, requires_grad=True)
    fe(w).sum().backward()
    assert w.grad is not None and torch.isfinite(w.grad).all() and w.grad.abs().sum() > 0
