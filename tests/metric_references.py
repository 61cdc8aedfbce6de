"""Independent float64 numpy/librosa implementations of the pinned metric definitions (test oracles)."""

import librosa
import numpy as np

EPS = np.finfo(np.float32).eps


def snr(y, x):
    x, y = np.float64(x), np.float64(y)
    return 10 * np.log10((np.sum(x**2) + EPS) / (np.sum((x - y) ** 2) + EPS))


def si_sdr(y, x):
    x, y = np.float64(x), np.float64(y)
    alpha = (np.dot(y, x) + EPS) / (np.dot(x, x) + EPS)
    return 10 * np.log10((np.sum((alpha * x) ** 2) + EPS) / (np.sum((alpha * x - y) ** 2) + EPS))


def _magnitude(x, n_fft=2048, hop=512):
    return np.abs(
        librosa.stft(np.float64(x), n_fft=n_fft, hop_length=hop, window="hann", center=True, pad_mode="constant")
    )


def hf_retention(y, x, sr, fc=None, power=False, n_fft=2048, hop=512):
    fc = sr / 4 if fc is None else fc
    X, Y = _magnitude(x, n_fft, hop), _magnitude(y, n_fft, hop)
    if power:
        X, Y = X**2, Y**2
    high = np.arange(X.shape[0]) * sr / n_fft >= fc
    if X[high].sum() <= EPS:
        return np.nan  # undefined: no reference content above fc
    return 100 * Y[high].sum() / X[high].sum()


def spectral_correlation(y, x, n_fft=2048, hop=512):
    return np.corrcoef(_magnitude(x, n_fft, hop).mean(axis=1), _magnitude(y, n_fft, hop).mean(axis=1))[0, 1]


def _power(x, n_fft, hop):
    return (
        np.abs(
            librosa.stft(np.float64(x), n_fft=n_fft, hop_length=hop, window="hann", center=True, pad_mode="constant")
        )
        ** 2
    )


def lsd(y, x, sr, n_fft=2048, hop=512, band="all", fc=None):
    fc = sr / 4 if fc is None else fc
    lx = np.log10(np.maximum(_power(x, n_fft, hop), 1e-8))
    ly = np.log10(np.maximum(_power(y, n_fft, hop), 1e-8))
    f = np.arange(lx.shape[0]) * sr / n_fft
    keep = {"all": np.ones_like(f, bool), "high": f >= fc, "low": f < fc}[band]
    return np.mean(np.sqrt(np.mean((ly - lx)[keep] ** 2, axis=0)))


