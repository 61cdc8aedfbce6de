"""report.md: a readable account of an evaluation, with a conclusion computed from the numbers."""

from pathlib import Path
from typing import Optional, Sequence
from urllib.parse import quote

from audiovae.data.files import output_stem
from audiovae.metrics.functional.lag import CLEAR_PEAK
from audiovae.metrics.sets import SET_METRICS
from audiovae.metrics.speech_activity import OUT_OF_DOMAIN
from audiovae.models.variants import CEILING, REFERENCE
from audiovae.reporting.format import (
    ComparisonLine,
    comparison_table,
    delta_unit,
    fmt,
    known_metrics,
    markdown_table,
    metric_label,
    min_p_note,
    scale_notes,
    signed_delta,
)
from audiovae.reporting.records import OK, VARIANTS, FileResult, file_delta, file_improvement, variants_of
from audiovae.reporting.summary import accounting_line
from audiovae.reporting.verdict import conclusion_lines


def summary_lines(metrics: dict) -> list[ComparisonLine]:
    """One comparison line per metric, with the reference's own mean where a reference-free metric scored it (the
    original's value: what the decodes are measured against) and the vocoder ceiling's where the metric has one (a
    model without a ceiling has no such column); a target metric shows its raw means beside their distances to the
    target."""
    lines = []
    columns = [
        (variant, label)
        for variant, label in ((REFERENCE, "reference"), (CEILING, "vocoder ceiling"))
        if any(variant in m["variants"] for m in metrics.values())
    ]
    for name, m in metrics.items():
        v, extra = m["variants"], {}
        for variant, label in columns:
            extra[label] = fmt(v[variant]["mean"]) if variant in v else "–"
            if "scores" in m and variant in v:
                extra[label] += f" ({fmt(m['scores'][variant]['mean'])} dB off)"
        raw = (v["base"]["mean"], v["enhanced"]["mean"]) if "scores" in m else None
        lines.append(ComparisonLine(name, m["comparison"], extra=extra, raw=raw))
    return lines


def file_facts(result: FileResult) -> str:
    """A file's line: seconds evaluated of its length, its input rate and channels."""
    return (
        f"{fmt(result.evaluated_s, 2)} s evaluated of {fmt(result.duration_s, 2)} s (input "
        f"{int(result.sample_rate_in)} Hz, {int(result.channels_in)} ch)"
    )


def file_metric_rows(result: FileResult, names: Sequence[str]) -> tuple[list[str], list[list[str]]]:
    """A file's metric table: per metric the reference's own value (reference-free metrics), the vocoder ceiling,
    base, enhanced and the Δ of the scores."""
    extra = [v for v in (REFERENCE, CEILING) if v in result.metrics]
    header = ["metric", *extra, "base", "enhanced", "Δ (better: ↑ above 0, ↓ and → below)"]
    rows = []
    for n in names:
        cells = [fmt(result.value(v, n)) if v in variants_of(n, (v,)) else "–" for v in extra]
        delta = signed_delta(file_delta(n, result.value("base", n), result.value("enhanced", n)), delta_unit(n))
        rows.append([metric_label(n), *cells, fmt(result.value("base", n)), fmt(result.value("enhanced", n)), delta])
    return header, rows


def _file_section(result: FileResult, names: Sequence[str], plots_dir: Path | None) -> list[str]:
    lines = ["", f"### {result.file}", "", file_facts(result), "", *markdown_table(*file_metric_rows(result, names))]
    if result.notes:
        lines += ["", f"Notes: {result.notes}"]
    stem = result.stem or output_stem(result.file)
    if plots_dir is not None and (plots_dir / f"{stem}.png").exists():  # a link that works for any name
        lines += ["", f"![{result.file}](plots/{quote(stem)}.png)"]
    return lines


def alignment_lines(alignment: dict) -> list[str]:
    """The vocoder alignment check in words, and a warning when the ceiling is not aligned with the reference."""
    if not alignment.get("n_files"):
        return []
    a, n = alignment, alignment["n_files"]
    if not a["median_corr"] >= CLEAR_PEAK:  # NaN included
        return [
            f"vocoder alignment: no clear cross-correlation peak between the vocoder ceiling and the reference "
            f"(median normalised correlation {a['median_corr']:.2f} < {CLEAR_PEAK:g} over {n} files): its output "
            "does not follow the reference's waveform closely enough to measure a lag"
        ]
    lines = [
        f"vocoder alignment: the vocoder ceiling's lag against the reference (cross-correlation peak within "
        f"±{a['max_lag_samples']} samples) is {a['median_lag_samples']:g} samples in the median "
        f"(range {a['min_lag_samples']:g} to {a['max_lag_samples_found']:g}; {a['files_off']} of {n} files not "
        f"at 0; median normalised correlation {a['median_corr']:.2f}); waveform metrics compare reconstruction "
        f"sample t + {a['align_samples']} with reference sample t"
    ]
    warning = alignment_warning(a)
    return lines + ([warning] if warning else [])


