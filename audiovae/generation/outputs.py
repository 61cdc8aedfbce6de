"""The outputs of one generation setting: results.csv, columns.csv, summary.json, the summary plot, report.md,
report.html (A/B players per prompt), the blind preference page and its W&B run; and a sweep's comparison."""

import re
from html import escape
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
from omegaconf import OmegaConf

from audiovae.generation.records import VARIANTS, GeneratedResult, generated_row
from audiovae.listening.blind import write_listening_pages
from audiovae.metrics.registry import file_metric_names
from audiovae.metrics.sets import SET_METRICS, set_metric_names
from audiovae.reporting.format import comparison_table, fmt, markdown_table, min_p_note
from audiovae.reporting.html import facts_html, write_page
from audiovae.reporting.records import OK, column_units, decode_embedding, write_csv
from audiovae.reporting.report import (
    DELTA_NOTE,
    file_metric_rows,
    listed_files,
    set_section,
    summary_lines,
    timing_lines,
)
from audiovae.reporting.report_html import failed_section, file_article, file_controls, listening_links, summary_section
from audiovae.reporting.summary import accounting_line, write_json
from audiovae.reporting.tracking import files_table, summary_keys, wandb_run
from audiovae.reporting.verdict import conclusion_lines
from audiovae.runs.settings import Setting
from audiovae.runs.summary import plot_summary, summary_core, swept_keys

REFERENCE_FREE_NOTE = (
    "The reference-free metrics (hf_energy_share, rolloff_*, effective_bandwidth, hf_flatness) say "
    "how much high band the decodes carry and how it is shaped, not whether it is right: more is "
    "what the enhancement aims at, but a noise burst also scores. Judge realism with fad/kl_softmax "
    "against reference recordings, clap_score for the prompt, and the blind preference page."
)
EXTRA_SETTING = ("enhanced_decode", "enhanced_vocoder")  # what one more enhancer setting costs per item
ITEM_WORK = ("diffusion", "base_decode", "vocoder", *EXTRA_SETTING)


def setting_cost(results: Sequence[GeneratedResult]) -> dict:
    """The share of one item's generation time (diffusion, base decode and vocoder, enhanced decode and vocoder)
    that its enhancer setting costs, over the items whose diffusion ran in this run (cached ones cost none)."""
    ran = [r for r in results if r.status == OK and not r.from_cache and r.seconds.get("diffusion", 0) > 0]
    if not ran:
        return {"items": 0}
    mean = {k: float(np.mean([r.seconds.get(k, 0.0) for r in ran])) for k in ITEM_WORK}
    extra = sum(mean[k] for k in EXTRA_SETTING)
    return {
        "items": len(ran),
        "item_seconds": sum(mean.values()),
        "setting_seconds": extra,
        "setting_share": extra / sum(mean.values()),
    }


def generation_sets(results: Sequence[GeneratedResult], reference: Optional[np.ndarray]) -> dict:
    """fad's sets: the reference set and each variant's embeddings of the items that carry both."""
    have = [r for r in results if r.status == OK and all(v in r.embeddings for v in VARIANTS)]
    sets = {"reference": reference}
    sets.update(
        {v: np.stack([decode_embedding(r.embeddings[v]) for r in have]) if have else np.zeros((0, 0)) for v in VARIANTS}
    )
    return sets


def build_summary(
    setting: Setting,
    results: Sequence[GeneratedResult],
    new: Sequence[GeneratedResult],
    wall: float,
    setup,
    reference: Optional[np.ndarray],
    reference_note: str,
) -> dict:
    """summary.json of a generation setting: evaluation's statistics over items (`summary_core`), the set metrics, and
    the generation facts (diffusions run, items from the cache, what a further setting costs)."""
    cfg = setting.config
    summary = summary_core(
        setting, results, new, wall, str(setup.device), 1, {**setup.model.describe(), "variants": list(VARIANTS)}
    )
    summary["run"]["job"] = "generate"
    summary["generation"] = {
        "prompts": str(cfg.prompts),
        "n_prompts": len({i.prompt.id for i in setup.items}),
        "seeds": list(cfg.seeds),
        **OmegaConf.to_container(cfg.generation, resolve=True),
        "diffusions_run": setup.source.diffusions,
        "items_from_cache": sum(r.from_cache for r in new if r.status == OK),
    }
    summary["counts"]["items"] = len(results)
    summary["setting_cost"] = setting_cost(results)
    summary["band_retention"] = {"n_files": 0}  # a generated item has no reference to measure retention against
    names = set_metric_names(cfg.metrics.names)
    if names:
        if reference is None:
            summary["sets"] = {}
            summary["sets_note"] = reference_note
        else:
            sets = generation_sets(results, reference)
            np.savez(setting.out_dir / "embeddings.npz", **{k: v.astype(np.float32) for k, v in sets.items()})
            boot, embedding = cfg.metrics.fad_bootstrap_samples, f"{cfg.embedding.name} ({cfg.embedding.path})"
            summary["sets"] = {
                name: {
                    **SET_METRICS[name].summarize(sets, boot, cfg.seed, cfg.metrics.alpha, paired=False),
                    "embedding": embedding,
                    "reference": reference_note,
                }
                for name in names
            }
    return summary


