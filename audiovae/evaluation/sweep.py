"""Sweeps: every combination of enhancement settings evaluated on the same files, each file encoded once.

`sweep.enhancement.gain=[1.0,1.4]` (any enhancement key; several keys give their product). Outputs under the
sweep's `out_dir`: `settings/<setting>/` with a plain evaluation's outputs and a config.yaml that reproduces it
alone, and at the top `sweep.csv`, `sweep.md`, `sweep.png`, `best_enhancement.yaml` and `best_config.yaml`.
"""
import itertools
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
import wandb
from omegaconf import DictConfig, OmegaConf

from audiovae.config.compose import ConfigError
from audiovae.enhancers.registry import build_enhancer, resolve_enhancement
from audiovae.evaluation.plots import metric_panels, metric_title, save_figure
from audiovae.evaluation.report import fmt
from audiovae.evaluation.results import ResultStore, write_csv
from audiovae.evaluation.run import EVAL_IGNORE, EvalOutcome, build_setup, run_test, write_outputs
from audiovae.evaluation.wandb_log import log_evaluation
from audiovae.lightning.eval_module import EvalModule
from audiovae.metrics.collection import metric_info
from audiovae.runs import is_launcher_process, prepare_out_dir, resolve_out_dir, run_hash
from audiovae.tracking.wandb_logger import make_wandb_logger

SWEEPABLE = "enhancement."  # only the enhancer may vary: the encode and the base decode are shared


def _flatten(node: Any, prefix: str) -> dict[str, Any]:
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            out.update(_flatten(value, f"{prefix}{key}."))
        return out
    return {prefix[:-1]: node}


def sweep_settings(sweep: DictConfig) -> list[dict[str, Any]]:
    """`{enhancement: {gain: [1, 2], cutoff: [.3]}}` -> `[{enhancement.gain: 1, enhancement.cutoff: .3}, ...]`."""
    grid = _flatten(OmegaConf.to_container(sweep), "")
    for key, values in grid.items():
        if not key.startswith(SWEEPABLE):
            raise ConfigError(f"config key 'sweep.{key}': only enhancement.* can be swept (every setting shares "
                              f"the same model, front end and data)")
        if not isinstance(values, list) or not values:
            raise ConfigError(f"config key 'sweep.{key}': expected a non-empty list of values, got {values!r}")
    return [dict(zip(grid, combo)) for combo in itertools.product(*grid.values())]


def setting_name(setting: dict[str, Any]) -> str:
    """A folder name: `gain=1.4,cutoff=0.3` (keys without their `enhancement.` prefix)."""
    text = ",".join(f"{key[len(SWEEPABLE):]}={value}" for key, value in setting.items())
    return re.sub(r"[^A-Za-z0-9._=,+-]", "_", text)


def setting_config(cfg: DictConfig, setting: dict[str, Any], out_dir: Path, group: str) -> DictConfig:
    """The plain evaluation config of one setting (no sweep), writing into `out_dir`, W&B group `group`."""
    one = OmegaConf.create(OmegaConf.to_container(cfg))
    OmegaConf.set_struct(one, False)
    one.sweep = {}
    for key, value in setting.items():
        OmegaConf.update(one, key, value, merge=False)
    one.out_dir = str(out_dir)
    one.logger.group = cfg.logger.group or group
    one.logger.name = setting_name(setting)
    resolve_enhancement(one)
    return one


def improvement(comparison: dict, higher_is_better: bool) -> float:
    """The headline Δ signed so that positive is better."""
    delta = comparison["headline_delta"]
    if delta is None or not math.isfinite(delta):
        return float("nan")
    return delta if higher_is_better else -delta


def sweep_row(setting: dict, name: str, summary: dict) -> dict:
    row = {"setting": name, **setting}
    for metric, m in summary["metrics"].items():
        comp = m["comparison"]
        row.update({f"{metric}_base": comp["base_mean"], f"{metric}_enhanced": comp["enhanced_mean"],
                    f"{metric}_delta": comp["headline_delta"], f"{metric}_ci_low": comp["ci_low"],
                    f"{metric}_ci_high": comp["ci_high"], f"{metric}_win_rate": comp["win_rate"],
                    f"{metric}_wilcoxon_p": comp["wilcoxon_p"],
                    f"{metric}_improvement": improvement(comp, m["higher_is_better"])})
    return row


