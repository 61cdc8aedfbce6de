"""Kernel audio distance (KAD, Chung et al. 2025, kadtk): the maximum mean discrepancy between two embedding sets
under a Gaussian kernel, unbiased at any set size, lower is better, 0 in expectation for sets drawn alike.

With k(a, b) = exp(−γ ‖a − b‖²), γ = 1 / (2σ² + 1e-8), sets X (m rows) and Y (n rows):

    KAD = 100 · [ Σ_{i≠j} k(x_i, x_j) / (m(m−1)) + Σ_{i≠j} k(y_i, y_j) / (n(n−1)) − 2 Σ_{i,j} k(x_i, y_j) / (mn) ]

(kadtk's `calc_kernel_audio_distance`, its scale factor 100). The within-set means leave out the diagonal, so the
estimate has no small-n bias (unlike FAD, which grows as sets shrink); it can be slightly negative when two sets
are alike. σ, the bandwidth: the median pairwise distance of the reference set (torch.median's lower median, as
kadtk's `median_pairwise_distance`), so one kernel measures every variant and their difference means something;
kadtk's command line takes it from each evaluated set instead. Computed in float64 (kadtk: float32).

A set against a copy of itself scores 200 (mean_{i≠j} k(x_i, x_j) − 1) / m, just below 0:

>>> x = np.random.default_rng(0).normal(size=(30, 4))
>>> k = np.exp(-((x[:, None] - x[None]) ** 2).sum(-1) / (2 * 2.0**2 + EPS))
>>> bool(np.isclose(kernel_distance(x, x, 2.0), 200 * ((k.sum() - 30) / (30 * 29) - 1) / 30))
True
"""

import numpy as np

SCALE = 100.0  # kadtk's SCALE_FACTOR
EPS = 1e-8  # in the kernel's γ = 1 / (2σ² + EPS)
MIN_FILES = 2  # a within-set mean needs two embeddings


def median_pairwise_distance(x: np.ndarray) -> float:
    """The lower median of the n(n−1)/2 Euclidean distances between the rows of `x` (torch.median's)."""
    x = np.asarray(x, dtype=np.float64)
    squared = _squared_distances(x, x)
    distances = np.sqrt(squared[np.triu_indices(len(x), k=1)])
    return float(np.sort(distances)[(len(distances) - 1) // 2])


def _squared_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """‖a_i − b_j‖² from the Gram matrix, as kadtk computes it, clipped at 0 (rounding can leave −1e-16 between
    near-equal rows; kadtk does not clip, and exp(−γ·d²) differs by that much)."""
    return np.clip((a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2 * a @ b.T, 0, None)


def kernel_distance(a: np.ndarray, b: np.ndarray, bandwidth: float) -> float:
    """KAD between embedding sets `[m, D]` and `[n, D]` (m, n ≥ 2) with Gaussian kernel bandwidth σ."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    m, n = len(a), len(b)
    if min(m, n) < MIN_FILES:
        return float("nan")
    gamma = 1.0 / (2 * bandwidth**2 + EPS)

    def within(x: np.ndarray) -> float:
        k = np.exp(-gamma * _squared_distances(x, x))
        return (k.sum() - np.trace(k)) / (len(x) * (len(x) - 1))

    across = np.exp(-gamma * _squared_distances(a, b)).mean()
    return float(SCALE * (within(a) + within(b) - 2 * across))