def mel_distance(y, x, sr):
    total = 0.0
    for w, m in zip([32, 64, 128, 256, 512, 1024, 2048], [5, 10, 20, 40, 80, 160, 320]):
        basis = librosa.filters.mel(sr=sr, n_fft=w, n_mels=m, fmin=0, fmax=sr / 2, dtype=np.float64)

        def logmel(s):
            mag = np.abs(
                librosa.stft(np.float64(s), n_fft=w, hop_length=w // 4, window="hann", center=True, pad_mode="constant")
            )
            return np.log10(np.maximum(basis @ mag, 1e-5))

        total += np.mean(np.abs(logmel(x) - logmel(y)))
    return total


def mel_l1(y, x):
    return np.mean(np.abs(np.float64(y) - np.float64(x)))


def mel_psnr(y, x):
    x, y = np.float64(x), np.float64(y)
    return 10 * np.log10((x.max() - x.min()) ** 2 / np.mean((y - x) ** 2))


# audioldm_eval's paired metrics, ported from its eval.py / datasets/load_mel.py / audio/stft.py and ssr_eval's
# metrics.py as those run them: float32, a conv1d Fourier-basis STFT, skimage's PSNR and SSIM, librosa's STFT.
def _audioldm_eval_mel(audio):
    import torch

    n_fft, hop = 512, 160
    basis = np.fft.fft(np.eye(n_fft))[: n_fft // 2 + 1]
    window = librosa.util.pad_center(
        __import__("scipy.signal", fromlist=["get_window"]).get_window("hann", n_fft, fftbins=True), size=n_fft
    )
    forward = torch.FloatTensor(np.vstack([basis.real, basis.imag])[:, None, :]) * torch.from_numpy(window).float()
    a = torch.from_numpy(np.asarray(audio, dtype=np.float32)).view(1, -1)
    a = a - a.mean()
    a = torch.clip(a, -1, 1)
    padded = torch.nn.functional.pad(a.view(1, 1, 1, -1), (n_fft // 2, n_fft // 2, 0, 0), mode="reflect").squeeze(1)
    out = torch.nn.functional.conv1d(padded, forward, stride=hop)
    magnitude = torch.sqrt(out[:, : n_fft // 2 + 1] ** 2 + out[:, n_fft // 2 + 1 :] ** 2)
    mel_basis = torch.from_numpy(librosa.filters.mel(sr=16000, n_fft=n_fft, n_mels=64, fmin=50, fmax=8000)).float()
    mel = torch.log10(torch.clamp(torch.matmul(mel_basis, magnitude), min=1e-5))
    mel = torch.clip(((mel * 20) - 20 + 100) / 100, min=0, max=1.0)
    return torch.squeeze(mel, 0).numpy().astype(np.float32)


def audioldm_eval_psnr_ssim(generated, target):
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    mel_gen, mel_target = _audioldm_eval_mel(generated), _audioldm_eval_mel(target)
    n = min(mel_gen.shape[-1], mel_target.shape[-1])
    mel_gen, mel_target = mel_gen[..., :n], mel_target[..., :n]
    value = peak_signal_noise_ratio(mel_gen, mel_target)
    data_range = max(np.max(mel_gen), np.max(mel_target)) - min(np.min(mel_gen), np.min(mel_target))
    return value, structural_similarity(mel_gen, mel_target, data_range=data_range)


def audioldm_eval_lsd(generated, target, time_offset=160 * 7):
    import torch

    audio1, audio2 = np.asarray(generated, dtype=np.float32)[time_offset:], np.asarray(target, dtype=np.float32)
    audio1, audio2 = audio1 - np.mean(audio1), audio2 - np.mean(audio2)
    audio1, audio2 = audio1 / np.max(np.abs(audio1)), audio2 / np.max(np.abs(audio2))
    n = min(audio1.shape[0], audio2.shape[0])
    n_fft = int(2048 / (44100 / 16000))

    def spectrogram(wav):
        return torch.tensor(np.abs(librosa.stft(wav, hop_length=160, n_fft=n_fft)).T[None, None])

    est, ref = spectrogram(audio1[:n]), spectrogram(audio2[:n])
    d = torch.log10(ref**2 / ((est + 1e-12) ** 2) + 1e-12) ** 2
    return float(torch.mean(torch.mean(d, dim=3) ** 0.5, dim=2))


def frechet_distance_scipy(a, b, eps=1e-6):
    """The Fréchet distance as FAD implementations compute it (audioldm_eval's metrics/fad.py, fadtk): mean and
    np.cov of each set, scipy.linalg.sqrtm of the product (with an eps·I offset when it is not finite), real part."""
    from scipy import linalg

    a, b = np.float64(a), np.float64(b)
    mu1, mu2 = a.mean(axis=0), b.mean(axis=0)
    sigma1, sigma2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean, _ = linalg.sqrtm(sigma1.dot(sigma2), disp=False)
    if not np.isfinite(covmean).all():
        offset = np.eye(sigma1.shape[0]) * eps
        covmean = linalg.sqrtm((sigma1 + offset).dot(sigma2 + offset))
    covmean = covmean.real
    diff = mu1 - mu2
    return diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean)


def lsd_low_band_matched(y, x, n_fft=2048, hop=512):
    """LSD (this project's: log10 of clamp(|STFT|², 1e-8), all bins) after AudioSR's energy scaling as its
    `lsd_calculation_pitfall/demo_comparison.py` does it: the estimate's magnitudes times mean|X| / mean|Y| over the
    lowest int(bins · 10 / 100) bins and every frame (librosa STFT, Hann, centred, zero padded)."""
    X, Y = _magnitude(x, n_fft, hop), _magnitude(y, n_fft, hop)
    lower = int(X.shape[0] * 10 / 100)
    low_y = np.mean(Y[:lower, :])
    Y = Y * (np.mean(X[:lower, :]) / low_y if low_y > 0 else 1.0)
    log_x, log_y = np.log10(np.maximum(X**2, 1e-8)), np.log10(np.maximum(Y**2, 1e-8))
    return np.mean(np.sqrt(np.mean((log_y - log_x) ** 2, axis=0)))
