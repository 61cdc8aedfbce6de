"""Compare evaluation runs from their local outputs alone (offline machines included).

    audiovae-compare RUN_A RUN_B [RUN_C ...] [--variant enhanced] [--out DIR] [--force] [--wandb]
    (or python -m audiovae.compare ...)

Each RUN is an evaluation `out_dir` (results.csv + config.yaml). Files are aligned by their key; every run after
the first is compared with the first, per metric, over the files both evaluated: means, Δ (headline: absolute
for dB metrics, percent otherwise), win rate of the later run, seeded bootstrap 95 % CI of Δ and Wilcoxon p.
Runs of different models (any family) compare on the same files; runs whose references or metric definitions
differ (front end: rate, normalisation, mel bands; cutoff, STFT settings; data rules) are refused unless `--force`.
Runs that measured their waveform metrics at one `metrics.common_rate` share a reference whatever their models'
rates: their front ends may differ (only the normalisation must match) and only the waveform metrics compare;
so is a run of audiovae 0.1, whose hf_retention and spectral_correlation read one whole-clip FFT.
"""

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from omegaconf import OmegaConf

from audiovae.config.compose import load_run_config
from audiovae.config.later_keys import LATER_KEYS
from audiovae.errors import CompareError, exit_status
from audiovae.metrics.base import WAVEFORM
from audiovae.metrics.registry import METRICS, describe_saved_metric, metric_definitions, metric_info
from audiovae.metrics.scoring import scoring
from audiovae.metrics.sets import SET_METRICS
from audiovae.metrics.stats import adjust_p, compare_paired
from audiovae.reporting.compare_html import write_compare_html
from audiovae.reporting.format import ComparisonLine, comparison_rows, comparison_table
from audiovae.reporting.plots import paired_plot
from audiovae.reporting.records import OK, FileResult, read_results, write_csv
from audiovae.written import claim_outputs

MUST_MATCH = ("frontend",)  # sections that make two runs' numbers comparable (the model may differ: that is the
# comparison across models; the front end decides the reference's rate and level and the mel-domain metrics)
METRIC_DEFINITION = ("align", "align_samples", "common_rate")  # metrics.* keys: the alignment, the rate of the
# waveform metrics (and, from `metric_definitions`, the high band and the sections of the metrics both runs measured)
DATA_DEFINITION = ("channels", "resampler", "pad")  # data.* keys that decide the reference and what the VAE sees


@dataclass
class Run:
    """One evaluation output folder as compare reads it: its name, folder, saved config and ok rows by file."""

    name: str
    folder: Path
    config: dict
    results: dict[str, FileResult]  # file -> its result (status ok)


def load_run(folder: Path) -> Run:
    """The run in `folder` (its results.csv and config.yaml, older configs read through the keys added since);
    CompareError (one line) when it is not an evaluation output folder."""
    results, config = folder / "results.csv", folder / "config.yaml"
    if config.is_file() and not results.is_file() and (folder / "partial").is_dir():
        raise CompareError(
            f"{folder}: an unfinished evaluation (no results.csv yet): run its command again to finish it, then compare"
        )
    for path in (results, config):
        if not path.is_file():
            raise CompareError(f"{folder}: not an evaluation output folder ({path.name} is missing)")
    config = OmegaConf.to_container(load_run_config(config), resolve=False)
    describe_plugin_metrics(folder, config)
    names = [m for m in config.get("metrics", {}).get("names", []) if m in METRICS]
    ok = {r.file: r for r in read_results(results, names) if r.status == OK}
    return Run(folder.name, folder, config, ok)


def describe_plugin_metrics(folder: Path, config: dict) -> None:
    """Make the run's plugin metrics known from its summary.json (direction, target, unit, Δ kind, domain) without
    importing its plugins: a run folder is someone else's, and compare runs none of its code."""
    names = [m for m in config.get("metrics", {}).get("names", []) if m not in METRICS and m not in SET_METRICS]
    if not names:
        return
    try:
        saved = json.loads((folder / "summary.json").read_text()).get("metrics", {})
    except (OSError, ValueError, AttributeError):
        saved = {}
    for name in names:
        if not isinstance(saved.get(name), dict):
            raise CompareError(
                f"{folder}: metric '{name}' is a plugin's and the run's summary.json does not describe it "
                f"(an unfinished run?); compare reads a plugin metric's direction from there"
            )
        describe_saved_metric(name, saved[name])


