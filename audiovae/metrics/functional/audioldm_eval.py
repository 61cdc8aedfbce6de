"""The paired autoencoder metrics of audioldm_eval (haoheliu/audioldm_eval, `eval.py`), which AudioLDM-family
papers report, with that package's conventions so the numbers can sit next to published tables. All run on the
whole signals of one file at 16 kHz, estimate y against reference x, in float32 as upstream.

- `psnr` and `ssim` on audioldm_eval's own mel (`MelPairedDataset.get_mel_from_wav`): each signal loses its
  mean and is clipped to [−1, 1]; TacotronSTFT(512, 160, 512, 64 mels, 16 kHz, 50–8000 Hz): reflect padding of
  256, periodic Hann, |STFT|, librosa's slaney filterbank, log10(max(mel, 1e-5)); then m = clip((20·log10 − 20
  + 100) / 100, 0, 1); both cut to the shorter. PSNR = 10·log10(1 / mean((m_y − m_x)²)) (skimage's
  `peak_signal_noise_ratio` infers data range 1 for a float image in [0, 1]); SSIM = skimage's
  `structural_similarity` with data range max(m) − min(m) over both images: 7×7 uniform window, sample
  covariance, K1 = 0.01, K2 = 0.03, mean over the map without its 3-pixel border. Identical mels (infinite PSNR)
  are left out of both means upstream: NaN here.
- `lsd` (`calculate_lsd` → ssr_eval `AudioMetrics.lsd`): y loses its first `offset` samples (upstream 160·7 =
  1120, "HiFi-GAN's seven frames"), each signal loses its mean and is divided by its peak, both cut to the
  shorter; S = |STFT| with n_fft = int(2048 · rate / 44100) = 743, hop 160, periodic Hann, centred with zero
  padding (librosa ≥ 0.10's default); LSD = mean_t sqrt(mean_f (log10(S_x² / (S_y + ε)² + ε))²), ε = 1e-12
  (log10 of power: Bels, one tenth of a dB-scale LSD).
"""

import functools

import numpy as np
import torch
from torch import Tensor

SAMPLE_RATE = 16000
MEL_N_FFT, MEL_HOP, N_MELS, FMIN, FMAX, CLAMP = 512, 160, 64, 50.0, 8000.0, 1e-5
LSD_N_FFT, LSD_HOP, LSD_EPS = int(2048 / (44100 / SAMPLE_RATE)), 160, 1e-12
OFFSET = 160 * 7  # upstream's time offset of the estimate in `calculate_lsd`
SSIM_WIN, K1, K2 = 7, 0.01, 0.03


@functools.cache
def _mel_basis() -> Tensor:
    import librosa  # here, not at import: librosa (numba, scipy) costs ~0.3 s of every evaluation's start

    return torch.from_numpy(
        librosa.filters.mel(sr=SAMPLE_RATE, n_fft=MEL_N_FFT, n_mels=N_MELS, fmin=FMIN, fmax=FMAX)
    ).float()


def _windowed_fourier_basis(n_fft: int) -> Tensor:
    """`[2·(n_fft/2 + 1), 1, n_fft]`: the real then imaginary DFT rows times a periodic Hann window, float32 (the
    STFT as upstream's TacotronSTFT computes it: one strided conv1d, so its float32 rounding is upstream's)."""
    dft = np.fft.fft(np.eye(n_fft))[: n_fft // 2 + 1]
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)
    return torch.from_numpy(np.vstack([dft.real, dft.imag])[:, None, :]).float() * torch.from_numpy(window).float()


_BASIS = _windowed_fourier_basis(MEL_N_FFT)


def eval_mel(audio: Tensor) -> np.ndarray:
    """`[N]` waveform -> audioldm_eval's scaled log-mel `[64, N // 160 + 1]` in [0, 1], float32."""
    x = audio.detach().float().cpu().reshape(-1)
    x = torch.clip(x - x.mean(), -1.0, 1.0)
    padded = torch.nn.functional.pad(x.view(1, 1, -1), (MEL_N_FFT // 2, MEL_N_FFT // 2), mode="reflect")
    out = torch.nn.functional.conv1d(padded, _BASIS, stride=MEL_HOP)[0]
    half = MEL_N_FFT // 2 + 1
    spec = torch.sqrt(out[:half] ** 2 + out[half:] ** 2)
    mel = torch.log10(torch.clamp(_mel_basis() @ spec, min=CLAMP))
    return torch.clip((mel * 20 - 20 + 100) / 100, 0.0, 1.0).numpy()


def _paired_mels(y: Tensor, x: Tensor) -> tuple[np.ndarray, np.ndarray]:
    my, mx = eval_mel(y), eval_mel(x)
    frames = min(my.shape[-1], mx.shape[-1])
    return my[:, :frames], mx[:, :frames]


def psnr(y: Tensor, x: Tensor) -> float:
    """audioldm_eval's mel PSNR in dB (NaN for identical mels)."""
    my, mx = _paired_mels(y, x)
    mse = np.mean((my.astype(np.float64) - mx.astype(np.float64)) ** 2)
    return float("nan") if mse == 0 else float(10 * np.log10(1.0 / mse))


def ssim(y: Tensor, x: Tensor) -> float:
    """audioldm_eval's mel SSIM (NaN for identical mels, which upstream leaves out with their PSNR)."""
    my, mx = _paired_mels(y, x)
    if np.array_equal(my, mx):
        return float("nan")
    data_range = max(my.max(), mx.max()) - min(my.min(), mx.min())
    n = SSIM_WIN**2
    from scipy.ndimage import uniform_filter

    mean = lambda a: uniform_filter(a, size=SSIM_WIN)  # noqa: E731  (float32 in, float32 out, as skimage)
    uy, ux = mean(my), mean(mx)
    cov_norm = n / (n - 1)
    vy, vx = cov_norm * (mean(my * my) - uy * uy), cov_norm * (mean(mx * mx) - ux * ux)
    vxy = cov_norm * (mean(my * mx) - uy * ux)
    c1, c2 = (K1 * data_range) ** 2, (K2 * data_range) ** 2
    s = ((2 * uy * ux + c1) * (2 * vxy + c2)) / ((uy**2 + ux**2 + c1) * (vy + vx + c2))
    pad = (SSIM_WIN - 1) // 2
    return float(s[pad:-pad, pad:-pad].mean(dtype=np.float64))


def _peak_normalised(a: Tensor) -> Tensor:
    a = a - a.mean()
    return a / a.abs().max()


def lsd(y: Tensor, x: Tensor, offset: int = OFFSET) -> float:
    """audioldm_eval's LSD (ssr_eval's `AudioMetrics.lsd`) in Bels; the estimate's first `offset` samples dropped."""
    y = _peak_normalised(y.detach().float().cpu().reshape(-1)[offset:]).double()
    x = _peak_normalised(x.detach().float().cpu().reshape(-1)).double()
    n = min(y.shape[0], x.shape[0])
    window = torch.hann_window(LSD_N_FFT, dtype=torch.float64)
    sy, sx = (
        torch.stft(
            a[:n], LSD_N_FFT, hop_length=LSD_HOP, window=window, center=True, pad_mode="constant", return_complex=True
        ).abs()
        for a in (y, x)
    )
    d = torch.log10(sx**2 / ((sy + LSD_EPS) ** 2) + LSD_EPS) ** 2  # [F, T]
    return float(torch.mean(torch.mean(d, dim=0) ** 0.5))