def as_items(text: str) -> str:
    """Evaluation's shared wording about files, said of generated items."""
    return re.sub(r"\bfiles\b", "items", re.sub(r"\bfile\b", "item", text))


def run_facts(summary: dict) -> list[str]:
    """The report's first lines: model, pipeline settings, items, seeds, counts and device."""
    run, g, counts = summary["run"], summary["generation"], summary["counts"]
    model = run["model_interface"]
    negative = f"; negative prompt “{g['negative_prompt']}”" if g.get("negative_prompt") else ""
    candidates = (
        f"; {g['waveforms_per_prompt']} candidates per prompt"
        + (", the best by the pipeline's CLAP score kept" if g["rerank"] else ", each a row")
        if g["waveforms_per_prompt"] > 1
        else ""
    )
    cost = summary["setting_cost"]
    facts = [
        f"run: {run['out_dir']} (config hash {run['config_hash']})",
        f"pipeline: {run['model']} ({model['family']} family, {model['sample_rate']} Hz); enhancement: "
        f"{run['enhancement']}",
        f"prompts: {g['n_prompts']} from {g['prompts']} × seeds {g['seeds']}: {counts['ok']} items generated, "
        f"{counts['failed']} failed, of {counts['items']}",
        f"diffusion: {g['steps']} steps, guidance {g['guidance_scale']:g}, {g['audio_length_s']:g} s{negative}"
        f"{candidates}",
        f"this run: {g['diffusions_run']} diffusions run, {g['items_from_cache']} items decoded from cached "
        f"latents, {run['resumed_files']} rows resumed; device {run['device']}",
        "the same latents are decoded by the base VAE and through the enhancer: every difference is the decoder's",
    ]
    if cost.get("items"):
        facts.append(
            f"an enhancer setting costs {fmt(100 * cost['setting_share'], 3)} % of an item's generation time "
            f"({fmt(cost['setting_seconds'], 4)} s of {fmt(cost['item_seconds'], 4)} s, mean of "
            f"{cost['items']} items whose diffusion ran here)"
        )
    return facts


def item_facts(result: GeneratedResult) -> str:
    """One item's line: its prompt id and text, seed and candidate."""
    candidate = f", candidate {result.candidate}" if result.candidate or result.ranking else ""
    return f"prompt {result.prompt_id}: “{result.prompt}” · seed {result.seed}{candidate}"


def write_report(path: Path, summary: dict, results: Sequence[GeneratedResult], plots_dir: Optional[Path]) -> Path:
    """report.md of a generation setting: facts, the summary table, the conclusion in items, a caution on reference-free
    metrics, per prompt and seed tables and figures."""
    metrics, stats = summary["metrics"], summary["statistics"]
    lines = [
        "# Generation report: base vs enhanced decode of the same latents",
        "",
        *(f"- {fact}" for fact in run_facts(summary)),
        "",
        "## Summary",
        "",
        *comparison_table(summary_lines(metrics)),
        "",
        as_items(DELTA_NOTE),
        *map(as_items, min_p_note([m["comparison"] for m in metrics.values()], stats["alpha"])),
        "",
        REFERENCE_FREE_NOTE,
        "",
        "## Conclusion",
        "",
        *map(as_items, conclusion_lines(metrics, stats["alpha"], stats["p_adjust"])),
        "",
        *map(as_items, set_section(summary.get("sets", {}), stats["alpha"])),
    ]
    if summary.get("sets_note"):
        lines += [f"set metrics not computed: {summary['sets_note']}", ""]
    lines += [
        "## Timing (mean seconds per item)",
        "",
        *(f"- {line}" for line in timing_lines(summary["timings"])),
        *([f"- {accounting_line(summary['time_accounting'], 'items')}"] if summary.get("time_accounting") else []),
    ]
    failed = [r for r in results if r.status != OK]
    if failed:
        lines += ["", "## Items that could not be generated", "", *(f"- `{r.file}`: {r.error}" for r in failed)]
    if plots_dir is not None and (plots_dir / "summary.png").exists():
        lines += ["", "## Across items", "", "![summary](plots/summary.png)"]
    listed, note = listed_files(results, summary, "items")
    lines += ["", "## Per prompt", *([] if not note else ["", note])]
    by_prompt = {}
    for r in listed:
        by_prompt.setdefault(r.prompt_id, []).append(r)
    for prompt_id, rows in by_prompt.items():
        lines += ["", f"### {prompt_id}: “{rows[0].prompt}”"]
        for r in rows:
            lines += ["", f"#### {r.file} (seed {r.seed})", "", *markdown_table(*file_metric_rows(r, list(metrics)))]
            if r.notes:
                lines += ["", f"Notes: {r.notes}"]
            if plots_dir is not None and (plots_dir / f"{r.stem}.png").exists():
                lines += ["", f"![{r.file}](plots/{r.stem}.png)"]
    path.write_text("\n".join(lines) + "\n")
    return path