def alignment_warning(alignment: dict) -> Optional[str]:
    """The warning when a clear cross-correlation peak sits off the applied shift in the median; None otherwise. The
    value it suggests is an integer (the median of an even count of lags can fall between two)."""
    a = alignment
    if not a.get("n_files") or not a["median_corr"] >= CLEAR_PEAK or a["median_lag_samples"] == a["align_samples"]:
        return None
    return (
        f"WARNING: the vocoder ceiling is {a['median_lag_samples'] - a['align_samples']:g} samples "
        f"({a['median_lag_ms']:.2f} ms before compensation) off the reference in the median: the front "
        "end's framing may not match the model's own preprocessing (frontend.framing and frontend.* against its "
        "config), and waveform metrics (snr, si_sdr, ...) count the misalignment as error; "
        f"metrics.align_samples={round(a['median_lag_samples'])} (or metrics.align=vocoder_lag, which measures it "
        "before the run) compensates a constant lag"
    )


def run_facts(summary: dict) -> list[str]:
    """The report's opening facts: run, model, files, device."""
    run, counts = summary["run"], summary["counts"]
    interface = run.get("model_interface") or {}
    family = (
        f" ({interface['family']} family, {interface['sample_rate']} Hz, {interface['channels']} ch)"
        if "family" in interface
        else ""
    )
    config = run.get("config") or {}
    common = config.get("metrics", {}).get("common_rate")
    prepared = (
        "after the front end's normalisation"
        if config.get("frontend", {}).get("normalize", True)
        else "as read (frontend.normalize=false)"
    )
    reference = (
        f"reference: the model-rate waveform {prepared}, so every signal shares one scale"
        if not common
        else f"reference: waveform metrics at the common rate {common} Hz (the file read at that rate, on the "
        f"model-rate reference's scale; reconstructions resampled to it); mel-domain metrics on the model's "
        f"own log-mel"
    )
    return [
        f"run: {run['out_dir']} (config hash {run['config_hash']})",
        f"model: {run['model']}{family}; enhancement: {run['enhancement']}",
        f"files: {counts['ok']} evaluated, {counts['failed']} failed, of {counts['files']}; "
        f"{fmt(run['audio_seconds'], 1)} s of audio at {run['sample_rate']} Hz",
        f"device: {run['device']}; throughput {fmt(run['throughput_audio_s_per_s'], 2)} s of audio per second",
        reference,
        *protocol_lines(config.get("protocol") or {}),
        *loudness_lines(config.get("metrics", {})),
        *lsd_scaling_lines(config.get("metrics", {})),
        *alignment_lines(summary.get("alignment", {})),
    ]


def speech_domain_lines(results: Sequence[FileResult], names: Sequence[str]) -> list[str]:
    """A line when files' references are not speech-like while a speech model among the measured `names` read them
    (their notes say `OUT_OF_DOMAIN`, audiovae.metrics.speech_activity)."""
    ok = [r for r in results if r.status == OK]
    flagged = [r for r in ok if OUT_OF_DOMAIN in r.notes]
    if not flagged:
        return []
    models = ", ".join(name for name, info in known_metrics(names).items() if info.speech_only)
    return [
        f"{len(flagged)} of {len(ok)} files' references are not speech-like (speech in under half of their 32 ms "
        f"windows, Silero VAD): there the values of the speech models measured ({models}) are {OUT_OF_DOMAIN}."
    ]


def loudness_lines(metrics: dict) -> list[str]:
    """The loudness normalisation of a run's waveform metrics (`metrics.loudness_normalize`), when it has one."""
    target = metrics.get("loudness_normalize")
    if target is None:
        return []
    return [
        f"waveform metrics after loudness normalisation: the reference and each reconstruction scaled to {target:g} "
        f"LUFS integrated loudness (BS.1770, metrics.loudness_normalize); mel-domain metrics, set-metric embeddings "
        f"and the saved audio as decoded"
    ]


def protocol_lines(protocol: dict) -> list[str]:
    """The protocol a run measured under (`protocol=dac`): the tool whose numbers it reproduces and the tool's names
    of its columns."""
    if protocol.get("name", "none") == "none":
        return []
    columns = ", ".join(f"{ours} = {theirs}" for ours, theirs in (protocol.get("columns") or {}).items())
    return [
        f"protocol {protocol['name']}: the metrics of {protocol.get('tool', '')}" + (f" ({columns})" if columns else "")
    ]