def _differences(a: dict, b: dict, prefix: str) -> list[str]:
    keys = sorted(set(a) | set(b))
    out = []
    for key in keys:
        if isinstance(a.get(key), dict) and isinstance(b.get(key), dict):
            out += _differences(a[key], b[key], f"{prefix}{key}.")
        elif a.get(key) != b.get(key):
            out.append(f"{prefix}{key}: {a.get(key)!r} vs {b.get(key)!r}")
    return out


def _definition(config: dict, names: list[str], waveform_only: bool = False) -> dict:
    """What decides the numbers of the metrics `names`: the MUST_MATCH sections, the METRIC_DEFINITION and
    DATA_DEFINITION keys (absent: a run written before the key existed, LATER_KEYS), the metrics' own settings;
    with `waveform_only` (runs at one common rate) of the front end only its normalisation, which sets the
    reference's scale."""

    def picked(section: str, keys: tuple) -> dict:
        values = config.get(section, {})
        return {key: values.get(key, LATER_KEYS.get(section, {}).get(key)) for key in keys}

    sections = {section: {**LATER_KEYS.get(section, {}), **config.get(section, {})} for section in MUST_MATCH}
    if waveform_only:
        sections["frontend"] = {"normalize": sections["frontend"].get("normalize")}
    metrics = {**picked("metrics", METRIC_DEFINITION), **metric_definitions(config.get("metrics", {}), names)}
    return {**sections, "metrics": metrics, "data": picked("data", DATA_DEFINITION)}


def waveform_only(runs: list[Run]) -> bool:
    """Whether the runs' front ends differ but they measured waveform metrics at one common rate: then only the
    waveform metrics compare (mel-domain metrics are each in their own model's log-mel)."""
    rates = {r.config.get("metrics", {}).get("common_rate") for r in runs}
    frontends = {repr(sorted(r.config.get("frontend", {}).items())) for r in runs}
    return len(rates) == 1 and None not in rates and len(frontends) > 1


def measured(run: Run) -> list[str]:
    """The metrics a run measured."""
    return list(run.config.get("metrics", {}).get("names", []))


def check_comparable(runs: list[Run], force: bool) -> list[str]:
    """The config differences in front end and metric definitions; raises unless `force`."""
    found, only = [], waveform_only(runs)
    for run in runs[1:]:
        names = [n for n in runs[0].config.get("metrics", {}).get("names", []) if n in measured(run)]
        first, other = _definition(runs[0].config, names, only), _definition(run.config, names, only)
        found += [f"{runs[0].name} vs {run.name}: {d}" for d in _differences(first, other, "")]
    if found and not force:
        raise CompareError(
            "runs differ in front end or metric definitions, so their numbers are not comparable ("
            + "; ".join(found)
            + "); pass --force to compare anyway (or evaluate both with one "
            "metrics.common_rate to compare their waveform metrics)"
        )
    return found


def common_metrics(runs: list[Run], variant: str) -> list[str]:
    """Metrics every run evaluated that `variant` has (mel-domain metrics have no vocoder ceiling; runs compared
    at a common rate across front ends: waveform metrics only)."""
    sample = next(iter(runs[0].results.values()), None)
    only = waveform_only(runs)
    names = [
        m
        for m in runs[0].config["metrics"]["names"]
        if m in METRICS
        and all(m in r.config["metrics"]["names"] for r in runs[1:])
        and not (only and metric_info(m).domain != WAVEFORM)
    ]
    return [m for m in names if sample is not None and m in sample.metrics.get(variant, {})]


def common_files(runs: list[Run]) -> list[str]:
    """The files every run evaluated without error, sorted: what a comparison pairs."""
    return sorted(set(runs[0].results).intersection(*[r.results for r in runs[1:]]))


