"""report.html: the evaluation report as a page to listen and look: the summary table, conclusion and band
retention, and per file synchronised players for reference, vocoder ceiling, base and enhanced (keys 1–4), the
file's metrics and its figure; files sortable by any metric's per-file Δ and filterable."""

import json
from html import escape
from pathlib import Path
from typing import Sequence

from audiovae.data.files import output_stem
from audiovae.reporting.format import comparison_rows
from audiovae.reporting.html import facts_html, figure_html, link, player_html, table_html, write_page
from audiovae.reporting.records import OK, WAVE_NAMES, FileResult, file_improvement
from audiovae.reporting.report import (
    BAND_NOTE,
    DELTA_NOTE,
    band_rows,
    file_facts,
    file_metric_rows,
    run_facts,
    set_note,
    set_rows,
    summary_lines,
    summary_notes,
    timing_lines,
)
from audiovae.reporting.summary import accounting_line
from audiovae.reporting.verdict import conclusion_lines

PRELOADED_FILES = 50  # files whose players load their durations with the page; later ones load when played
LISTENING_PAGES = {
    "mushra": "listening/mushra/index.html",
    "ab": "listening/ab/index.html",
    "preference": "listening/preference/index.html",
}


def file_gains(result: FileResult, names: Sequence[str]) -> dict:
    """Per metric, the file's improvement of enhanced over base in the metric's Δ units, signed so that positive
    is better whatever the metric's direction (NaN → None)."""
    return {name: file_improvement(name, result.value("base", name), result.value("enhanced", name)) for name in names}


def sort_options(names: Sequence[str]) -> str:
    """The sort menu of the per-file section: as evaluated, by name, and worst or best first by each metric's Δ."""
    options = [("order", "as evaluated"), ("name", "file name")]
    for name in names:
        options += [(f"worst:{name}", f"Δ {name}: worst first"), (f"best:{name}", f"Δ {name}: best first")]
    return "".join(f'<option value="{escape(v)}">{escape(label)}</option>' for v, label in options)


def marked_rows(result: FileResult, names: Sequence[str], gains: dict) -> tuple[list[str], list[list]]:
    """The file's metric table with each Δ cell marked better or worse (beyond the sign of zero)."""
    header, rows = file_metric_rows(result, names)
    for row, name in zip(rows, names):
        gain = gains[name]
        row[-1] = (row[-1], "" if not gain else "better" if gain > 0 else "worse")
    return header, rows


def file_article(result: FileResult, order: int, names: Sequence[str], folder: Path, facts: str = "") -> str:
    """One file's players, metric table, notes and figure; `facts` replace `file_facts` (a generated item: its
    prompt and seed)."""
    stem, gains = result.stem or output_stem(result.file), file_gains(result, names)
    preload = "metadata" if order < PRELOADED_FILES else "none"
    sources = [(variant, f"audio/{stem}.{variant}.wav") for variant in WAVE_NAMES]
    notes = f'<p class="note">Notes: {escape(result.notes)}</p>' if result.notes else ""
    return (
        f'<article class="file" tabindex="-1" data-order="{order}" data-file="{escape(result.file)}" '
        f"data-gains='{escape(json.dumps(gains))}'>"
        f'<h3>{escape(result.file)}</h3><p class="note">{escape(facts or file_facts(result))}</p>'
        f"{player_html(sources, folder, preload)}"
        f'<div class="row">{table_html(*marked_rows(result, names, gains))}</div>'
        f"{notes}{figure_html(f'plots/{stem}.png', f'{result.file}: spectrograms and error maps', folder)}"
        "</article>"
    )


def file_controls(names: Sequence[str], keys_note: str, delta_of: str = "enhanced over base") -> str:
    """The sort/limit/search controls `web/report.js` drives, and what the keys do."""
    return (
        f'<div class="controls"><label>Sort <select id="sort">{sort_options(names)}</select></label>'
        '<label>Show at most <input id="limit" type="number" min="0" placeholder="all"> files</label>'
        '<label>Name contains <input id="search" type="search"></label><span id="shown"></span></div>'
        f'<p class="keys">{escape(keys_note)} Space: play/pause; j/k: next/previous file. Δ sorting: per-file '
        f"improvement of {escape(delta_of)}, signed so that larger is better.</p>"
    )


