"""Un-blind listening answers with their key and summarise them beside the run's objective metrics.

MUSHRA: per variant the mean rating with a 95 % t interval (mean ± t₀.₉₇₅,ₙ₋₁·s/√n over every rating), enhanced
vs base paired per (listener, trial) with the same statistics as the objective metrics (`compare_paired`), and
per file the mean rating of each variant. A/B: how often enhanced was preferred among the decided answers, with
its exact binomial (Clopper–Pearson) 95 % interval and two-sided binomial test against 50 %, and per file counts.
"""

import csv
import json
import math
from pathlib import Path
from typing import Optional, Sequence
from urllib.parse import unquote, urlparse

import numpy as np
from scipy import stats as scipy_stats

from audiovae.errors import ListeningError
from audiovae.listening.blind import KEY_FORMAT, MODES
from audiovae.metrics.registry import file_metric_names
from audiovae.metrics.stats import compare_paired
from audiovae.reporting.format import delta_unit, fmt, markdown_table, metric_label, signed_delta
from audiovae.reporting.records import OK, file_delta, read_results
from audiovae.reporting.summary import write_json
from audiovae.written import claim_outputs

ANSWER_FORMAT = "audiovae-listening"


def read_answers(path: Path) -> dict:
    """A downloaded answers file (JSON or CSV) as `{mode, key_id, listener, page, answers: [...]}`."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as err:
        raise ListeningError(f"{path}: cannot read answers ({err.strerror})") from None
    except UnicodeDecodeError as err:
        raise ListeningError(
            f"{path}: not a text file (byte {err.start} is not UTF-8): not an answers file "
            f"downloaded from a listening page"
        ) from None
    if Path(path).suffix.lower() == ".csv":
        rows = list(csv.DictReader(text.splitlines()))
        if not rows or rows[0].get("format") != ANSWER_FORMAT:
            raise ListeningError(f"{path}: not an audiovae listening answers CSV")
        try:
            answers = {
                "mode": rows[0]["mode"],
                "key_id": rows[0]["key_id"],
                "listener": rows[0]["listener"],
                "page": None,
                "answers": [
                    {
                        "trial": r["trial"],
                        "slot": r["slot"] or None,
                        "rating": float(r["rating"]) if r["rating"] else None,
                        "choice": r["choice"] or None,
                    }
                    for r in rows
                ],
            }
        except (KeyError, TypeError, ValueError) as err:
            raise ListeningError(f"{path}: a row of the answers CSV is damaged ({type(err).__name__}: {err})") from None
    else:
        try:
            answers = json.loads(text)
        except json.JSONDecodeError as err:
            raise ListeningError(f"{path}: not JSON ({err.msg} at line {err.lineno})") from err
        if not isinstance(answers, dict) or answers.get("format") != ANSWER_FORMAT:
            raise ListeningError(f"{path}: not an audiovae listening answers file")
    if answers.get("mode") not in MODES:
        raise ListeningError(f"{path}: unknown mode {answers.get('mode')!r}")
    answers["listener"] = answers.get("listener") or Path(path).stem
    answers["source"] = str(path)
    return answers


def key_path_of(answers: dict) -> Optional[Path]:
    """Where the key of a page opened from disk lies: `<listening>/keys/<mode>.json` beside its page folder."""
    page = answers.get("page") or ""
    if not page.startswith("file:"):
        return None
    return Path(unquote(urlparse(page).path)).parent.parent / "keys" / f"{answers['mode']}.json"


def load_key(path: Path) -> dict:
    """A listening key file (the variants behind each trial's letters); ListeningError (one line) when it is not one."""
    try:
        key = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:  # ValueError: JSON errors and bytes that are not UTF-8
        raise ListeningError(f"{path}: cannot read the listening key ({err})") from None
    if not isinstance(key, dict) or key.get("format") != KEY_FORMAT:
        raise ListeningError(f"{path}: not an audiovae listening key")
    key["path"] = str(path)
    return key


def find_key(answers: dict, key: Optional[Path]) -> dict:
    """The key of a set of answers: the one given, else the one their page says it came from."""
    path = key or key_path_of(answers)
    if path is None:
        raise ListeningError(
            f"{answers['source']}: the answers do not say where their page was; pass --key "
            f"RUN/listening/keys/{answers['mode']}.json"
        )
    found = load_key(path)
    if found["key_id"] != answers["key_id"] or found["mode"] != answers["mode"]:
        raise ListeningError(
            f"{answers['source']}: answers of page {answers['key_id']} ({answers['mode']}) do not "
            f"belong to key {found['key_id']} ({found['mode']}) at {path}"
        )
    return found


def unblind(answers: dict, key: dict) -> list[dict]:
    """One row per answer: listener, trial, file and the variant behind the slot (MUSHRA, with its rating) or the
    variant preferred (A/B: base, enhanced or none); unanswered items left out."""
    trials = {t["trial"]: t for t in key["trials"]}
    rows = []
    for a in answers["answers"]:
        trial = trials.get(a["trial"])
        if trial is None:
            raise ListeningError(f"{answers['source']}: trial {a['trial']!r} is not in the key")
        base = {"listener": answers["listener"], "trial": a["trial"], "file": trial["file"]}
        if answers["mode"] == "mushra":
            if a.get("rating") is not None:
                rows.append({**base, "variant": trial["slots"][a["slot"]], "rating": float(a["rating"])})
        elif a.get("choice") is not None:
            rows.append({**base, "preferred": "none" if a["choice"] == "none" else trial["slots"][a["choice"]]})
    return rows


def mean_ci(values: Sequence[float]) -> tuple[float, float, float]:
    """Mean and its 95 % t interval (NaN bounds below two values)."""
    x = np.asarray(values, dtype=float)
    if len(x) == 0:
        return math.nan, math.nan, math.nan
    if len(x) < 2:
        return float(x.mean()), math.nan, math.nan
    half = scipy_stats.t.ppf(0.975, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x))
    return float(x.mean()), float(x.mean() - half), float(x.mean() + half)


