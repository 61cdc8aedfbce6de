"""Independent float64 numpy/librosa implementations of the pinned metric definitions (test oracles)."""
import librosa
import numpy as np

EPS = np.finfo(np.float32).eps


def snr(y, x):
    x, y = np.float64(x), np.float64(y)
    return 10 * np.log10((np.sum(x ** 2) + EPS) / (np.sum((x - y) ** 2) + EPS))


def si_sdr(y, x):
    x, y = np.float64(x), np.float64(y)
    alpha = (np.dot(y, x) + EPS) / (np.dot(x, x) + EPS)
    return 10 * np.log10((np.sum((alpha * x) ** 2) + EPS) / (np.sum((alpha * x - y) ** 2) + EPS))


def _magnitude(x, n_fft=2048, hop=512):
    return np.abs(librosa.stft(np.float64(x), n_fft=n_fft, hop_length=hop, window="hann", center=True,
                               pad_mode="constant"))


def hf_retention(y, x, sr, fc=None, power=False, n_fft=2048, hop=512):
    fc = sr / 4 if fc is None else fc
    X, Y = _magnitude(x, n_fft, hop), _magnitude(y, n_fft, hop)
    if power:
        X, Y = X ** 2, Y ** 2
    high = np.arange(X.shape[0]) * sr / n_fft >= fc
    if X[high].sum() <= EPS:
        return np.nan  # undefined: no reference content above fc
    return 100 * Y[high].sum() / X[high].sum()


def spectral_correlation(y, x, n_fft=2048, hop=512):
    return np.corrcoef(_magnitude(x, n_fft, hop).mean(axis=1), _magnitude(y, n_fft, hop).mean(axis=1))[0, 1]


def _power(x, n_fft, hop):
    return np.abs(librosa.stft(np.float64(x), n_fft=n_fft, hop_length=hop, window="hann", center=True,
                               pad_mode="constant")) ** 2


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
            mag = np.abs(librosa.stft(np.float64(s), n_fft=w, hop_length=w // 4, window="hann", center=True,
                                      pad_mode="constant"))
            return np.log10(np.maximum(basis @ mag, 1e-5))

        total += np.mean(np.abs(logmel(x) - logmel(y)))
    return total


def mel_l1(y, x):
    return np.mean(np.abs(np.float64(y) - np.float64(x)))


def mel_psnr(y, x):
    x, y = np.float64(x), np.float64(y)
    return 10 * np.log10((x.max() - x.min()) ** 2 / np.mean((y - x) ** 2))