def lsd_scaling_lines(metrics: dict) -> list[str]:
    """The LSD scaling rule of a run that measures lsd, lsd_hf or lsd_lf (`metrics.lsd.scaling`)."""
    measured = [n for n in metrics.get("names", []) if n in ("lsd", "lsd_hf", "lsd_lf")]
    if not measured:
        return []
    if metrics.get("lsd", {}).get("scaling", "raw") == "low_band_energy":
        rule = (
            "each reconstruction scaled first to the reference's mean STFT magnitude in the lowest 10 % of the bins "
            "(metrics.lsd.scaling=low_band_energy, AudioSR's evaluation)"
        )
    else:
        rule = "spectra as they are, a level difference counts (metrics.lsd.scaling=raw)"
    return [f"{', '.join(measured)}: {rule}"]


DELTA_NOTE = (
    "Δ is enhanced − base for dB metrics, the percent change of the mean for ratio-valued ones, and for a "
    "target metric (→) the change in distance to the target (dB; negative is closer). Better in: files "
    "where enhanced is better beyond the numerical tolerance."
)


def reference_lines(metrics: dict) -> list[str]:
    """What the reference column holds, where a reference-free metric scored the original itself."""
    names = [name for name, m in metrics.items() if REFERENCE in m["variants"]]
    if not names:
        return []
    return [
        f"reference: the original's own value of the metrics that read one signal ({', '.join(names)}): what its "
        "decodes are read against; the comparison and the verdicts are base against enhanced."
    ]


def summary_notes(metrics: dict, alpha: float, results: Sequence[FileResult]) -> list[str]:
    """The notes under an evaluation's summary table (report.md and report.html write the same): what the reference
    column holds, the smallest p the test can reach, the metrics' scale notes, the speech models' domain."""
    return [
        *reference_lines(metrics),
        *min_p_note([m["comparison"] for m in metrics.values()], alpha),
        *scale_notes(list(metrics)),
        *speech_domain_lines(results, list(metrics)),
    ]


def timing_lines(timing: dict) -> list[str]:
    """The timing section's lines: mean seconds per stage and the enhancer's share of its decode."""
    lines = [f"{stage}: {fmt(sec, 4)}" for stage, sec in timing.items() if stage != "enhancer_share_of_decode"]
    if "enhancer_share_of_decode" in timing:
        lines.append(f"the enhancer is {fmt(100 * timing['enhancer_share_of_decode'], 2)} % of the enhanced decode")
    return lines


def write_report(path: Path, summary: dict, results: Sequence[FileResult], plots_dir: Path | None) -> Path:
    """report.md of an evaluation setting: facts, the summary table, the conclusion, where the high band goes, timings,
    failed files and the per-file details (bounded by outputs.report_files)."""
    metrics, stats = summary["metrics"], summary["statistics"]
    lines = [
        "# Evaluation report: base vs enhanced VAE",
        "",
        *(f"- {fact}" for fact in run_facts(summary)),
        "",
        "## Summary",
        "",
        *comparison_table(summary_lines(metrics)),
        "",
        DELTA_NOTE,
        *summary_notes(metrics, stats["alpha"], results),
        "",
        "## Conclusion",
        "",
        *conclusion_lines(metrics, stats["alpha"], stats["p_adjust"]),
        "",
        *set_section(summary.get("sets", {}), stats["alpha"]),
        "## Timing (mean seconds per file)",
        "",
        *(f"- {line}" for line in timing_lines(summary["timings"])),
        *([f"- {accounting_line(summary['time_accounting'])}"] if summary.get("time_accounting") else []),
    ]
    failed = [r for r in results if r.status != OK]
    if failed:
        lines += ["", "## Files that could not be evaluated", ""]
        lines += [f"- `{r.file}`: {r.error}" for r in failed]
    lines += ["", *band_section(summary["band_retention"], plots_dir)]
    if plots_dir is not None and (plots_dir / "summary.png").exists():
        lines += ["", "## Across files", "", "![summary](plots/summary.png)"]
    listed, note = listed_files(results, summary)
    lines += ["", "## Per file", *([] if not note else ["", note])]
    for result in listed:
        lines += _file_section(result, list(metrics), plots_dir)
    path.write_text("\n".join(lines) + "\n")
    return path


def ranking_metric(summary: dict) -> str:
    """What orders the files of a long report: `select.metric` when measured per file, else the first metric."""
    names = list(summary["metrics"])
    chosen = ((summary["run"].get("config") or {}).get("select") or {}).get("metric")
    return chosen if chosen in names else names[0]


