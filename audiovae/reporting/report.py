"""report.md: a readable account of an evaluation, with a conclusion computed from the numbers."""
import math
from pathlib import Path
from typing import Sequence

from audiovae.data.files import output_stem
from audiovae.reporting.format import ComparisonLine, comparison_table, delta_unit, fmt, metric_label, signed_delta
from audiovae.reporting.records import OK, FileResult, file_delta, variants_of


def conclusion(metrics: dict, alpha: float = 0.05) -> list[str]:
    """Which metrics the enhancement improves or worsens, significantly (Wilcoxon p < alpha) or not."""
    better, worse, unclear = [], [], []
    for name, m in metrics.items():
        comp = m["comparison"]
        if comp["n"] == 0 or comp["headline_delta"] is None or not math.isfinite(comp["headline_delta"]):
            continue
        improved = (comp["delta"] > 0) == m["higher_is_better"] and comp["delta"] != 0
        significant = comp["wilcoxon_p"] is not None and math.isfinite(comp["wilcoxon_p"]) and comp["wilcoxon_p"] < alpha
        text = (f"{name} ({signed_delta(comp['headline_delta'], delta_unit(name))}, wins "
                f"{fmt(100 * comp['win_rate'], 0)} % of files)")
        if not significant:
            unclear.append(text)
        elif improved:
            better.append(text)
        else:
            worse.append(text)
    lines = []
    if better:
        lines.append(f"- Significantly better with the enhancement (Wilcoxon p < {alpha}): " + "; ".join(better) + ".")
    if worse:
        lines.append(f"- Significantly worse with the enhancement (Wilcoxon p < {alpha}): " + "; ".join(worse) + ".")
    if unclear:
        lines.append("- No significant difference: " + "; ".join(unclear) + ".")
    return lines or ["- Not enough evaluated files to compare base and enhanced."]


def summary_lines(metrics: dict) -> list[ComparisonLine]:
    """One comparison line per metric, with the vocoder ceiling's mean where the metric has one."""
    return [ComparisonLine(name, m["comparison"],
                           extra={"vocoder ceiling": m["variants"]["vocoder"]["mean"] if "vocoder" in m["variants"]
                                  else "–"})
            for name, m in metrics.items()]


def _file_section(result: FileResult, names: Sequence[str], plots_dir: Path | None) -> list[str]:
    lines = ["", f"### {result.file}", "",
             f"{fmt(result.evaluated_s, 2)} s evaluated of {fmt(result.duration_s, 2)} s (input "
             f"{int(result.sample_rate_in)} Hz, {int(result.channels_in)} ch)", "",
             "| metric | vocoder | base | enhanced | Δ |", "|---|---|---|---|---|"]
    for n in names:
        ceiling = fmt(result.value("vocoder", n)) if "vocoder" in variants_of(n) else "–"
        delta = signed_delta(file_delta(n, result.value("base", n), result.value("enhanced", n)), delta_unit(n))
        lines.append(f"| {metric_label(n)} | {ceiling} | {fmt(result.value('base', n))} | "
                     f"{fmt(result.value('enhanced', n))} | {delta} |")
    if result.notes:
        lines += ["", f"Notes: {result.notes}"]
    stem = output_stem(result.file)
    if plots_dir is not None and (plots_dir / f"{stem}.png").exists():
        lines += ["", f"![{result.file}](plots/{stem}.png)"]
    return lines


def write_report(path: Path, summary: dict, results: Sequence[FileResult], plots_dir: Path | None) -> Path:
    run, metrics, counts = summary["run"], summary["metrics"], summary["counts"]
    lines = [
        "# Evaluation report: base vs enhanced VAE", "",
        f"- run: `{run['out_dir']}` (config hash `{run['config_hash']}`)",
        f"- model: `{run['model']}`; enhancement: `{run['enhancement']}`",
        f"- files: {counts['ok']} evaluated, {counts['failed']} failed, of {counts['files']}; "
        f"{fmt(run['audio_seconds'], 1)} s of audio at {run['sample_rate']} Hz",
        f"- device: {run['device']}; throughput {fmt(run['throughput_audio_s_per_s'], 2)} s of audio per second",
        "- reference: the model-rate waveform after the front end's normalisation, so every signal shares one scale",
        "", "## Summary", "",
        *comparison_table(summary_lines(metrics)),
        "", "Improvement is enhanced − base for dB metrics and the percent change of the mean otherwise.",
        "", "## Conclusion", "", *conclusion(metrics), "", "## Timing (mean seconds per file)", "",
    ]
    timing = summary["timings"]
    lines += [f"- {stage}: {fmt(sec, 4)}" for stage, sec in timing.items() if stage != "enhancer_share_of_decode"]
    if "enhancer_share_of_decode" in timing:
        lines.append(f"- the enhancer is {fmt(100 * timing['enhancer_share_of_decode'], 2)} % of the enhanced decode")
    failed = [r for r in results if r.status != OK]
    if failed:
        lines += ["", "## Files that could not be evaluated", ""]
        lines += [f"- `{r.file}`: {r.error}" for r in failed]
    if plots_dir is not None and (plots_dir / "summary.png").exists():
        lines += ["", "## Across files", "", "![summary](plots/summary.png)"]
    lines += ["", "## Per file"]
    for result in results:
        if result.status == OK:
            lines += _file_section(result, list(metrics), plots_dir)
    path.write_text("\n".join(lines) + "\n")
    return path
