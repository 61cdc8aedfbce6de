"""A sweep's own outputs, beside each setting's: `sweep.csv`, `sweep.md`, `sweep.html`, `sweep.png`,
`best_enhancement.yaml`, `best_config.yaml` and the `sweep_summary` W&B run. The settings themselves are evaluated
like any evaluation (`audiovae.evaluation.job`)."""

from html import escape
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
from omegaconf import DictConfig, OmegaConf

from audiovae.metrics.registry import file_metric_names
from audiovae.reporting.format import ComparisonLine, comparison_rows, comparison_table, delta_unit, metric_label
from audiovae.reporting.html import figure_html, link, relative_path, table_html, write_page
from audiovae.reporting.records import write_csv
from audiovae.reporting.tracking import wandb_run
from audiovae.runs.selection import metric_improvement, select_best
from audiovae.runs.settings import Setting, sweep_group

COMPARISON_COLUMNS = {
    "base_mean": "base",
    "enhanced_mean": "enhanced",
    "headline_delta": "delta",
    "ci_low": "ci_low",
    "ci_high": "ci_high",
    "wins": "wins",
    "losses": "losses",
    "ties": "ties",
    "win_rate": "win_rate",
    "median_delta": "median_delta",
    "wilcoxon_p": "wilcoxon_p",
    "p_adjusted": "p_adjusted",
}


def sweep_rows(settings: Sequence[Setting], summaries: dict[str, dict]) -> list[dict]:
    """sweep.csv: per setting its swept values, and per metric `<metric>_<base|enhanced|delta|ci_low|ci_high|wins|
    losses|ties|win_rate|median_delta|wilcoxon_p|p_adjusted|improvement|verdict>` (of the scores: a target metric's
    base/enhanced are its mean distances to the target, in dB)."""
    rows = []
    for s in settings:
        row = {"setting": s.name, **s.values}
        for metric, m in summaries[s.name]["metrics"].items():
            row.update({f"{metric}_{column}": m["comparison"][key] for key, column in COMPARISON_COLUMNS.items()})
            row[f"{metric}_improvement"] = metric_improvement(summaries[s.name], metric)
            row[f"{metric}_verdict"] = m["verdict"]["outcome"]
            row[f"{metric}_unit"] = m["score_unit"]  # of <metric>_base/_enhanced (a target metric: dB off it)
            row[f"{metric}_delta_unit"] = m["delta_unit"]  # of <metric>_delta, _ci_*, _median_delta, _improvement
        rows.append(row)
    return rows


def comparison_lines(
    settings: Sequence[Setting],
    summaries: dict[str, dict],
    best: Optional[str],
    marked=lambda name, best: f"{name} (best)" if best else name,
) -> list[ComparisonLine]:
    """Every setting's comparison with base, per metric; `marked` writes a setting's label."""
    return [
        ComparisonLine(
            metric,
            m["comparison"],
            labels={"setting": marked(s.name, s.name == best)},
            raw=(m["variants"]["base"]["mean"], m["variants"]["enhanced"]["mean"]) if "scores" in m else None,
        )
        for s in settings
        for metric, m in summaries[s.name]["metrics"].items()
    ]


def best_line(best: Optional[str], reason: str, name=lambda setting: setting) -> str:
    """The sweep's verdict line: the best setting and why, or none and why."""
    return (
        f"Best: {name(best)}: {reason}; its configs: best_enhancement.yaml, best_config.yaml."
        if best is not None
        else f"Best: none — {reason}."
    )


SWEEP_DELTA_NOTE = (
    "Δ is enhanced − base for dB metrics, the percent change of the mean for ratio-valued ones, and "
    "the change in distance to the target (dB, negative is closer) for target metrics (→)."
)


def write_markdown(
    path: Path, settings: Sequence[Setting], summaries: dict[str, dict], best: Optional[str], reason: str
) -> None:
    """sweep.md: per setting and metric the means, improvement, win rate, CI and p, and the best setting."""
    lines = [
        f"# Sweep of {', '.join(settings[0].values)}",
        "",
        best_line(best, reason, lambda setting: f"`{setting}`"),
        "",
    ]
    lines += comparison_table(
        comparison_lines(settings, summaries, best, lambda name, b: f"`{name}`" + (" **(best)**" if b else ""))
    )
    lines += ["", SWEEP_DELTA_NOTE, "", "![sweep](sweep.png)", ""]
    path.write_text("\n".join(lines))


def write_html(
    path: Path, settings: Sequence[Setting], summaries: dict[str, dict], best: Optional[str], reason: str
) -> None:
    """sweep.html: the same table and plot, and a link to each setting's report.html."""
    reports = "".join(
        f'<li><a href="{link(relative_path(s.out_dir / "report.html", path.parent))}">'
        f"{escape(s.name)}</a>{' (best)' if s.name == best else ''}</li>"
        for s in settings
        if (s.out_dir / "report.html").exists()
    )
    body = (
        f"<header><h1>Sweep of {escape(', '.join(settings[0].values))}</h1><p>{escape(best_line(best, reason))}"
        f'</p></header><div class="wide">{table_html(*comparison_rows(comparison_lines(settings, summaries, best)))}'
        f'</div><p class="note">{escape(SWEEP_DELTA_NOTE)}</p>{figure_html("sweep.png", "Δ per setting", path.parent)}'
        f"<h2>Each setting's report</h2><ul>{reports}</ul>"
    )
    write_page(path, "audiovae sweep", body, scripts=())