def listed_files(results: Sequence[FileResult], summary: dict, noun: str = "files") -> tuple[list[FileResult], str]:
    """The evaluated files report.md details: all of them up to `outputs.report_files`; past it the half with the
    worst and the half with the best per-file improvement in `ranking_metric` (every file stays in results.csv and
    report.html), with the sentence that says so."""
    ok = [r for r in results if r.status == OK]
    limit = ((summary["run"].get("config") or {}).get("outputs") or {}).get("report_files")
    if limit is None or len(ok) <= limit or not summary["metrics"]:
        return ok, ""
    metric = ranking_metric(summary)
    gains = [
        (file_improvement(metric, r.value("base", metric), r.value("enhanced", metric)), i) for i, r in enumerate(ok)
    ]
    ranked = [i for gain, i in sorted((g, i) for g, i in gains if g is not None)]
    n_worst = min(limit // 2, len(ranked))
    n_best = min(limit - n_worst, len(ranked) - n_worst)
    worst, best = ranked[:n_worst], ranked[len(ranked) - n_best :][::-1]
    note = (
        f"{len(ok)} {noun}: listed below are the {len(worst)} with the worst and the {len(best)} with the best "
        f"improvement in {metric} (outputs.report_files={limit}); every one is in results.csv and report.html."
    )
    return [ok[i] for i in worst + best], note


def interval(value: float, ci) -> str:
    """`value [low, high]` (the value alone without a CI)."""
    return f"{fmt(value)} [{fmt(ci[0])}, {fmt(ci[1])}]" if ci else fmt(value)


def set_rows(sets: dict, alpha: float) -> tuple[list[str], list[list[str]]]:
    """Per set metric: each variant's value with its CI (the model's variants: a vocoder ceiling only for mel
    models), enhanced − base with its CI and what that says."""
    level = f"{100 * (1 - alpha):g} %"
    variants = [v for v in VARIANTS if any(v in s["variants"] for s in sets.values())]
    names = (
        {CEILING: f"vocoder ceiling [{level} CI]"}
        if variants[0] == CEILING
        else {variants[0]: f"{variants[0]} [{level} CI]"}
    )
    header = ["metric", *(names.get(v, v) for v in variants), "Δ (enhanced − base)", "enhanced vs base"]
    rows = []
    for name, s in sets.items():
        v, delta = s["variants"], s.get("delta")
        said = (
            {
                "lower": "lower: closer to the reference set",
                "higher": "higher: further from the reference set",
                "not distinguishable": "not distinguishable at this set size",
            }.get(delta["enhanced_vs_base"], "")
            if delta
            else f"undefined with {s['n_files']} file(s)"
        )
        arrow = "↓" if s["direction"] == "lower" else "↑"
        rows.append(
            [
                f"{name} {arrow}",
                *(interval(v[k]["value"], v[k].get("ci")) if k in v else "–" for k in variants),
                interval(delta["value"], delta["ci"]) if delta else "n/a",
                said,
            ]
        )
    return header, rows


def set_note(sets: dict, alpha: float) -> str:
    """Each set metric's sentence (`SetMetric.note`) about what its values are."""
    return " ".join(
        SET_METRICS[name].note.format(
            n=s["n_files"], embedding=s["embedding"], level=f"{100 * (1 - alpha):g}", boot=s["bootstrap_samples"]
        )
        for name, s in sets.items()
        if name in SET_METRICS
    )


def set_section(sets: dict, alpha: float) -> list[str]:
    """The set metrics (FAD): one value per variant for the whole set of files."""
    if not sets:
        return []
    return ["## Set metrics", "", *markdown_table(*set_rows(sets, alpha)), "", set_note(sets, alpha), ""]


BAND_NOTE = (
    "Energy each reconstruction keeps per mel band, relative to the reference (dB; 0 = kept, negative = "
    "lost, positive = added), averaged over {n} files and over the bands below and above {cutoff:g} Hz "
    "(per file and band: band_retention.csv)."
)


def band_rows(bands: dict) -> tuple[list[str], list[list[str]]]:
    """The band-retention table: per variant the mean dB below and above the cutoff."""
    return (
        ["variant", "below cutoff (dB)", "above cutoff (dB)"],
        [
            [v, signed_delta(bands["below_cutoff_db"][v], ""), signed_delta(bands["above_cutoff_db"][v], "")]
            for v in bands["mean_db"]
        ],
    )


def band_section(bands: dict, plots_dir: Path | None) -> list[str]:
    """Where the high band goes: mean retention above and below the cutoff per variant, and the per-band plot."""
    if not bands["n_files"]:
        return []
    lines = [
        "## Where the high band goes",
        "",
        BAND_NOTE.format(n=bands["n_files"], cutoff=bands["cutoff_hz"]),
        "",
        *markdown_table(*band_rows(bands)),
    ]
    if plots_dir is not None and (plots_dir / "band_retention.png").exists():
        lines += ["", "![band retention](plots/band_retention.png)"]
    return lines
