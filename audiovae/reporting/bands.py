"""Where the high band goes: per mel band, the energy a reconstruction keeps relative to the reference (dB), per
file and on average across files. A restoring enhancer lifts the bands where the VAE lost energy towards 0 dB; one
that lifts everything above a cutoff overshoots the bands that were intact.

>>> import numpy as np
>>> summary = summarize_bands([[[0.0, -6.0], [0.0, -1.0]]], np.array([500.0, 6000.0]), 4000.0, ["base", "enhanced"])
>>> summary["above_cutoff_db"], summary["below_cutoff_db"]
({'base': -6.0, 'enhanced': -1.0}, {'base': 0.0, 'enhanced': 0.0})
"""

from pathlib import Path
from typing import Sequence

import numpy as np

from audiovae.reporting.records import OK, FileResult, write_csv

BAND_VARIANTS = ("base", "enhanced")


def band_table(results: Sequence[FileResult]) -> np.ndarray:
    """`[files, variants, bands]` retention (dB) of the files evaluated OK (NaN where a file has none)."""
    ok = [r for r in results if r.status == OK and r.bands]
    if not ok:
        return np.zeros((0, len(BAND_VARIANTS), 0))
    return np.array([[r.bands[v] for v in BAND_VARIANTS] for r in ok], dtype=float)


def _nanmean(values: np.ndarray, axis) -> np.ndarray:
    finite = np.isfinite(values)
    total = np.where(finite, values, 0.0).sum(axis=axis)
    count = finite.sum(axis=axis)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def summarize_bands(table, hz: np.ndarray, cutoff_hz: float, variants: Sequence[str] = BAND_VARIANTS) -> dict:
    """{hz, cutoff_hz, mean_db: {variant: [bands]} (mean over files), above_cutoff_db / below_cutoff_db:
    {variant: mean over the bands above / below the cutoff of mean_db}, n_files}."""
    table = np.asarray(table, dtype=float)
    mean = _nanmean(table, axis=0) if table.size else np.full((len(variants), len(hz)), np.nan)
    high = np.asarray(hz) >= cutoff_hz

    def side(mask):
        return {
            v: float(_nanmean(mean[i][mask], axis=0)) if mask.any() else float("nan") for i, v in enumerate(variants)
        }

    return {
        "hz": [float(f) for f in hz],
        "cutoff_hz": float(cutoff_hz),
        "n_files": int(table.shape[0]),
        "mean_db": {v: [float(x) for x in mean[i]] for i, v in enumerate(variants)},
        "above_cutoff_db": side(high),
        "below_cutoff_db": side(~high),
    }


def write_band_csv(path: Path, results: Sequence[FileResult], hz: np.ndarray) -> None:
    """band_retention.csv: one row per file and variant, one column per mel band named by its centre (Hz)."""
    columns = [f"{f:.0f}Hz" for f in hz]
    rows = [
        {"file": r.file, "variant": v, **dict(zip(columns, r.bands[v]))}
        for r in results
        if r.status == OK and r.bands
        for v in BAND_VARIANTS
    ]
    write_csv(path, rows)