def files_section(results: Sequence[FileResult], names: Sequence[str], folder: Path) -> str:
    """The per-file section: controls and one article per evaluated file."""
    ok = [r for r in results if r.status == OK]
    articles = "".join(file_article(r, i, names, folder) for i, r in enumerate(ok))
    return (
        '<section id="files"><h2>Per file</h2>'
        + file_controls(
            names, "Click a file, then 1, 2, ...: reference, (vocoder ceiling,) base, enhanced at the same position."
        )
        + f'<div id="file-list">{articles}</div></section>'
    )


def summary_section(summary: dict, folder: Path, results: Sequence[FileResult] = ()) -> str:
    """The summary section: the comparison table, its notes (with the speech models' domain, from `results`), the
    conclusion and the band retention."""
    metrics, stats, bands = summary["metrics"], summary["statistics"], summary["band_retention"]
    parts = [
        '<section id="summary"><h2>Summary</h2>',
        f'<div class="wide">{table_html(*comparison_rows(summary_lines(metrics)), cls="summary")}</div>',
        f'<p class="note">{escape(DELTA_NOTE)}</p>',
        *(f'<p class="note">{escape(line)}</p>' for line in summary_notes(metrics, stats["alpha"], results)),
        "<h2>Conclusion</h2><ul>",
        *(
            f"<li>{escape(line[2:] if line.startswith('- ') else line)}</li>"
            for line in conclusion_lines(metrics, stats["alpha"], stats["p_adjust"])
        ),
        "</ul>",
    ]
    sets = summary.get("sets", {})
    if sets:
        parts += [
            "<h2>Set metrics</h2>",
            f'<div class="wide">{table_html(*set_rows(sets, stats["alpha"]))}</div>',
            f'<p class="note">{escape(set_note(sets, stats["alpha"]))}</p>',
        ]
    if bands["n_files"]:
        parts += [
            "<h2>Where the high band goes</h2>",
            f'<p class="note">{escape(BAND_NOTE.format(n=bands["n_files"], cutoff=bands["cutoff_hz"]))}</p>',
            table_html(*band_rows(bands)),
            figure_html("plots/band_retention.png", "energy kept per band", folder),
        ]
    summary_png = figure_html("plots/summary.png", "per-file values, base and enhanced", folder)
    if summary_png:
        parts += ["<h2>Across files</h2>", summary_png]
    accounted = [accounting_line(summary["time_accounting"])] if summary.get("time_accounting") else []
    parts += [
        "<h2>Timing (mean seconds per file)</h2>",
        facts_html(timing_lines(summary["timings"]) + accounted),
        "</section>",
    ]
    return "".join(parts)


def listening_links(folder: Path) -> str:
    """Links to the run's blind listening pages that exist ("" when none)."""
    present = {mode: page for mode, page in LISTENING_PAGES.items() if (folder / page).exists()}
    if not present:
        return ""
    names = {
        "mushra": "MUSHRA-style ratings (0–100)",
        "ab": "A/B preference, base vs enhanced",
        "preference": "A/B preference without a reference, base vs enhanced decode of the same latents",
    }
    items = "".join(f'<li><a href="{link(page)}">{names[mode]}</a></li>' for mode, page in present.items())
    return (
        f'<section id="listening"><h2>Blind listening</h2><ul>{items}</ul><p class="note">Variant names hidden, '
        "order shuffled per file; answers download as JSON or CSV, and <code>python -m audiovae.listening score "
        "ANSWERS...</code> un-blinds them.</p></section>"
    )


def failed_section(results: Sequence[FileResult]) -> str:
    """The list of files that could not be evaluated, with why ("" when none)."""
    failed = [r for r in results if r.status != OK]
    if not failed:
        return ""
    return (
        '<section id="failed"><h2>Files that could not be evaluated</h2><ul>'
        + "".join(f"<li><code>{escape(r.file)}</code>: {escape(r.error)}</li>" for r in failed)
        + "</ul></section>"
    )


def write_report_html(path: Path, summary: dict, results: Sequence[FileResult]) -> Path:
    """`path` (in the run folder, whose audio/ and plots/ it links) for an evaluated setting."""
    folder, names = path.parent, list(summary["metrics"])
    body = (
        "<header><h1>Evaluation report: base vs enhanced VAE</h1>"
        + facts_html(run_facts(summary))
        + '<p class="note">Also: <a href="report.md">report.md</a>, <a href="results.csv">results.csv</a>, '
        '<a href="summary.json">summary.json</a>, <a href="columns.csv">columns.csv</a>.</p></header>'
        + summary_section(summary, folder, results)
        + listening_links(folder)
        + failed_section(results)
        + files_section(results, names, folder)
    )
    return write_page(path, "audiovae evaluation report", body, scripts=("player.js", "report.js"))
