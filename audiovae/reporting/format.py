"""How numbers and metrics are written for people: one number format, one metric label (direction and unit),
and one comparison table shared by the report, the sweep and compare.

>>> fmt(1.23456), fmt(float("nan")), fmt(None)
('1.235', 'n/a', 'n/a')
>>> metric_label("snr"), metric_label("snr", unit=True), metric_label("lsd", unit=True)
('snr ↑', 'snr (dB) ↑', 'lsd ↓')
>>> delta_unit("snr"), delta_unit("lsd"), signed_delta(2.5, "dB"), signed_delta(-4.0, "%")
('dB', '%', '+2.500 dB', '-4.000 %')
"""
import math
from dataclasses import dataclass, field
from typing import Optional, Sequence

from audiovae.metrics.base import PERCENT
from audiovae.metrics.registry import metric_info


def fmt(value, digits: int = 3) -> str:
    """`value` with `digits` decimals; None, NaN and ±inf read "n/a"."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{value:.{digits}f}"


def arrow(name: str) -> str:
    return "↑" if metric_info(name).higher_is_better else "↓"


def metric_label(name: str, unit: bool = False) -> str:
    """`name ↑` (which way is better); with `unit`, `name (unit) ↑` where the metric has a unit."""
    text = metric_info(name).unit if unit else ""
    return f"{name} ({text}) {arrow(name)}" if text else f"{name} {arrow(name)}"


def delta_unit(name: str) -> str:
    """The unit of a metric's headline Δ: `%` for a percent change, else the metric's own unit."""
    info = metric_info(name)
    return "%" if info.delta_kind == PERCENT else info.unit


def signed_delta(value: Optional[float], unit: str) -> str:
    """`+1.234 %`, `-0.500 dB`: a Δ with its sign and unit."""
    if value is None or not math.isfinite(value):
        return "n/a"
    return f"{'+' if value >= 0 else ''}{fmt(value)}{' ' + unit if unit else ''}"


def _percent(share: Optional[float]) -> str:
    return f"{fmt(100 * share, 0)} %" if share is not None and math.isfinite(share) else "n/a"


@dataclass
class ComparisonLine:
    """One row of a comparison table: a metric's paired comparison (`PairedComparison.as_dict()`), with leading
    `labels` (e.g. the setting, or runs A and B) and `extra` numeric columns (e.g. the vocoder ceiling)."""

    metric: str
    comparison: dict
    labels: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)


def comparison_table(lines: Sequence[ComparisonLine], a: str = "base", b: str = "enhanced",
                     delta: str = "improvement", wins: str = "win rate") -> list[str]:
    """A markdown table: metric (and which way is better), labels, extra columns (numbers, or text as given),
    mean of A and of B, the headline Δ with its unit, B's win rate, the 95 % bootstrap CI of Δ and the Wilcoxon p."""
    if not lines:
        return []
    label_names, extra_names = list(lines[0].labels), list(lines[0].extra)
    header = ["metric", *label_names, *extra_names, a, b, delta, wins, "95 % CI of Δ", "Wilcoxon p"]
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for line in lines:
        c, unit = line.comparison, delta_unit(line.metric)
        cells = [metric_label(line.metric), *(str(line.labels[k]) for k in label_names),
                 *(fmt(line.extra[k]) if not isinstance(line.extra[k], str) else line.extra[k] for k in extra_names),
                 fmt(c["base_mean"]), fmt(c["enhanced_mean"]), signed_delta(c["headline_delta"], unit),
                 _percent(c["win_rate"]), f"[{fmt(c['ci_low'])}, {fmt(c['ci_high'])}]", fmt(c["wilcoxon_p"], 4)]
        out.append("| " + " | ".join(cells) + " |")
    return out
