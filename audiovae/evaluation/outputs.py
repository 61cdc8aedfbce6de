"""The outputs of one evaluated setting: results.csv, summary.json, plots, report.md, report.html, the blind
listening pages and its W&B run."""

from dataclasses import dataclass, field
from typing import Optional, Sequence

import numpy as np
from omegaconf import OmegaConf

from audiovae.audio.frontend import mel_band_centres
from audiovae.enhancers.serialization import read_provenance
from audiovae.evaluation.settings import Setting
from audiovae.listening.blind import write_listening_pages
from audiovae.metrics.functional.frames import hf_cutoff
from audiovae.metrics.registry import file_metric_names
from audiovae.metrics.sets import SET_METRICS, set_metric_names
from audiovae.reporting.bands import band_table, summarize_bands, write_band_csv
from audiovae.reporting.records import OK, VARIANTS, FileResult, column_units, decode_embedding, to_row, write_csv
from audiovae.reporting.report import write_report
from audiovae.reporting.report_html import write_report_html
from audiovae.reporting.summary import (
    package_versions,
    summarize_lags,
    summarize_metrics,
    summarize_timings,
    wall_accounting,
    write_json,
)
from audiovae.reporting.tracking import log_evaluation, wandb_run


@dataclass
class RunInfo:
    """What the Trainer ran on, and how long the new files took."""

    device: str
    world_size: int
    wall_s: float
    skipped_inputs: list = field(default_factory=list)  # (path, reason) of entries discovery skipped
    align_samples: int = 0  # the shift applied to the waveform metrics (measured with metrics.align=vocoder_lag)
    measured_lag: Optional[dict] = None  # metrics.align=vocoder_lag: calibration.MeasuredLag as a dict
    model: dict = field(default_factory=lambda: {"variants": list(VARIANTS)})  # the model's `describe()`
    before_pass_s: dict = field(default_factory=dict)  # listing_s, fingerprint_s: before the pass over the files


def build_summary(setting: Setting, results: Sequence[FileResult], new: Sequence[FileResult], info: RunInfo) -> dict:
    """summary.json's content: run info, counts, per-metric statistics and mean timings. `results` are all of the
    setting's files (resumed and `new`); throughput counts the new ones."""
    cfg = setting.config
    summary = summary_core(setting, results, new, info.wall_s, info.device, info.world_size, info.model)
    summary["skipped_inputs"] = [{"path": p, "reason": why} for p, why in info.skipped_inputs]
    if summary["time_accounting"]:
        summary["time_accounting"].update(info.before_pass_s)
    summary["alignment"] = {
        **summarize_lags(results, cfg.metrics.max_lag_samples, info.align_samples, cfg.frontend.sample_rate),
        "align": cfg.metrics.align,
        "measured_before_run": info.measured_lag,
    }
    summary["band_retention"] = summarize_bands(
        band_table(results), band_centres(cfg), hf_cutoff(cfg.frontend.sample_rate, cfg.metrics.hf_cutoff_hz)
    )
    names = set_metric_names(cfg.metrics.names)
    if names:
        _, sets = embedding_sets(results, info.model["variants"])
        summary["sets"] = {
            name: {
                **SET_METRICS[name].summarize(sets, cfg.metrics.fad_bootstrap_samples, cfg.seed, cfg.metrics.alpha),
                "embedding": f"{cfg.embedding.name} ({cfg.embedding.path})",
            }
            for name in names
        }
    return summary


def summary_core(
    setting: Setting,
    results: Sequence[FileResult],
    new: Sequence[FileResult],
    wall_s: float,
    device: str,
    world_size: int,
    interface: dict,
) -> dict:
    """What every job's summary.json holds (evaluation's and generation's): run info, counts, the statistics
    settings, per-metric statistics over the model's variants (`interface["variants"]`), mean timings and the wall
    time's accounting. `results` are all of the setting's rows (resumed and `new`); throughput counts the new
    ones."""
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
            interface["variants"],
        ),
        "timings": summarize_timings(results),
        "time_accounting": wall_accounting(new, wall_s, world_size),
    }
    summary["counts"]["nan_values"] = sum(
        v["excluded"] for m in summary["metrics"].values() for v in m["variants"].values()
    )
    return summary


def embedding_sets(
    results: Sequence[FileResult], variants: Sequence[str] = VARIANTS
) -> tuple[list[str], dict[str, np.ndarray]]:
    """(files, name -> `[n, D]` embeddings) of the reference and each of the model's `variants`, over the
    evaluated files that carry all of them."""
    names = ("reference", *variants)
    have = [r for r in results if r.status == OK and all(v in r.embeddings for v in names)]
    if not have:
        return [], {v: np.zeros((0, 0)) for v in names}
    return [r.file for r in have], {v: np.stack([decode_embedding(r.embeddings[v]) for r in have]) for v in names}


def write_embeddings(path, results: Sequence[FileResult], variants: Sequence[str] = VARIANTS) -> None:
    """embeddings.npz: `files` and one `[n, D]` float32 array per variant (the sets FAD was computed on)."""
    files, sets = embedding_sets(results, variants)
    if files:
        np.savez(path, files=np.array(files), **{v: a.astype(np.float32) for v, a in sets.items()})


def band_centres(cfg) -> np.ndarray:
    """The centre frequencies (Hz) of the front end's mel bands."""
    return mel_band_centres(cfg.frontend.n_mels, cfg.frontend.fmin, cfg.frontend.fmax)


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


def write_setting_outputs(
    setting: Setting, results: Sequence[FileResult], new: Sequence[FileResult], info: RunInfo, job_type: str
) -> dict:
    """results.csv, summary.json, the summary plot, report.md and the W&B run of one setting; returns the summary."""
    cfg, out_dir = setting.config, setting.out_dir
    names = file_metric_names(cfg.metrics.names)
    summary = build_summary(setting, results, new, info)
    if "sets" in summary:
        write_embeddings(out_dir / "embeddings.npz", results, info.model["variants"])
    rows = [to_row(r, names, info.model["variants"]) for r in results]
    write_csv(out_dir / "results.csv", rows)
    write_csv(out_dir / "columns.csv", column_units(max(rows, key=len)) if rows else [])
    write_band_csv(out_dir / "band_retention.csv", results, band_centres(cfg))
    write_json(out_dir / "summary.json", summary)
    plots_dir = out_dir / "plots" if cfg.outputs.save_plots else None
    if plots_dir is not None and summary["counts"]["ok"]:
        from audiovae.reporting.plots import plot_band_retention

        plot_summary(plots_dir / "summary.png", results, names)
        plot_band_retention(plots_dir / "band_retention.png", band_table(results), summary["band_retention"])
    write_report(out_dir / "report.md", summary, results, plots_dir)
    if cfg.outputs.save_audio:
        write_listening_pages(out_dir, results, cfg.seed, cfg.outputs.listening_files)
    write_report_html(out_dir / "report.html", summary, results)
    with wandb_run(cfg.logger, cfg, out_dir, job_type, setting.run_hash) as run:
        if run is not None:
            if cfg.enhancement.get("checkpoint"):  # lineage: the training run and model artifact it came from
                run.config.update({"enhancer_source": read_provenance(cfg.enhancement.checkpoint)})
            if setting.values:  # the swept keys also at top level, for parallel-coordinates views
                run.config.update({"sweep_setting": setting.values, **swept_keys(setting.values)})
            log_evaluation(
                run,
                summary,
                results,
                names,
                out_dir,
                cfg.frontend.sample_rate,
                cfg.logger.max_table_files,
                cfg.logger.log_audio,
                info.model["variants"],
            )
    return summary