def compare_runs(
    runs: list[Run], variant: str, n_bootstrap: int, seed: int, tolerance: float = 1e-6, p_adjust: str = "holm"
) -> tuple[list[dict], list[dict]]:
    """(one row per later run × metric with the paired statistics of the scores — a target metric's distance to
    its target — and p corrected across the metrics of that pair of runs, one row per file × metric with every
    run's raw value and Δ to the first)."""
    metrics = common_metrics(runs, variant)
    files = common_files(runs)
    table, per_file = [], []
    for metric in metrics:
        s = scoring(metric)
        column = {r.name: np.array([r.results[f].value(variant, metric) for f in files], dtype=float) for r in runs}
        first = runs[0].name
        for run in runs[1:]:
            c = compare_paired(
                s.score(column[first]),
                s.score(column[run.name]),
                s.higher_is_better,
                s.delta_kind,
                n_bootstrap=n_bootstrap,
                seed=seed,
                tolerance=tolerance,
            )
            table.append(
                {
                    "metric": metric,
                    "direction": s.direction,
                    "target": s.target,
                    "run_a": first,
                    "run_b": run.name,
                    "n_files": c.n,
                    "a_mean": c.base_mean,
                    "b_mean": c.enhanced_mean,
                    "a_raw_mean": float(np.nanmean(column[first])) if files else float("nan"),
                    "b_raw_mean": float(np.nanmean(column[run.name])) if files else float("nan"),
                    "delta": c.delta,
                    "percent_change": c.percent_change,
                    "delta_kind": c.delta_kind,
                    "delta_unit": s.delta_unit,
                    "headline_delta": c.headline_delta,
                    "b_wins": c.wins,
                    "b_losses": c.losses,
                    "ties": c.ties,
                    "b_win_rate": c.win_rate,
                    "ci_low": c.ci_low,
                    "ci_high": c.ci_high,
                    "median_delta": c.median_delta,
                    "median_ci_low": c.median_ci_low,
                    "median_ci_high": c.median_ci_high,
                    "wilcoxon_p": c.wilcoxon_p,
                    "min_p": c.min_p,
                }
            )
        for i, f in enumerate(files):
            row = {"file": f, "metric": metric, **{r.name: float(column[r.name][i]) for r in runs}}
            row.update({f"delta_{r.name}": float(column[r.name][i] - column[first][i]) for r in runs[1:]})
            per_file.append(row)
    for run in runs[1:]:  # corrected for the metrics compared between the same two runs
        family = [t for t in table if t["run_b"] == run.name]
        for t, p in zip(family, adjust_p([t["wilcoxon_p"] for t in family], p_adjust)):
            t["p_adjusted"] = float(p)
    return table, per_file


def comparison_lines(table: list[dict]) -> list[ComparisonLine]:
    """The comparison table's rows in the shared table format (`reporting.format.comparison_table`)."""
    return [
        ComparisonLine(
            t["metric"],
            {
                **t,
                "base_mean": t["a_mean"],
                "enhanced_mean": t["b_mean"],
                "win_rate": t["b_win_rate"],
                "wins": t["b_wins"],
                "losses": t["b_losses"],
                "n": t["n_files"],
            },
            labels={"run A": t["run_a"], "run B": t["run_b"]},
            extra={"files": str(t["n_files"])},
            raw=(t["a_raw_mean"], t["b_raw_mean"]) if t["direction"] == "target" else None,
        )
        for t in table
    ]


TABLE_NAMES = {"a": "A mean", "b": "B mean", "delta": "Δ (B − A)", "wins": "B wins"}


def run_lines(runs: list[Run], unaligned: dict[str, int], notes: list[str]) -> list[str]:
    """The comparison's first lines: each run's folder, model and enhancement, files left out, notes."""
    lines = [
        f"{r.name}: {r.folder}, model {r.config.get('model', {}).get('name')}, enhancement "
        f"{r.config.get('enhancement')}"
        for r in runs
    ]
    if waveform_only(runs):
        lines.append(
            f"front ends differ: waveform metrics only, all at the common rate "
            f"{runs[0].config['metrics']['common_rate']} Hz"
        )
    lines += [
        f"files evaluated by some runs only, left out: {unaligned}"
        if any(unaligned.values())
        else "every run evaluated the same files"
    ]
    return lines + [f"compared despite: {n}" for n in notes]


def markdown(table: list[dict], runs: list[Run], variant: str, unaligned: dict[str, int], notes: list[str]) -> str:
    """compare.md: the runs, the comparison table, its note and the figure."""
    lines = [f"# Comparison of {len(runs)} runs ({variant} reconstructions)", ""]
    lines += [f"- {line}" for line in run_lines(runs, unaligned, notes)]
    lines += ["", *comparison_table(comparison_lines(table), **TABLE_NAMES)]
    lines += ["", DELTA_NOTE, "", "![per-file values](compare.png)", ""]
    return "\n".join(lines)


DELTA_NOTE = "Δ is B − A for dB metrics and the percent change of the mean otherwise."


def plot(path: Path, per_file: list[dict], runs: list[Run]) -> Path:
    """Each metric's per-file values across the runs (the one paired plot), means as thick markers."""
    metrics = list(dict.fromkeys(r["metric"] for r in per_file))
    values = {
        m: np.array([[r[run.name] for run in runs] for r in per_file if r["metric"] == m], dtype=float) for m in metrics
    }
    return paired_plot(path, [r.name for r in runs], values)


