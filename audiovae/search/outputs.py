"""A study's outputs, from its storage and its trials' run folders: `study.csv` (one row per trial), `study.html`
(optimisation history, parameter importances, each parameter's slice, the Pareto front of a multi-objective study:
pictures readable from disk), `best_config.yaml` and `best_enhancement.yaml` of the trial the guarded rule selects
(`runs.selection`: the largest improvement in the first objective among trials that improve it and are not
significantly worse in the guards), and the storage itself for `optuna-dashboard`.
"""

import json
from html import escape
from pathlib import Path
from typing import Optional

from omegaconf import OmegaConf

from audiovae.reporting.html import figure_html, link, table_html, write_page
from audiovae.reporting.records import write_csv
from audiovae.runs.selection import select_best
from audiovae.runs.settings import Setting
from audiovae.runs.sweep import write_best

PLOTS = "plots"
MIN_FOR_IMPORTANCE = 4  # finished trials before parameter importances are drawn (fewer say nothing)


def objective_columns(search) -> list[str]:
    """study.csv's objective columns: `<metric>_improvement` (evaluation: over base, positive = better), or the
    monitored validation metric (training, in its own direction)."""
    if search.search.job == "train":
        return list(search.objectives)
    return [f"{name}_improvement" for name in search.objectives]


def trial_rows(study, columns: list[str]) -> list[dict]:
    """study.csv: per trial its number, state, parameters, objective values (`objective_columns`), the files (or
    validations) it ran, its seconds, run folder and why it stopped (pruned at, failed because, the trial whose run
    it shares)."""
    from optuna.trial import TrialState

    params = list(dict.fromkeys(k for t in study.trials for k in t.params))
    rows = []
    for t in study.trials:
        attrs = t.user_attrs
        row = {"trial": t.number, "state": t.state.name.lower()}
        row.update({key: t.params.get(key, "") for key in params})
        finished = t.state == TrialState.COMPLETE and t.values
        for i, column in enumerate(columns):
            row[column] = t.values[i] if finished else float("nan")
        row["steps"] = attrs.get("steps", "")
        row["seconds"] = attrs.get("seconds", "")
        row["run_dir"] = attrs.get("run_dir", "")
        row["note"] = _note(t)
        rows.append(row)
    return rows


def _note(trial) -> str:
    attrs = trial.user_attrs
    if "same_as" in attrs:
        return f"the run of trial {attrs['same_as']} (same values)"
    if "pruned_because" in attrs:
        return attrs["pruned_because"]
    if "error" in attrs:
        return attrs["error"]
    if "failed_because" in attrs:
        return attrs["failed_because"] + "; its values were queued again"
    if "retry_of" in attrs:
        return f"retries trial {attrs['retry_of']}"
    return ""


def summaries_of(study, out_dir: Path) -> dict[str, dict]:
    """`trial-<n>` -> summary.json of every finished trial that ran its own evaluation."""
    from optuna.trial import TrialState

    out = {}
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        path = out_dir / t.user_attrs.get("run_dir", "-") / "summary.json"
        if "same_as" not in t.user_attrs and path.exists():
            out[f"trial-{t.number}"] = json.loads(path.read_text())
    return out


def select_trial(search, study) -> tuple[Optional[str], str]:
    """The guarded rule over the finished trials of `study`, on the first objective with the job's guards (a
    training study: the best monitored score)."""
    if search.search.job == "train":
        try:
            best = study.best_trial
        except ValueError:
            return None, "no trial finished"
        return f"trial-{best.number}", f"best {search.objectives[0]} ({best.values[0]:.4g})"
    summaries = summaries_of(study, search.out_dir)
    if not summaries:
        return None, "no trial finished"
    first = search.objectives[0]
    select = OmegaConf.create(OmegaConf.to_container(search.select))
    select.metric = first
    select.guards = [g for g in select.guards if g != first and all(g in s["metrics"] for s in summaries.values())]
    alpha = next(iter(summaries.values()))["statistics"]["alpha"]
    return select_best(summaries, select, alpha)