def summarize_mushra(rows: Sequence[dict]) -> dict:
    """Per variant and per file: the mean rating with its bootstrap 95 % CI."""
    variants = [v for v in MODES["mushra"] if any(r["variant"] == v for r in rows)]
    summary = {"variants": {}, "files": {}}
    for v in variants:
        mean, low, high = mean_ci([r["rating"] for r in rows if r["variant"] == v])
        summary["variants"][v] = {
            "n": sum(r["variant"] == v for r in rows),
            "mean": mean,
            "ci_low": low,
            "ci_high": high,
        }
    for file in sorted({r["file"] for r in rows}):
        summary["files"][file] = {
            v: float(np.mean(x))
            if (x := [r["rating"] for r in rows if r["file"] == file and r["variant"] == v])
            else None
            for v in variants
        }
    pairs = {}
    for r in rows:
        pairs.setdefault((r["listener"], r["trial"]), {})[r["variant"]] = r["rating"]
    both = [p for p in pairs.values() if "base" in p and "enhanced" in p]
    if both:
        c = compare_paired([p["base"] for p in both], [p["enhanced"] for p in both], higher_is_better=True)
        summary["enhanced_vs_base"] = {
            "n": c.n,
            "delta": c.delta,
            "ci_low": c.ci_low,
            "ci_high": c.ci_high,
            "wins": c.wins,
            "losses": c.losses,
            "ties": c.ties,
            "wilcoxon_p": c.wilcoxon_p,
        }
    return summary


def summarize_ab(rows: Sequence[dict]) -> dict:
    """Counts of enhanced, base and no preference, overall and per file, with a two-sided sign test over the decided
    answers."""

    def counts(subset):
        return {k: sum(r["preferred"] == k for r in subset) for k in ("enhanced", "base", "none")}

    total = counts(rows)
    decided = total["enhanced"] + total["base"]
    summary = {
        "counts": total,
        "files": {f: counts([r for r in rows if r["file"] == f]) for f in sorted({r["file"] for r in rows})},
    }
    if decided:
        test = scipy_stats.binomtest(total["enhanced"], decided, 0.5)
        ci = test.proportion_ci(0.95, method="exact")
        summary["enhanced_preferred"] = {
            "rate": total["enhanced"] / decided,
            "ci_low": float(ci.low),
            "ci_high": float(ci.high),
            "binomial_p": float(test.pvalue),
            "n": decided,
        }
    return summary


def objective_deltas(run: Path, files: Sequence[str]) -> tuple[list[str], dict]:
    """The run's metric names and per file the Δ of each (`file_delta`, enhanced vs base) from results.csv."""
    from audiovae.config.compose import load_run_config

    if not (run / "results.csv").exists() or not (run / "config.yaml").exists():
        return [], {}
    names = file_metric_names(load_run_config(run / "config.yaml").metrics.names)
    results = {r.file: r for r in read_results(run / "results.csv", names) if r.status == OK}
    return names, {
        f: {n: file_delta(n, results[f].value("base", n), results[f].value("enhanced", n)) for n in names}
        for f in files
        if f in results
    }


