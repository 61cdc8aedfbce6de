"""The outputs of one evaluated setting: results.csv, summary.json, plots, report.md, report.html, the blind
listening pages and its W&B run."""

from dataclasses import dataclass, field
from typing import Optional, Sequence

import numpy as np

from audiovae.audio.frontend import mel_band_centres
from audiovae.enhancers.serialization import read_provenance
from audiovae.listening.blind import write_listening_pages
from audiovae.metrics.functional.frames import hf_cutoff
from audiovae.metrics.registry import file_metric_names
from audiovae.metrics.sets import SET_METRICS, set_metric_names
from audiovae.models.variants import scored
from audiovae.reporting.bands import band_table, summarize_bands, write_band_csv
from audiovae.reporting.records import OK, VARIANTS, FileResult, column_units, decode_embedding, to_row, write_csv
from audiovae.reporting.report import write_report
from audiovae.reporting.report_html import write_report_html
from audiovae.reporting.summary import (
    summarize_lags,
    write_json,
)
from audiovae.reporting.tracking import log_evaluation, wandb_run
from audiovae.runs.settings import Setting
from audiovae.runs.summary import plot_summary, summary_core, swept_keys


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
    variants = scored(info.model["variants"])  # the reference too, by its reference-free metrics
    summary = summary_core(setting, results, new, info.wall_s, info.device, info.world_size, info.model, variants)
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


def write_setting_outputs(
    setting: Setting, results: Sequence[FileResult], new: Sequence[FileResult], info: RunInfo, job_type: str
) -> dict:
    """results.csv, summary.json, the summary plot, report.md and the W&B run of one setting; returns the summary."""
    cfg, out_dir = setting.config, setting.out_dir
    names, variants = file_metric_names(cfg.metrics.names), scored(info.model["variants"])
    summary = build_summary(setting, results, new, info)
    if "sets" in summary:
        write_embeddings(out_dir / "embeddings.npz", results, info.model["variants"])
    rows = [to_row(r, names, variants) for r in results]
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
                variants,
            )
    return summary
