"""What every job's summary.json holds (evaluation's and generation's) and the per-file paired plot beside it."""

from typing import Optional, Sequence

import numpy as np
from omegaconf import OmegaConf

from audiovae.metrics.registry import file_metric_names
from audiovae.reporting.records import OK, FileResult
from audiovae.reporting.summary import package_versions, summarize_metrics, summarize_timings, wall_accounting
from audiovae.runs.settings import Setting


def summary_core(
    setting: Setting,
    results: Sequence[FileResult],
    new: Sequence[FileResult],
    wall_s: float,
    device: str,
    world_size: int,
    interface: dict,
    scored_variants: Optional[Sequence[str]] = None,
) -> dict:
    """What every job's summary.json holds (evaluation's and generation's): run info, counts, the statistics
    settings, per-metric statistics over `scored_variants` (default: the model's, `interface["variants"]`; an
    evaluation's add the reference), mean timings and the wall time's accounting. `results` are all of the
    setting's rows (resumed and `new`); throughput counts the new ones."""
    cfg = setting.config
    ok = [r for r in results if r.status == OK]
    new_audio_s = sum(r.evaluated_s for r in new if r.status == OK)
    summary = {
        "run": {
            "out_dir": str(setting.out_dir),
            "config_hash": setting.run_hash,
            "model": cfg.model.name,
            "model_interface": interface,
            "enhancement": OmegaConf.to_container(cfg.enhancement),
            "sample_rate": cfg.frontend.sample_rate,
            "device": device,
            "world_size": world_size,
            "versions": package_versions(),
            "audio_seconds": sum(r.evaluated_s for r in ok),
            "throughput_audio_s_per_s": new_audio_s / wall_s if new_audio_s and wall_s else None,
            "resumed_files": len(results) - len(new),
            "config": OmegaConf.to_container(cfg, resolve=True),
        },
        "counts": {
            "files": len(results),
            "ok": len(ok),
            "failed": len(results) - len(ok),
            "from_cache": sum(r.from_cache for r in ok),
        },
        "statistics": {
            "alpha": cfg.metrics.alpha,
            "p_adjust": cfg.metrics.p_adjust,
            "tie_tolerance": cfg.metrics.tie_tolerance,
            "bootstrap_samples": cfg.metrics.bootstrap_samples,
        },
        "metrics": summarize_metrics(
            results,
            file_metric_names(cfg.metrics.names),
            cfg.metrics.bootstrap_samples,
            cfg.seed,
            cfg.metrics.tie_tolerance,
            cfg.metrics.alpha,
            cfg.metrics.p_adjust,
            interface["variants"] if scored_variants is None else scored_variants,
        ),
        "timings": summarize_timings(results),
        "time_accounting": wall_accounting(new, wall_s, world_size),
    }
    summary["counts"]["nan_values"] = sum(
        v["excluded"] for m in summary["metrics"].values() for v in m["variants"].values()
    )
    return summary


def swept_keys(values: dict) -> dict:
    """`{enhancement.gain: 1.4}` -> `{gain: 1.4}`: a sweep setting's values under short top-level config keys."""
    return {key.split(".", 1)[1] if key.startswith("enhancement.") else key: value for key, value in values.items()}


def plot_summary(path, results: Sequence[FileResult], metric_names: Sequence[str]):
    """Each metric's per-file base -> enhanced values, means as thick markers."""
    from audiovae.reporting.plots import paired_plot  # matplotlib: only for a run that draws plots

    ok = [r for r in results if r.status == OK]
    values = {
        n: np.array([[r.value("base", n), r.value("enhanced", n)] for r in ok], dtype=float) for n in metric_names
    }
    return paired_plot(path, ["base", "enhanced"], values)