def _plot_history(path: Path, study, objective: str, maximize: bool = True) -> None:
    from optuna.trial import TrialState

    from audiovae.reporting.plots import plt, save_figure

    fig, ax = plt.subplots(figsize=(6.4, 3.4))
    done = [t for t in study.trials if t.state == TrialState.COMPLETE]
    pruned = [t for t in study.trials if t.state == TrialState.PRUNED and t.intermediate_values]
    ax.plot([t.number for t in done], [t.values[0] for t in done], "o", label="finished", color="tab:blue")
    if pruned:
        means = [sum(t.intermediate_values.values()) / len(t.intermediate_values) for t in pruned]
        ax.plot([t.number for t in pruned], means, "x", label="pruned (mean over its files)", color="tab:red")
    best, running = [], float("-inf") if maximize else float("inf")
    for t in sorted(done, key=lambda t: t.number):
        running = max(running, t.values[0]) if maximize else min(running, t.values[0])
        best.append((t.number, running))
    if best:
        ax.step(*zip(*best), where="post", color="tab:green", label="best objective so far")
    ax.axhline(0.0, color="0.6", lw=0.8, ls="--")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("trial")
    ax.set_ylabel(objective)
    ax.legend(fontsize=7, loc="best")
    save_figure(fig, path)


def _plot_slices(path: Path, study, objective: str) -> None:
    from optuna.trial import TrialState

    from audiovae.reporting.plots import plt, save_figure

    done = [t for t in study.trials if t.state == TrialState.COMPLETE]
    params = list(dict.fromkeys(k for t in done for k in t.params))
    if not params:
        return
    fig, axes = plt.subplots(1, len(params), figsize=(3.2 * len(params), 3.0), squeeze=False)
    for ax, key in zip(axes[0], params):
        have = [t for t in done if key in t.params]
        xs = [t.params[key] for t in have]
        ax.scatter(xs, [t.values[0] for t in have], c=[t.number for t in have], cmap="viridis", s=18)
        ax.set_xlabel(key)
        ax.axhline(0.0, color="0.6", lw=0.8, ls="--")
    axes[0][0].set_ylabel(objective)
    save_figure(fig, path)


def _plot_importances(path: Path, study, seed: int) -> None:
    import optuna
    from optuna.trial import TrialState

    from audiovae.reporting.plots import plt, save_figure

    if len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))) < MIN_FOR_IMPORTANCE:
        return
    try:
        evaluator = optuna.importance.FanovaImportanceEvaluator(seed=seed)
        importances = optuna.importance.get_param_importances(study, evaluator=evaluator)
    except (RuntimeError, ValueError, ZeroDivisionError):  # too few finished trials, or one parameter value
        return
    if not importances:
        return
    fig, ax = plt.subplots(figsize=(5.0, 0.5 + 0.4 * len(importances)))
    names = list(importances)[::-1]
    ax.barh(names, [importances[n] for n in names], color="tab:blue")
    ax.set_xlabel("importance (fANOVA)")
    save_figure(fig, path)


def _plot_pareto(path: Path, study, objectives: list[str]) -> None:
    from optuna.trial import TrialState

    from audiovae.reporting.plots import plt, save_figure

    done = [t for t in study.trials if t.state == TrialState.COMPLETE]
    front = {t.number for t in study.best_trials}
    fig, ax = plt.subplots(figsize=(5.0, 4.0))
    for on_front, colour, label in ((False, "0.6", "dominated"), (True, "tab:red", "Pareto front")):
        pts = [t for t in done if (t.number in front) == on_front]
        ax.scatter([t.values[0] for t in pts], [t.values[1] for t in pts], color=colour, label=label, s=20)
    ax.set_xlabel(objectives[0])
    ax.set_ylabel(objectives[1])
    ax.legend(fontsize=7)
    save_figure(fig, path)


def write_plots(
    out_dir: Path, study, objectives: list[str], seed: int = 0, maximize: bool = True
) -> list[tuple[str, str]]:
    """The study's pictures under plots/ (`objectives`: their axis labels): (file, caption) of those drawn."""
    folder = out_dir / PLOTS
    folder.mkdir(parents=True, exist_ok=True)
    figures = [
        ("history.png", "optimisation history"),
        ("slices.png", "each parameter's slice (colour: the trial's number, dark first)"),
    ]
    _plot_history(folder / "history.png", study, objectives[0], maximize)
    _plot_slices(folder / "slices.png", study, objectives[0])
    if len(objectives) == 1:
        _plot_importances(folder / "importances.png", study, seed)
        figures.append(("importances.png", "parameter importances"))
    if len(objectives) == 2:
        _plot_pareto(folder / "pareto.png", study, objectives)
        figures.append(("pareto.png", "Pareto front"))
    return [(f"{PLOTS}/{name}", caption) for name, caption in figures if (folder / name).exists()]