def write_report_html(path: Path, summary: dict, results: Sequence[GeneratedResult]) -> Path:
    """report.html of a generation setting: the summary and A/B players per item with its prompt, sortable by Δ."""
    folder, names = path.parent, list(summary["metrics"])
    ok = [r for r in results if r.status == OK]
    articles = "".join(file_article(r, i, names, folder, item_facts(r)) for i, r in enumerate(ok))
    sets_note = (
        f'<p class="note">set metrics not computed: {escape(summary["sets_note"])}</p>'
        if summary.get("sets_note")
        else ""
    )
    body = (
        "<header><h1>Generation report: base vs enhanced decode of the same latents</h1>"
        + facts_html(run_facts(summary))
        + '<p class="note">Also: <a href="report.md">report.md</a>, <a href="results.csv">results.csv</a>, '
        '<a href="summary.json">summary.json</a>, <a href="columns.csv">columns.csv</a>.</p>'
        f'<p class="note">{escape(REFERENCE_FREE_NOTE)}</p></header>'
        + as_items(summary_section(summary, folder))
        + sets_note
        + listening_links(folder)
        + failed_section(results)
        + '<section id="files"><h2>Per item</h2>'
        + file_controls(names, "Click an item, then 1, 2: base, enhanced at the same position.")
        + f'<div id="file-list">{articles}</div></section>'
    )
    return write_page(path, "audiovae generation report", body, scripts=("player.js", "report.js"))


def write_generation_outputs(
    setting: Setting,
    results: Sequence[GeneratedResult],
    new: Sequence[GeneratedResult],
    wall: float,
    setup,
    reference: Optional[np.ndarray],
    reference_note: str,
) -> dict:
    """Every output of a generation setting: results.csv, columns.csv, summary.json, embeddings, both reports, the
    preference page and the W&B run; returns the summary."""
    cfg, out_dir = setting.config, setting.out_dir
    names = file_metric_names(cfg.metrics.names)
    summary = build_summary(setting, results, new, wall, setup, reference, reference_note)
    rows = [generated_row(r, names) for r in results]
    write_csv(out_dir / "results.csv", rows)
    write_csv(out_dir / "columns.csv", column_table(rows))
    write_json(out_dir / "summary.json", summary)
    plots_dir = out_dir / "plots" if cfg.outputs.save_plots else None
    if plots_dir is not None and summary["counts"]["ok"]:
        plot_summary(plots_dir / "summary.png", results, names)
    write_report(out_dir / "report.md", summary, results, plots_dir)
    if cfg.outputs.save_audio:
        write_listening_pages(
            out_dir,
            results,
            cfg.seed,
            cfg.outputs.listening_files,
            modes=("preference",),
            captions={r.file: r.prompt for r in results},
        )
    write_report_html(out_dir / "report.html", summary, results)
    with wandb_run(cfg.logger, cfg, out_dir, "generate", setting.run_hash) as run:
        if run is not None:
            if setting.values:
                run.config.update({"sweep_setting": setting.values, **swept_keys(setting.values)})
            run.log(
                {
                    "generate/items": files_table(  # every row with prompt and seed, both decodes' audio
                        results,
                        names,
                        out_dir,
                        cfg.frontend.sample_rate,
                        cfg.logger.max_table_files,
                        cfg.logger.log_audio,
                        VARIANTS,
                        row_of=lambda r: generated_row(r, names),
                        audio_names=VARIANTS,
                        about=lambda r: f": {r.prompt}",
                    )
                }
            )
            if plots_dir is not None and (plots_dir / "summary.png").exists():
                import wandb

                run.log({"generate/summary_plot": wandb.Image(str(plots_dir / "summary.png"))})
            for key, value in summary_keys(summary, prefix="generate").items():
                run.summary[key] = value
            for key, value in summary["setting_cost"].items():
                run.summary[f"generate/setting_cost/{key}"] = value
    return summary


ITEM_UNITS = [
    {"column": "prompt_id", "unit": "", "description": "the prompt's id (its `id` field, or p000, ...)"},
    {"column": "prompt", "unit": "", "description": "the prompt text"},
    {"column": "seed", "unit": "", "description": "the diffusion's seed"},
    {"column": "candidate", "unit": "", "description": "which of generation.waveforms_per_prompt candidates"},
]
ITEM_UNITS_KEYS = {u["column"] for u in ITEM_UNITS}


def column_table(rows: list[dict]) -> list[dict]:
    """columns.csv of a generation run: evaluation's units, the item columns described for what they hold here."""
    if not rows:
        return []
    units = column_units({k: v for k, v in max(rows, key=len).items() if k not in ITEM_UNITS_KEYS})
    for u in units:
        if u["column"] == "file":
            u["description"] = "the item: <prompt_id>_s<seed>, _c<candidate> with several candidates per prompt"
        elif u["column"] == "evaluated_s":
            u["description"] = "length generated"
    return units[:1] + ITEM_UNITS + units[1:]
