"""A set metric's summary: its value per variant (a distance between the reference set and the variant's set of
embeddings), a bootstrap interval for each, and enhanced − base with its interval and verdict.

Files are resampled with replacement — the same files for the reference and every variant when the sets are paired
by file (reconstruction), the reference set on its own otherwise (generation) — and the distance recomputed `n_boot`
times. A resample repeats files, and repeated embeddings alone move a distance (FAD of 100 random 512-dim embeddings:
resamples sit 1.9 above the estimate with a spread of 0.5, so a plain percentile interval would not even contain
it). The spread is the sampling uncertainty, the shift an artefact of resampling: the interval is the percentile
interval of the resamples re-centred on the estimate, θ*_b − (mean θ* − θ̂), and the shift is reported as
`resampling_shift`. A distance that cannot be negative (`floor=0`, FAD) keeps its lower bound at 0.
"""

from typing import Callable, Optional

import numpy as np

Distance = Callable[[np.ndarray, np.ndarray], float]  # (reference `[m, D]`, variant `[n, D]`) -> value


def recentred_interval(draws: np.ndarray, estimate: float, alpha: float) -> tuple[list[float], float]:
    """(the 1 − alpha percentile interval of `draws` re-centred on `estimate`, the shift removed)."""
    shift = float(draws.mean() - estimate)
    centred = draws - shift
    return [float(np.quantile(centred, alpha / 2)), float(np.quantile(centred, 1 - alpha / 2))], shift


def summarize_set_distance(
    sets: dict[str, np.ndarray],
    distance: Distance,
    meta: dict,
    n_boot: int,
    seed: int,
    alpha: float,
    paired: bool = True,
    floor: Optional[float] = None,
    min_files: int = 2,
) -> dict:
    """`sets`: "reference" and each variant -> `[n, D]` embeddings; `meta`: the metric's direction and unit. Per
    variant `distance(reference, variant)` with a bootstrap CI, and enhanced − base with its CI and verdict
    ("lower", "higher", "not distinguishable": the sign of the difference, which the direction judges)."""
    reference = sets["reference"]
    variants = [v for v in sets if v != "reference"]
    n, m = len(sets[variants[0]]) if variants else len(reference), len(reference)
    out = {
        "n_files": n,
        **meta,
        "bootstrap_samples": n_boot,
        "variants": {v: {"value": distance(reference, sets[v])} for v in variants},
    }
    if not paired:
        out["n_reference"] = m
    if min(n, m) < min_files:
        return out
    rng = np.random.default_rng(seed)
    draws = {v: np.empty(n_boot) for v in variants}
    for b in range(n_boot):
        idx = rng.integers(0, n, n)
        ref_idx = idx if paired else rng.integers(0, m, m)
        for v in variants:
            draws[v][b] = distance(reference[ref_idx], sets[v][idx])
    for v in variants:
        stats = out["variants"][v]
        ci, stats["resampling_shift"] = recentred_interval(draws[v], stats["value"], alpha)
        stats["ci"] = [max(ci[0], floor), ci[1]] if floor is not None else ci
    if "base" in sets and "enhanced" in sets:
        value = out["variants"]["enhanced"]["value"] - out["variants"]["base"]["value"]
        ci, shift = recentred_interval(draws["enhanced"] - draws["base"], value, alpha)
        verdict = "lower" if ci[1] < 0 else "higher" if ci[0] > 0 else "not distinguishable"
        out["delta"] = {"value": value, "ci": ci, "resampling_shift": shift, "enhanced_vs_base": verdict}
    return out