def logger_config(words: list[str]):
    """The `logger` settings of the other jobs (configs/logger/wandb.yaml: offline unless WANDB_MODE says
    otherwise) with `logger.<key>=<value>` words applied, checked against the same schema."""
    from audiovae.config.compose import compose_section

    return compose_section("logger", "wandb", words)


def log_to_wandb(table: list[dict], out: Path, runs: list[Run], logger) -> None:
    """The comparison table and plot as a W&B run (`job_type=compare`) with the `logger.*` settings."""
    import wandb

    from audiovae.reporting.tracking import wandb_run

    with wandb_run(logger, OmegaConf.create({"runs": [str(r.folder) for r in runs]}), out, "compare", "") as run:
        columns = list(table[0]) if table else []
        run.log(
            {
                "compare/metrics": wandb.Table(columns=columns, data=[list(t.values()) for t in table]),
                "compare/plot": wandb.Image(str(out / "compare.png")),
            }
        )


COMPARE_OUTPUTS = ("compare.csv", "compare_files.csv", "compare.png", "compare.md", "compare.html")


def main(argv: list[str]) -> int:
    """`audiovae-compare RUN RUN [...]`: the paired comparison of runs over their common files (markdown, page, figure,
    optional W&B run); returns the exit status."""
    parser = argparse.ArgumentParser(prog="audiovae-compare", description=__doc__.splitlines()[0])
    parser.add_argument(
        "runs",
        nargs="+",
        help="evaluation output folders, the first is the reference; and "
        "logger.<key>=<value> words for --wandb (logger.project=x, logger.mode=online, ...)",
    )
    parser.add_argument("--variant", default="enhanced", choices=["enhanced", "base", "vocoder"])
    parser.add_argument("--out", type=Path, help="default: outputs/compare/<timestamp>")
    parser.add_argument(
        "--force",
        action="store_true",
        help="compare runs whose model or front end differ, and overwrite files in --out that audiovae did not write",
    )
    parser.add_argument("--bootstrap", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--tie-tolerance", type=float, default=1e-6, help="per-file differences within this relative tolerance are ties"
    )
    parser.add_argument(
        "--p-adjust", default="holm", choices=["holm", "bh", "none"], help="correction for the metrics tested together"
    )
    parser.add_argument(
        "--wandb",
        action="store_true",
        help="also log the tables to a W&B run (offline unless WANDB_MODE=online, like the other jobs)",
    )
    parser.add_argument("--project", help="W&B project (same as logger.project=...)")
    args = parser.parse_intermixed_args(argv)
    words = [w for w in args.runs if w.startswith("logger.") and "=" in w]
    args.runs = [Path(r) for r in args.runs if r not in words]
    if args.project:
        words.append(f"logger.project={args.project}")

    def run() -> int:
        logger = logger_config(words) if args.wandb else None
        if logger is not None:
            from audiovae.reporting.tracking import check_logger

            check_logger(logger)
        if len(args.runs) < 2:
            raise CompareError("give at least two run folders")
        runs = [load_run(folder) for folder in args.runs]
        if len({r.name for r in runs}) < len(runs):
            runs = [Run(f"{i}:{r.name}", r.folder, r.config, r.results) for i, r in enumerate(runs)]
        notes = check_comparable(runs, args.force)
        if not common_files(runs):
            raise CompareError("the runs have no successfully evaluated file in common: nothing to compare")
        out = args.out or Path("outputs/compare") / time.strftime("%Y%m%d-%H%M%S")
        claim_outputs(out, COMPARE_OUTPUTS, args.force)
        table, per_file = compare_runs(runs, args.variant, args.bootstrap, args.seed, args.tie_tolerance, args.p_adjust)
        common = set(common_files(runs))
        unaligned = {r.name: len(set(r.results) - common) for r in runs}
        write_csv(out / "compare.csv", table)
        write_csv(out / "compare_files.csv", per_file)
        plot(out / "compare.png", per_file, runs)
        report = markdown(table, runs, args.variant, unaligned, notes)
        (out / "compare.md").write_text(report)
        write_compare_html(
            out / "compare.html",
            runs,
            comparison_rows(comparison_lines(table), **TABLE_NAMES),
            per_file,
            args.variant,
            run_lines(runs, unaligned, notes),
            DELTA_NOTE,
        )
        if args.wandb:
            log_to_wandb(table, out, runs, logger)
        print(report)
        print(f"written to {out}")
        return 0

    return exit_status(run)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
