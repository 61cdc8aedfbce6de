"""How numbers and metrics are written for people: one number format, one metric label (direction and unit),
and one comparison table shared by the report, the sweep and compare.

>>> fmt(1.23456), fmt(float("nan")), fmt(None)
('1.235', 'n/a', 'n/a')
>>> metric_label("snr"), metric_label("snr", unit=True), metric_label("lsd", unit=True)
('snr ↑', 'snr (dB) ↑', 'lsd ↓')
>>> metric_label("hf_retention")
'hf_retention → 100 %'
>>> delta_unit("snr"), delta_unit("lsd"), delta_unit("hf_retention"), signed_delta(-4.0, "%")
('dB', '%', 'dB', '-4.000 %')
"""

import math
from dataclasses import dataclass, field
from typing import Optional, Sequence

from audiovae.errors import ConfigError
from audiovae.metrics.registry import metric_info
from audiovae.metrics.scoring import scoring
from audiovae.metrics.stats import is_finite


def fmt(value, digits: int = 3) -> str:
    """`value` with `digits` decimals; None, NaN and ±inf read "n/a"."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{value:.{digits}f}"


def arrow(name: str) -> str:
    """Which way is better: ↑, ↓, or `→ <target> <unit>` for a target metric."""
    s = scoring(name)
    if s.is_target:
        return f"→ {s.target:g}{' ' + s.value_unit if s.value_unit else ''}"
    return "↑" if s.higher_is_better else "↓"


def metric_label(name: str, unit: bool = False) -> str:
    """`name ↑` (which way is better); with `unit`, `name (unit) ↑` where the metric has a unit."""
    text = metric_info(name).unit if unit and not scoring(name).is_target else ""
    return f"{name} ({text}) {arrow(name)}" if text else f"{name} {arrow(name)}"


def delta_unit(name: str) -> str:
    """The unit of a metric's headline Δ: `%` for a percent change, dB for a target metric's distance, else the
    metric's own unit."""
    return scoring(name).delta_unit


def signed_delta(value: Optional[float], unit: str) -> str:
    """`+1.234 %`, `-0.500 dB`: a Δ with its sign and unit."""
    if value is None or not math.isfinite(value):
        return "n/a"
    return f"{'+' if value >= 0 else ''}{fmt(value)}{' ' + unit if unit else ''}"


@dataclass
class ComparisonLine:
    """One row of a comparison table: a metric's paired comparison of scores (`PairedComparison.as_dict()`), with
    leading `labels` (e.g. the setting, or runs A and B), `extra` numeric columns (e.g. the vocoder ceiling), and
    for a target metric the `raw` means of A and B (shown beside their distances to the target)."""

    metric: str
    comparison: dict
    labels: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)
    raw: Optional[tuple] = None


def _mean_cell(line: ComparisonLine, side: int) -> str:
    score = line.comparison["base_mean" if side == 0 else "enhanced_mean"]
    if line.raw is None:
        return fmt(score)
    return f"{fmt(line.raw[side])} ({fmt(score)} dB off)"


def _better_in(c: dict) -> str:
    if not c["n"]:
        return "n/a"
    return f"{c['wins']}/{c['n']}" + (f" ({c['ties']} tied)" if c.get("ties") else "")


def _median_cell(c: dict, unit: str) -> str:
    return f"{fmt(c['median_delta'])} [{fmt(c['median_ci_low'])}, {fmt(c['median_ci_high'])}]" + (
        f" {unit}" if unit and unit != "%" else ""
    )


def comparison_rows(
    lines: Sequence[ComparisonLine], a: str = "base", b: str = "enhanced", delta: str = "Δ", wins: str = "better in"
) -> tuple[list[str], list[list[str]]]:
    """The comparison table's header and text cells: metric (its unit, and which way is better), labels, extra
    columns (numbers, or text), mean of A and of B, the headline Δ with its unit, in how many files B is better
    (ties within the numerical tolerance), the 95 % bootstrap CI of Δ, the median per-file difference with its CI
    (effect size), the Wilcoxon p and the p corrected for the metrics tested together. Markdown and HTML writers
    render these same cells."""
    if not lines:
        return [], []
    label_names, extra_names = list(lines[0].labels), list(lines[0].extra)
    header = [
        "metric",
        *label_names,
        *extra_names,
        a,
        b,
        delta,
        wins,
        "95 % CI of Δ",
        "median Δ [95 % CI]",
        "Wilcoxon p",
        "corrected p",
    ]
    rows = []
    for line in lines:
        c, unit = line.comparison, delta_unit(line.metric)
        cells = [
            metric_label(line.metric, unit=True),
            *(str(line.labels[k]) for k in label_names),
            *(fmt(line.extra[k]) if not isinstance(line.extra[k], str) else line.extra[k] for k in extra_names),
            _mean_cell(line, 0),
            _mean_cell(line, 1),
            signed_delta(c["headline_delta"], unit),
            _better_in(c),
            f"[{fmt(c['ci_low'])}, {fmt(c['ci_high'])}]",
            _median_cell(c, scoring(line.metric).unit),
            fmt(c["wilcoxon_p"], 4),
            fmt(c.get("p_adjusted"), 4),
        ]
        rows.append(cells)
    return header, rows


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """`| a | b |` lines; no lines for an empty table."""
    if not header:
        return []
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header), *("| " + " | ".join(r) + " |" for r in rows)]


def comparison_table(lines: Sequence[ComparisonLine], **names) -> list[str]:
    """The comparison table (`comparison_rows`) as markdown lines."""
    return markdown_table(*comparison_rows(lines, **names))


def known_metrics(names: Sequence[str]) -> dict:
    """`metric_info` of each of `names` this installation knows (a run read back may name a plugin's metric that it
    does not)."""
    known = {}
    for name in names:
        try:
            known[name] = metric_info(name)
        except ConfigError:
            continue
    return known


def scale_notes(names: Sequence[str]) -> list[str]:
    """One line per note of the measured metrics whose values reach less (or otherwise) than their range suggests
    (`PerItemMetric.scale_note`: ViSQOL's audio mode tops out at 4.73), naming the metrics it is about."""
    by_note: dict[str, list[str]] = {}
    for name, info in known_metrics(names).items():
        if info.scale_note:
            by_note.setdefault(info.scale_note, []).append(name)
    return [f"{', '.join(about)}: {note}." for note, about in by_note.items()]


def min_p_note(comparisons: Sequence[dict], alpha: float) -> list[str]:
    """A line when, with the files at hand, no Wilcoxon p can fall below `alpha`."""
    reachable = [c["min_p"] for c in comparisons if is_finite(c.get("min_p"))]
    if reachable and min(reachable) >= alpha:
        n = max(c["wins"] + c["losses"] for c in comparisons)
        return [
            f"With {n} untied files no Wilcoxon p can fall below {min(reachable):.4g} (2 / 2^n) ≥ α = "
            f"{alpha:g}: no metric can be called significant; read the signs, CIs and effect sizes."
        ]
    return []
