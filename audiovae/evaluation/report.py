"""report.md: a readable account of an evaluation, with a conclusion computed from the numbers."""
import math
from pathlib import Path

from audiovae.data.files import output_stem
from audiovae.evaluation.results import OK


def fmt(value, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{value:.{digits}f}"


def _improvement(comp: dict) -> str:
    sign = "+" if (comp["headline_delta"] or 0) >= 0 else ""
    unit = " %" if comp["delta_kind"] == "percent" else ""
    return f"{sign}{fmt(comp['headline_delta'])}{unit}"


def conclusion(metrics: dict, alpha: float = 0.05) -> list[str]:
    """Which metrics the enhancement improves or worsens, significantly (Wilcoxon p < alpha) or not."""
    better, worse, unclear = [], [], []
    for name, m in metrics.items():
        comp = m["comparison"]
        if comp["n"] == 0 or comp["headline_delta"] is None or not math.isfinite(comp["headline_delta"]):
            continue
        improved = (comp["delta"] > 0) == m["higher_is_better"] and comp["delta"] != 0
        significant = comp["wilcoxon_p"] is not None and math.isfinite(comp["wilcoxon_p"]) and comp["wilcoxon_p"] < alpha
        text = f"{name} ({_improvement(comp)}, wins {fmt(100 * comp['win_rate'], 0)} % of files)"
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


def write_report(path: Path, summary: dict, rows: list[dict], plots_dir: Path | None) -> Path:
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
        "| metric | vocoder ceiling | base | enhanced | improvement | win rate | 95 % CI of Δ | Wilcoxon p |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, m in metrics.items():
        v, comp = m["variants"], m["comparison"]
        arrow = "↑" if m["higher_is_better"] else "↓"
        ceiling = fmt(v["vocoder"]["mean"]) if "vocoder" in v else "–"
        lines.append(f"| {name} {arrow} | {ceiling} | {fmt(v.get('base', {}).get('mean'))} | "
                     f"{fmt(v.get('enhanced', {}).get('mean'))} | {_improvement(comp)} | "
                     f"{fmt(100 * comp['win_rate'] if comp['win_rate'] is not None else None, 0)} % | "
                     f"[{fmt(comp['ci_low'])}, {fmt(comp['ci_high'])}] | {fmt(comp['wilcoxon_p'], 4)} |")
    lines += ["", "Improvement is enhanced − base for dB metrics and the percent change of the mean otherwise.",
              "", "## Conclusion", "", *conclusion(metrics), "", "## Timing (mean seconds per file)", ""]
    timing = summary["timings"]
    lines += [f"- {stage}: {fmt(sec, 4)}" for stage, sec in timing.items() if stage != "enhancer_share_of_decode"]
    if "enhancer_share_of_decode" in timing:
        lines.append(f"- the enhancer is {fmt(100 * timing['enhancer_share_of_decode'], 2)} % of the enhanced decode")
    failed = [r for r in rows if r["status"] != OK]
    if failed:
        lines += ["", "## Files that could not be evaluated", ""]
        lines += [f"- `{r['file']}`: {r['error']}" for r in failed]
    if plots_dir is not None and (plots_dir / "summary.png").exists():
        lines += ["", "## Across files", "", "![summary](plots/summary.png)"]
    lines += ["", "## Per file"]
    names = list(metrics)
    for r in rows:
        if r["status"] != OK:
            continue
        lines += ["", f"### {r['file']}", "", f"{fmt(r['evaluated_s'], 2)} s evaluated of {fmt(r['duration_s'], 2)} s "
                  f"(input {int(r['sample_rate_in'])} Hz, {int(r['channels_in'])} ch)", "",
                  "| metric | vocoder | base | enhanced | Δ |", "|---|---|---|---|---|"]
        for n in names:
            lines.append(f"| {n} | {fmt(r.get(f'vocoder_{n}')) if f'vocoder_{n}' in r else '–'} | "
                         f"{fmt(r[f'base_{n}'])} | {fmt(r[f'enhanced_{n}'])} | {fmt(r[f'delta_{n}'])} |")
        if r.get("notes"):
            lines += ["", f"Notes: {r['notes']}"]
        stem = output_stem(r["file"])
        if plots_dir is not None and (plots_dir / f"{stem}.png").exists():
            lines += ["", f"![{r['file']}](plots/{stem}.png)"]
    path.write_text("\n".join(lines) + "\n")
    return path