def select_best(rows: list[dict], select: DictConfig) -> tuple[dict | None, str]:
    """The row with the largest improvement in `select.metric` whose constraints hold; and why."""
    for metric in [select.metric, *select.min_improvement]:
        if rows and f"{metric}_improvement" not in rows[0]:
            raise ConfigError(f"config key 'select': metric '{metric}' is not in metrics.names")
    allowed = [r for r in rows if all(r[f"{m}_improvement"] >= bound for m, bound in select.min_improvement.items())]
    allowed = [r for r in allowed if math.isfinite(r[f"{select.metric}_improvement"])]
    constraints = ", ".join(f"{m} improvement ≥ {b}" for m, b in select.min_improvement.items()) or "none"
    if not allowed:
        return None, f"no setting satisfies the constraints ({constraints})"
    best = max(allowed, key=lambda r: r[f"{select.metric}_improvement"])
    return best, (f"largest {select.metric} improvement ({best[f'{select.metric}_improvement']:.3f}) subject to "
                  f"{constraints}")



def write_markdown(path: Path, rows: list[dict], metrics: list[str], keys: list[str], best: dict | None,
                   reason: str) -> None:
    lines = ["# Sweep", "", f"Settings of {', '.join(keys)}; Δ is enhanced − base (dB metrics) or the percent "
             "change of the mean, with its 95 % bootstrap CI.", "",
             "| setting | " + " | ".join(f"{m} Δ [CI]" for m in metrics) + " |", "|---" * (len(metrics) + 1) + "|"]
    for r in rows:
        mark = " **(best)**" if best is not None and r["setting"] == best["setting"] else ""
        cells = [f"{fmt(r[f'{m}_delta'])} [{fmt(r[f'{m}_ci_low'])}, {fmt(r[f'{m}_ci_high'])}]" for m in metrics]
        lines.append(f"| `{r['setting']}`{mark} | " + " | ".join(cells) + " |")
    lines += ["", f"Best: `{best['setting']}`: {reason}; its configs: best_enhancement.yaml, best_config.yaml."
              if best is not None else f"Best: none, {reason}.", "", "![sweep](sweep.png)", ""]
    path.write_text("\n".join(lines))


def plot_sweep(path: Path, rows: list[dict], metrics: list[str], keys: list[str]) -> Path:
    """Each metric's Δ (enhanced vs base) against the swept value (or the setting, for several keys), with CIs."""
    single = len(keys) == 1 and all(isinstance(r[keys[0]], (int, float)) for r in rows)
    x = [float(r[keys[0]]) for r in rows] if single else list(range(len(rows)))
    fig, panels = metric_panels(metrics)
    for ax, metric in zip(panels, metrics):
        delta = np.array([r[f"{metric}_delta"] for r in rows], dtype=float)
        low = np.array([r[f"{metric}_ci_low"] for r in rows], dtype=float)
        high = np.array([r[f"{metric}_ci_high"] for r in rows], dtype=float)
        ax.errorbar(x, delta, yerr=[np.nan_to_num(delta - low), np.nan_to_num(high - delta)], marker="o", capsize=3)
        ax.axhline(0, color="0.5", linewidth=0.8)
        unit = " (%)" if metric_info(metric).delta_kind == "percent" else " (dB)"
        ax.set(title=metric_title(metric, "Δ ", unit), xlabel=keys[0] if single else "setting")
        if not single:
            ax.set_xticks(x, [r["setting"] for r in rows], rotation=45, ha="right", fontsize=6)
    return save_figure(fig, path)


