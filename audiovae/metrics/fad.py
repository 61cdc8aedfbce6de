"""Fréchet audio distance: a set metric, between the reference set and each variant's set of file embeddings
(`audiovae.models.embedding`), lower is better, 0 for identical sets.

FAD = ‖μ_a − μ_b‖² + Tr Σ_a + Tr Σ_b − 2 Tr (Σ_a Σ_b)^½, with Σ the sample covariances (ddof 1), in float64.
With A = (X_a − μ_a)/√(n−1) (so Σ_a = AᵀA) and B likewise, the eigenvalues of Σ_a Σ_b are the squared singular
values of A Bᵀ, so Tr (Σ_a Σ_b)^½ = ‖A Bᵀ‖_* (nuclear norm): exact when there are fewer files than dimensions,
where Σ is singular and `sqrtm`-based code needs an offset. With more files than dimensions the D×D form
Tr (Σ_a^½ Σ_b Σ_a^½)^½ is used (symmetric eigendecompositions). FAD grows as sets shrink (its estimate is biased
upwards at small n): compare values at equal set sizes only.

Uncertainty: `audiovae.metrics.set_stats` (files resampled, the interval re-centred on the estimate: a resample
repeats files, and fewer distinct embeddings alone raise FAD).

>>> x = np.random.default_rng(0).normal(size=(20, 4))
>>> round(frechet_distance(x, x), 12)
0.0
"""

import numpy as np

from audiovae.metrics.base import LOWER

NAME, DIRECTION, UNIT = "fad", LOWER, ""
MIN_FILES = 2  # a covariance needs two embeddings
INF_STEPS = 25  # FAD∞: set sizes fitted (fadtk's `steps`)


def _centred(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x, dtype=np.float64)
    mean = x.mean(axis=0)
    return mean, (x - mean) / np.sqrt(x.shape[0] - 1)


def _psd_sqrt(a: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh(a)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


def trace_sqrt_product(a_centred: np.ndarray, b_centred: np.ndarray) -> float:
    """Tr (AᵀA · BᵀB)^½ for `[n, D]` and `[m, D]` scaled, centred embeddings."""
    n, m, dim = a_centred.shape[0], b_centred.shape[0], a_centred.shape[1]
    if min(n, m) <= dim:
        return float(np.linalg.svd(a_centred @ b_centred.T, compute_uv=False).sum())
    root = _psd_sqrt(a_centred.T @ a_centred)
    inner = root @ (b_centred.T @ b_centred) @ root
    return float(np.sqrt(np.clip(np.linalg.eigvalsh((inner + inner.T) / 2), 0, None)).sum())


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """FAD between embedding sets `[n, D]` and `[m, D]` (n, m ≥ 2)."""
    if min(len(a), len(b)) < MIN_FILES:
        return float("nan")
    mu_a, ca = _centred(a)
    mu_b, cb = _centred(b)
    diff = mu_a - mu_b
    value = diff @ diff + (ca * ca).sum() + (cb * cb).sum() - 2 * trace_sqrt_product(ca, cb)
    return float(max(value, 0.0))  # rounding can leave −1e-15 for identical sets


def extrapolated_fad(a: np.ndarray, b: np.ndarray, seed: int, steps: int = INF_STEPS) -> dict:
    """FAD∞ (Gui et al. 2024, fadtk's `score_inf`): FAD of the reference set `a` against n rows of `b` drawn with
    replacement, for n on `steps` points of ⌊linspace(n_min, len(b))⌋, fitted as FAD(n) = FAD∞ + slope/n by least
    squares; FAD∞ is the intercept. Draws: numpy's legacy generator seeded with `seed` (fadtk draws from the global
    one, `np.random.choice`). fadtk's n_min, 500, is for frame embeddings; on file embeddings n_min = max(2, ⌊n/2⌋).
    Returns {value, slope, r2, n_min}."""
    n = len(b)
    if min(len(a), n) < MIN_FILES:
        return {"value": float("nan"), "slope": float("nan"), "r2": float("nan"), "n_min": n}
    n_min = max(MIN_FILES, n // 2)
    ns = [int(k) for k in np.linspace(n_min, n, steps)]
    draw = np.random.RandomState(seed)
    scores = np.array([frechet_distance(a, b[draw.choice(n, size=k, replace=True)]) for k in ns])
    x = 1 / np.array(ns)
    if np.ptp(x) == 0:  # one set size: no line to fit
        return {"value": float("nan"), "slope": float("nan"), "r2": float("nan"), "n_min": n_min}
    slope, intercept = np.polyfit(x, scores, 1)
    spread = np.sum((scores - scores.mean()) ** 2)
    r2 = 1 - np.sum((scores - (slope * x + intercept)) ** 2) / spread if spread > 0 else 1.0
    return {"value": float(intercept), "slope": float(slope), "r2": float(r2), "n_min": n_min}


def summarize_fad(sets: dict[str, np.ndarray], n_boot: int, seed: int, alpha: float, paired: bool = True) -> dict:
    """FAD of each variant's set against the reference set, bootstrap intervals and enhanced − base
    (`audiovae.metrics.set_stats.summarize_set_distance`; `paired`: the reference's rows are the variants' files)."""
    from audiovae.metrics.set_stats import summarize_set_distance

    meta = {"direction": DIRECTION, "unit": UNIT}
    return summarize_set_distance(sets, frechet_distance, meta, n_boot, seed, alpha, paired, floor=0.0)