def plot_sweep(path: Path, rows: list[dict], metrics: Sequence[str], keys: Sequence[str]) -> Path:
    """Each metric's Δ (enhanced vs base) against the swept value (or the setting, for several keys), with CIs."""
    from audiovae.reporting.plots import metric_panels, save_figure  # matplotlib: only when a sweep plots

    single = len(keys) == 1 and all(isinstance(r[keys[0]], (int, float)) for r in rows)
    x = [float(r[keys[0]]) for r in rows] if single else list(range(len(rows)))
    fig, panels = metric_panels(metrics)
    for ax, metric in zip(panels, metrics):
        delta = np.array([r[f"{metric}_delta"] for r in rows], dtype=float)
        low = np.array([r[f"{metric}_ci_low"] for r in rows], dtype=float)
        high = np.array([r[f"{metric}_ci_high"] for r in rows], dtype=float)
        ax.errorbar(x, delta, yerr=[np.nan_to_num(delta - low), np.nan_to_num(high - delta)], marker="o", capsize=3)
        ax.axhline(0, color="0.5", linewidth=0.8)
        unit = delta_unit(metric)
        ax.set(
            title=f"Δ {metric_label(metric)}" + (f" ({unit})" if unit else ""), xlabel=keys[0] if single else "setting"
        )
        if not single:
            ax.set_xticks(x, [r["setting"] for r in rows], rotation=45, ha="right", fontsize=6)
    return save_figure(fig, path)


def write_best(out_dir: Path, best: Setting) -> None:
    """best_enhancement.yaml (for configs/enhancement/) and best_config.yaml (for `evaluate.py --config`)."""
    (out_dir / "best_enhancement.yaml").write_text(OmegaConf.to_yaml(best.config.enhancement))
    reproducible = OmegaConf.create(OmegaConf.to_container(best.config))
    reproducible.out_dir, reproducible.logger.group, reproducible.logger.name = None, None, None
    OmegaConf.save(reproducible, out_dir / "best_config.yaml", resolve=True)


def summary_logger(cfg: DictConfig, hash_: str) -> DictConfig:
    """The summary run's logger settings: in the sweep's W&B group, named after the sweep folder's group."""
    logger = OmegaConf.create(OmegaConf.to_container(cfg.logger))
    logger.group = cfg.logger.group or sweep_group(hash_)
    logger.name = cfg.logger.name or f"{sweep_group(hash_)}-summary"
    return logger


def summary_config(cfg: DictConfig, settings: Sequence[Setting]) -> DictConfig:
    """The summary run's config: what every setting shares (model, front end, data or a generation's prompts and
    diffusion, metrics, selection) and the swept keys with their values; no one setting's enhancement (it would be a
    stray point in parallel-coordinate views)."""
    shared = {
        key: OmegaConf.to_container(cfg[key], resolve=True) if OmegaConf.is_config(cfg[key]) else cfg[key]
        for key in ("model", "frontend", "data", "metrics", "select", "generation", "prompts", "seeds")
        if key in cfg
    }
    shared["seed"] = cfg.seed
    swept = {key: [s.values[key] for s in settings] for key in settings[0].values}
    return OmegaConf.create(
        {**shared, "sweep": swept, "enhancement_name": cfg.enhancement.name, "settings": [s.name for s in settings]}
    )


def write_sweep_outputs(
    cfg: DictConfig, out_dir: Path, hash_: str, settings: Sequence[Setting], summaries: dict[str, dict]
) -> tuple[Optional[str], str]:
    """Every sweep-level output; returns the best setting's name (None: none qualifies) and why."""
    rows = sweep_rows(settings, summaries)
    write_csv(out_dir / "sweep.csv", rows)
    best, reason = select_best(summaries, cfg.select, cfg.metrics.alpha)
    if best is not None:
        write_best(out_dir, next(s for s in settings if s.name == best))
    plot_sweep(out_dir / "sweep.png", rows, file_metric_names(cfg.metrics.names), list(settings[0].values))
    write_markdown(out_dir / "sweep.md", settings, summaries, best, reason)
    write_html(out_dir / "sweep.html", settings, summaries, best, reason)
    with wandb_run(summary_logger(cfg, hash_), summary_config(cfg, settings), out_dir, "sweep_summary", hash_) as run:
        if run is not None:
            import wandb

            columns = list(rows[0])
            run.log(
                {
                    "sweep/settings": wandb.Table(columns=columns, data=[[r[c] for c in columns] for r in rows]),
                    "sweep/plot": wandb.Image(str(out_dir / "sweep.png")),
                }
            )
            run.summary["sweep/best_setting"] = best
    return best, reason
