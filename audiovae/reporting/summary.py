"""Aggregates of per-file results: per-variant statistics and the paired base-vs-enhanced comparison, kept
structured (`{metric: {variants: {variant: stats}, comparison: ...}}`) until a writer flattens them."""

import json
import math
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Sequence

import numpy as np

from audiovae.metrics.registry import metric_info
from audiovae.metrics.scoring import scoring
from audiovae.metrics.stats import adjust_p, compare_paired
from audiovae.reporting.records import OK, VARIANTS, FileResult, variants_of
from audiovae.reporting.verdict import verdict

PACKAGES = ("audiovae", "torch", "pytorch-lightning", "diffusers", "transformers", "torchmetrics", "wandb", "librosa")


def package_versions() -> dict:
    """Versions of the packages that decide numbers (torch, diffusers, transformers, …), for summary.json."""
    out = {}
    for name in PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def _describe(values: np.ndarray) -> dict:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return {"mean": float("nan"), "std": float("nan"), "median": float("nan"), "n": 0, "excluded": int(values.size)}
    return {
        "mean": float(finite.mean()),
        "std": float(finite.std(ddof=1)) if finite.size > 1 else 0.0,
        "median": float(np.median(finite)),
        "n": int(finite.size),
        "excluded": int(values.size - finite.size),
    }


def summarize_metrics(
    results: Sequence[FileResult],
    metric_names: Sequence[str],
    n_bootstrap: int,
    seed: int,
    tolerance: float = 0.0,
    alpha: float = 0.05,
    p_adjust: str = "holm",
    variants: Sequence[str] = VARIANTS,
) -> dict:
    """metric -> {direction, target, unit, score_unit, delta_kind, variants: {variant: stats of the raw values},
    scores: {variant: stats of the scores} (target metrics), comparison: PairedComparison of the scores with its
    p corrected across the metrics, verdict}. Scores are what "better" compares (`metrics.scoring`)."""
    ok = [r for r in results if r.status == OK]
    out = {}
    for name in metric_names:
        scorer = scoring(name)
        raw = {v: np.array([r.value(v, name) for r in ok], dtype=float) for v in variants_of(name, variants)}
        scores = {v: scorer.score(values) for v, values in raw.items()}
        comparison = compare_paired(
            scores["base"],
            scores["enhanced"],
            scorer.higher_is_better,
            scorer.delta_kind,
            n_bootstrap=n_bootstrap,
            seed=seed,
            tolerance=tolerance,
        )
        out[name] = {
            "direction": scorer.direction,
            "target": scorer.target,
            "higher_is_better": scorer.higher_is_better,
            "unit": scorer.value_unit,
            "score_unit": scorer.unit,
            "delta_kind": scorer.delta_kind,
            "delta_unit": scorer.delta_unit,
            "domain": metric_info(name).domain,
            "variants": {v: _describe(values) for v, values in raw.items()},
            "comparison": comparison.as_dict(),
        }
        if scorer.is_target:
            out[name]["scores"] = {v: _describe(values) for v, values in scores.items()}
    adjusted = adjust_p([m["comparison"]["wilcoxon_p"] for m in out.values()], p_adjust)
    for m, p in zip(out.values(), adjusted):
        m["comparison"]["p_adjusted"] = float(p)
        m["verdict"] = verdict(m["comparison"], m["higher_is_better"], alpha)
    return out


def summarize_timings(results: Sequence[FileResult]) -> dict:
    """Mean seconds per file of each stage, and the enhancer's share of the enhanced decode (`wall_accounting`:
    how much of the wall time the stages cover)."""
    ok = [r for r in results if r.status == OK]
    stages = list(dict.fromkeys(stage for r in ok for stage in r.seconds))
    means = {stage: float(np.mean([r.seconds.get(stage, np.nan) for r in ok])) for stage in stages}
    if means.get("enhanced_decode"):
        means["enhancer_share_of_decode"] = means.get("enhancer", 0.0) / means["enhanced_decode"]
    return means


DERIVED_STAGES = ("enhancer", "enhancer_share_of_decode")  # within another stage's time (the enhanced decode)


def wall_accounting(new: Sequence[FileResult], wall_s: float, world_size: int = 1) -> dict:
    """Where this run's wall time went: the per-file stage seconds of the files it evaluated, summed, against the
    wall seconds of the pass over them times the processes that shared it; the rest (opening and normalising files,
    fingerprints, rows, waiting) is `outside_stages_share` = 1 − Σ stages / (wall · processes). A sweep's setting
    counts the other settings' own decodes as outside. Empty when nothing new ran."""
    ok = [r for r in new if r.status == OK]
    if not ok or not wall_s or wall_s <= 0:
        return {}
    stages = sum(
        v
        for r in ok
        for stage, v in r.seconds.items()
        if stage not in DERIVED_STAGES and math.isfinite(v) and not (stage == "vocoder" and "vocoder_all" in r.seconds)
    )  # one pass's: vocoder_all has all
    budget = wall_s * max(world_size, 1)
    return {
        "files": len(ok),
        "wall_s": wall_s,
        "processes": max(world_size, 1),
        "stage_seconds": stages,
        "outside_stages_s": max(budget - stages, 0.0),
        "outside_stages_share": max(1 - stages / budget, 0.0),
    }


def accounting_line(accounting: dict, noun: str = "files") -> str:
    """The report's sentence on where the wall time went ("" when nothing new ran)."""
    if not accounting:
        return ""
    a = accounting
    processes = f" × {a['processes']} processes" if a["processes"] > 1 else ""
    before = (
        f"; before it, listing the entries took {a['listing_s']:.2f} s and fingerprinting their content "
        f"{a['fingerprint_s']:.2f} s"
        if "listing_s" in a
        else ""
    )
    return (
        f"wall time of the {a['files']} {noun} evaluated in this run: {a['wall_s']:.2f} s{processes}; the "
        f"measured stages above account for {a['stage_seconds']:.2f} s, so {100 * a['outside_stages_share']:.1f} % "
        f"went outside them (rows, progress, batching, waiting for data){before}"
    )


def json_safe(obj):
    """NaN and ±inf become null so the file is strict JSON."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    return obj


def summarize_lags(results: Sequence[FileResult], max_lag: int, align: int, sample_rate: int) -> dict:
    """The vocoder alignment check over the evaluated files: the ceiling's lag per file (samples, positive: late)
    as median, range and how many files are off, the median normalised correlation at the lag (how clear the
    peaks are), with the search radius and the shift applied to the metrics."""
    found = [r for r in results if r.status == OK and np.isfinite(r.vocoder_lag)]
    lags = np.array([r.vocoder_lag for r in found], dtype=float)
    out = {
        "max_lag_samples": max_lag,
        "align_samples": align,
        "n_files": int(len(lags)),
        "median_corr": float(np.nanmedian([r.vocoder_lag_corr for r in found])) if found else float("nan"),
    }
    if len(lags):
        median = float(np.median(lags))
        out.update(
            {
                "median_lag_samples": median,
                "median_lag_ms": 1000 * median / sample_rate,
                "min_lag_samples": float(lags.min()),
                "max_lag_samples_found": float(lags.max()),
                "files_off": int(np.count_nonzero(lags != 0)),
                "at_search_edge": int(np.count_nonzero(np.abs(lags) >= max_lag)),
            }
        )
    return out


def write_json(path: Path, obj: dict) -> None:
    """Write `obj` as strict JSON (NaN and infinities as null), indented."""
    path.write_text(json.dumps(json_safe(obj), indent=2, allow_nan=False) + "\n")