def run_sweep(cfg: DictConfig) -> EvalOutcome:
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    torch.use_deterministic_algorithms(True, warn_only=True)
    settings = sweep_settings(cfg.sweep)
    hash_ = run_hash(cfg, EVAL_IGNORE)
    out_dir = resolve_out_dir(cfg.out_dir, "sweep", hash_)
    names = [setting_name(s) for s in settings]
    if len(set(names)) < len(names):
        raise ConfigError("config key 'sweep': two settings have the same name; give distinct values")
    configs = {name: setting_config(cfg, s, out_dir / "settings" / name, f"sweep-{hash_}")
               for name, s in zip(names, settings)}
    hashes = {name: run_hash(c, EVAL_IGNORE) for name, c in configs.items()}
    setup = build_setup(cfg)
    if is_launcher_process():
        prepare_out_dir(cfg, out_dir, hash_)
        for name, c in configs.items():
            prepare_out_dir(c, Path(c.out_dir), hashes[name])

    done = {name: ResultStore(Path(c.out_dir) / "partial").load_all() for name, c in configs.items()}
    todo = [i for i, key in enumerate(setup.keys) if any(key not in done[name] for name in names)]
    enhancers = {name: build_enhancer(c.enhancement) for name, c in configs.items()}
    module = EvalModule(setup.pipeline, setup.metrics, setup.segmenting,
                        {name: Path(c.out_dir) for name, c in configs.items()}, cfg.outputs.save_audio,
                        cfg.outputs.save_plots, cfg.outputs.max_plots, cfg.seed, enhancers=enhancers,
                        done={name: set(d) for name, d in done.items()})
    trainer, wall = run_test(cfg, setup, module, todo, logger=None)
    if not trainer.is_global_zero:
        return EvalOutcome.of_worker_rank(out_dir)

    rows, counts = [], None
    for name, setting in zip(names, settings):
        c = configs[name]
        summary, file_rows = write_outputs(c, Path(c.out_dir), hashes[name], setup.keys, done[name],
                                           module.results.get(name, []), wall, trainer)
        counts = summary["counts"]
        rows.append(sweep_row(setting, name, summary))
        logger = make_wandb_logger(c.logger, c, Path(c.out_dir), job_type="sweep", config_hash=hashes[name])
        if logger is not None:
            logger.experiment.config.update({"sweep_setting": setting, "sweep_hash": hash_})
            log_evaluation(logger.experiment, summary, file_rows, Path(c.out_dir), cfg.frontend.sample_rate,
                           cfg.logger.max_table_files, cfg.logger.log_audio)
            logger.experiment.finish()

    keys = list(settings[0])
    metrics = list(cfg.metrics.names)
    write_csv(out_dir / "sweep.csv", rows)
    best, reason = select_best(rows, cfg.select)
    if best is not None:
        chosen = configs[best["setting"]]
        (out_dir / "best_enhancement.yaml").write_text(OmegaConf.to_yaml(chosen.enhancement))
        reproducible = OmegaConf.create(OmegaConf.to_container(chosen))
        reproducible.out_dir, reproducible.logger.group, reproducible.logger.name = None, None, None
        OmegaConf.save(reproducible, out_dir / "best_config.yaml", resolve=True)
    plot_sweep(out_dir / "sweep.png", rows, metrics, keys)
    write_markdown(out_dir / "sweep.md", rows, metrics, keys, best, reason)
    summary_logger = make_wandb_logger(cfg.logger, cfg, out_dir, job_type="sweep_summary", config_hash=hash_)
    if summary_logger is not None:
        run = summary_logger.experiment
        columns = list(rows[0])
        run.log({"sweep/settings": wandb.Table(columns=columns, data=[[r[c] for c in columns] for r in rows]),
                 "sweep/plot": wandb.Image(str(out_dir / "sweep.png"))})
        run.summary["sweep/best_setting"] = best["setting"] if best else None
        run.finish()
    print(f"sweep of {len(settings)} settings: {out_dir / 'sweep.md'}; best: "
          f"{best['setting'] if best else 'none'} ({reason})")
    return EvalOutcome(out_dir, counts["files"], counts["ok"], counts["failed"], report_name="sweep.md")