def write_study_outputs(search) -> str:
    """study.csv, study.html, the best trial's configs; returns the line the command prints about the best."""
    study = search.study()
    out_dir, columns = search.out_dir, objective_columns(search)
    rows = trial_rows(study, columns)
    write_csv(out_dir / "study.csv", rows)
    best, reason = select_trial(search, study)
    if best is not None:
        trial = study.trials[int(best.split("-")[1])]
        run_dir = out_dir / trial.user_attrs["run_dir"]
        config = OmegaConf.load(run_dir / "config.yaml")
        write_best(out_dir, Setting(best, config, run_dir, trial.user_attrs["run_hash"]))
    figures = write_plots(out_dir, study, columns, int(search.search.seed), search.directions[0] == "maximize")
    write_page(out_dir / "study.html", f"Study {search.name}", _body(search, study, rows, figures, best, reason))
    log_study(search, rows, figures, best)
    line = f"best: {best} ({reason})" if best else f"best: none — {reason}"
    return line


def log_study(search, rows: list[dict], figures, best: Optional[str]) -> None:
    """The study's summary W&B run (the job's logger settings, in the trials' group): the trial table, the
    pictures and the best trial."""
    from audiovae.config.compose import config_hash
    from audiovae.reporting.tracking import wandb_run

    logger = OmegaConf.create(OmegaConf.to_container(search.base.logger))
    logger.group, logger.name = search.group, f"{search.group}-summary"
    config = OmegaConf.create({"search": OmegaConf.to_container(search.search, resolve=True)})
    with wandb_run(logger, config, search.out_dir, "search_summary", config_hash(config)) as run:
        if run is None:
            return
        import wandb

        columns = list(rows[0]) if rows else []
        run.log({"search/trials": wandb.Table(columns=columns, data=[[r[c] for c in columns] for r in rows])})
        for relative, caption in figures:
            run.log({f"search/{Path(relative).stem}": wandb.Image(str(search.out_dir / relative), caption=caption)})
        run.summary["search/best_trial"] = best


def _body(search, study, rows: list[dict], figures, best: Optional[str], reason: str) -> str:
    from collections import Counter

    states = Counter(r["state"] for r in rows)
    facts = [
        f"job: {search.search.job} with {search.search.config} and {len(search.search.overrides)} overrides",
        f"objective{'s' if len(search.objectives) > 1 else ''}: "
        + ", ".join(f"{c} ({d}d)" for c, d in zip(objective_columns(search), search.directions)),
        f"sampler {search.search.sampler} (seed {search.search.seed}), pruner {search.search.pruner}",
        "trials: " + ", ".join(f"{n} {s}" for s, n in sorted(states.items())) + f" (budget {search.budget})",
        f"storage: {search.search.storage or 'study.journal'}",
    ]
    best_line = (
        f"Best: {best}: {reason}. Its configs: best_config.yaml, best_enhancement.yaml."
        if best
        else f"Best: none — {reason}."
    )
    header = list(rows[0]) if rows else []
    cells = [[_cell(r[k]) for k in header] for r in rows]
    reports = [
        f'<li><a href="{link(r["run_dir"] + "/report.html")}">trial {r["trial"]}</a>: {escape(r["run_dir"])}</li>'
        for r in rows
        if r["run_dir"] and (search.out_dir / r["run_dir"] / "report.html").exists() and "same values" not in r["note"]
    ]
    parts = [
        f"<header><h1>Study {escape(search.name)}</h1><ul>",
        *(f"<li>{escape(f)}</li>" for f in facts),
        f"</ul><p class='best'>{escape(best_line)}</p></header>",
        "<section id='figures'>",
        *(f"<h2>{escape(caption)}</h2>{figure_html(rel, caption, search.out_dir)}" for rel, caption in figures),
        "</section><section id='trials'><h2>Trials</h2>",
        f"<div class='wide'>{table_html(header, cells, cls='trials')}</div>",
        *(["<h2>Each trial's report</h2><ul class='reports'>", *reports, "</ul>"] if reports else []),
        "</section>",
    ]
    return "".join(parts)


def _cell(value):
    if isinstance(value, float):
        return "–" if value != value else f"{value:.4g}"
    return str(value)
