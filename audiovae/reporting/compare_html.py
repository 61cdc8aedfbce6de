"""compare.html: the comparison table and plot of several runs, and per file one synchronised player with the
reference and each run's reconstruction (keys 1, 2, ...), the file's values per run, sortable by the per-file
improvement of the last run over the first. Audio is linked from the runs' own folders (relative links: keep the
comparison folder beside the runs when copying)."""

import json
from html import escape
from pathlib import Path
from typing import Sequence

from audiovae.reporting.format import delta_unit, fmt, metric_label, signed_delta
from audiovae.reporting.html import facts_html, figure_html, player_html, relative_path, table_html, write_page
from audiovae.reporting.records import file_delta, file_improvement
from audiovae.reporting.report_html import file_controls


def file_article(file: str, order: int, runs, rows: Sequence[dict], variant: str, folder: Path) -> str:
    """One file's article of the comparison page: the reference and each run's variant as players, with metrics."""
    first, last = runs[0], runs[-1]
    sources = [
        ("reference", relative_path(first.folder / "audio" / f"{first.results[file].stem}.reference.wav", folder))
    ]
    sources += [
        (r.name, relative_path(r.folder / "audio" / f"{r.results[file].stem}.{variant}.wav", folder)) for r in runs
    ]
    header = ["metric", *(r.name for r in runs), *(f"Δ {r.name} vs {first.name}" for r in runs[1:])]
    table = [
        [
            metric_label(row["metric"]),
            *(fmt(row[r.name]) for r in runs),
            *(
                signed_delta(file_delta(row["metric"], row[first.name], row[r.name]), delta_unit(row["metric"]))
                for r in runs[1:]
            ),
        ]
        for row in rows
    ]
    gains = {row["metric"]: file_improvement(row["metric"], row[first.name], row[last.name]) for row in rows}
    return (
        f'<article class="file" tabindex="-1" data-order="{order}" data-file="{escape(file)}" '
        f"data-gains='{escape(json.dumps(gains))}'><h3>{escape(file)}</h3>"
        f"{player_html(sources, folder)}{table_html(header, table)}</article>"
    )


def write_compare_html(
    path: Path, runs, comparison: tuple, per_file: Sequence[dict], variant: str, facts: Sequence[str], delta_note: str
) -> Path:
    """`comparison`: the comparison table's (header, rows); `per_file`: one row per file × metric with each run's
    value (compare_files.csv)."""
    folder = path.parent
    files = list(dict.fromkeys(row["file"] for row in per_file))
    metrics = list(dict.fromkeys(row["metric"] for row in per_file))
    by_file = {f: [row for row in per_file if row["file"] == f] for f in files}
    articles = "".join(file_article(f, i, runs, by_file[f], variant, folder) for i, f in enumerate(files))
    keys = ", ".join(f"{i + 2}: {r.name}" for i, r in enumerate(runs))
    body = (
        f"<header><h1>Comparison of {len(runs)} runs ({escape(variant)} reconstructions)</h1>{facts_html(facts)}"
        f'</header><div class="wide">{table_html(*comparison, cls="summary")}</div>'
        f'<p class="note">{escape(delta_note)}</p>{figure_html("compare.png", "per-file values per run", folder)}'
        '<section id="files"><h2>Per file</h2>'
        + file_controls(
            metrics,
            f"Click a file, then 1: reference, {keys}, at the same position.",
            f"{runs[-1].name} over {runs[0].name}",
        )
        + f'<div id="file-list">{articles}</div></section>'
    )
    return write_page(path, "audiovae comparison", body, scripts=("player.js", "report.js"))