def report_lines(mode: str, summary: dict, names: Sequence[str], deltas: dict, listeners: Sequence[str]) -> list[str]:
    """The listening report in markdown: the summary table of the mode, per file, and the listeners."""
    lines = [f"# Listening test ({mode}): {len(listeners)} listener(s), {len(summary['files'])} file(s)", ""]
    if mode == "mushra":
        lines += markdown_table(
            ["variant", "ratings", "mean (0–100)", "95 % CI"],
            [
                [v, str(s["n"]), fmt(s["mean"], 1), f"[{fmt(s['ci_low'], 1)}, {fmt(s['ci_high'], 1)}]"]
                for v, s in summary["variants"].items()
            ],
        )
        if "enhanced_vs_base" in summary:
            c = summary["enhanced_vs_base"]
            lines += [
                "",
                f"Enhanced − base: {signed_delta(c['delta'], 'points')} (95 % CI [{fmt(c['ci_low'], 1)}, "
                f"{fmt(c['ci_high'], 1)}]); enhanced rated higher in {c['wins']} of {c['n']} paired trials, "
                f"lower in {c['losses']}; Wilcoxon p {fmt(c['wilcoxon_p'], 4)}.",
            ]
        variants = list(summary["variants"])
        header = ["file", *(f"{v} rating" for v in variants)]
        cells = lambda f: [fmt(summary["files"][f][v], 1) for v in variants]  # noqa: E731
    else:
        c = summary["counts"]
        lines += [f"Enhanced preferred {c['enhanced']} times, base {c['base']}, no preference {c['none']}."]
        if "enhanced_preferred" in summary:
            p = summary["enhanced_preferred"]
            lines += [
                f"Enhanced preferred in {fmt(100 * p['rate'], 1)} % of {p['n']} decided answers (95 % CI "
                f"[{fmt(100 * p['ci_low'], 1)}, {fmt(100 * p['ci_high'], 1)}] %), binomial p vs 50 %: "
                f"{fmt(p['binomial_p'], 4)}."
            ]
        header = ["file", "enhanced preferred", "base preferred", "no preference"]
        cells = lambda f: [str(summary["files"][f][k]) for k in ("enhanced", "base", "none")]  # noqa: E731
    header += [f"Δ {metric_label(n)}" for n in names]
    rows = [
        [f, *cells(f), *(signed_delta(deltas.get(f, {}).get(n), delta_unit(n)) for n in names)]
        for f in summary["files"]
    ]
    lines += [
        "",
        "Per file, beside the objective Δ (enhanced vs base) of the run's metrics:",
        "",
        *markdown_table(header, rows),
    ]
    return lines


def score(
    answer_paths: Sequence[Path], key: Optional[Path] = None, out: Optional[Path] = None, force: bool = False
) -> tuple[str, Path]:
    """Un-blind and summarise; writes `scores-<mode>.md`, `.json` and `ratings-<mode>.csv` (the un-blinded answers)
    into `out` (default: the run's `listening/` folder), never over a file audiovae did not write unless `force`;
    returns the markdown and the folder."""
    if not answer_paths:
        raise ListeningError("give at least one answers file")
    answers = [read_answers(Path(p)) for p in answer_paths]
    keys = [find_key(a, key) for a in answers]
    if len({k["key_id"] for k in keys}) > 1:
        raise ListeningError(
            "the answers come from different pages (key ids "
            + ", ".join(sorted({k["key_id"] for k in keys}))
            + "); score each page separately"
        )
    mode, key_file = answers[0]["mode"], Path(keys[0]["path"])
    rows = [row for a, k in zip(answers, keys) for row in unblind(a, k)]
    summary = summarize_mushra(rows) if mode == "mushra" else summarize_ab(rows)
    run = key_file.parent.parent.parent  # RUN/listening/keys/<mode>.json
    names, deltas = objective_deltas(run, list(summary["files"]))
    listeners = sorted({a["listener"] for a in answers})
    text = "\n".join(report_lines(mode, summary, names, deltas, listeners)) + "\n"
    out = Path(out) if out else key_file.parent.parent
    claim_outputs(out, [f"scores-{mode}.md", f"scores-{mode}.json", f"ratings-{mode}.csv"], force)
    (out / f"scores-{mode}.md").write_text(text)
    write_json(
        out / f"scores-{mode}.json",
        {"mode": mode, "key_id": keys[0]["key_id"], "listeners": listeners, **summary, "objective_deltas": deltas},
    )
    with open(out / f"ratings-{mode}.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]) if rows else ["listener", "trial", "file"])
        writer.writeheader()
        writer.writerows(rows)
    return text, out
