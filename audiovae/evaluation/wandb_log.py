"""What an evaluation logs to W&B: aggregates under stable summary keys, a per-file table with media."""
from pathlib import Path
from typing import Sequence

import wandb

from audiovae.data.files import output_stem
from audiovae.evaluation.results import OK

AUDIO_VARIANTS = ("reference", "base", "enhanced")


def summary_keys(summary: dict) -> dict:
    """Flat `eval/...` keys that dashboards compare across runs, e.g. eval/base/snr, eval/delta/snr."""
    out = {"eval/n_files": summary["counts"]["files"], "eval/n_ok": summary["counts"]["ok"],
           "eval/n_failed": summary["counts"]["failed"],
           "eval/throughput_audio_s_per_s": summary["run"]["throughput_audio_s_per_s"]}
    for name, m in summary["metrics"].items():
        for variant, stats in m["variants"].items():
            out[f"eval/{variant}/{name}"] = stats["mean"]
            out[f"eval/excluded/{variant}/{name}"] = stats["excluded"]
        comp = m["comparison"]
        out[f"eval/delta/{name}"] = comp["headline_delta"]
        out[f"eval/abs_delta/{name}"] = comp["delta"]
        out[f"eval/percent_change/{name}"] = comp["percent_change"]
        out[f"eval/win_rate/{name}"] = comp["win_rate"]
        out[f"eval/ci_low/{name}"] = comp["ci_low"]
        out[f"eval/ci_high/{name}"] = comp["ci_high"]
        out[f"eval/wilcoxon_p/{name}"] = comp["wilcoxon_p"]
    for stage, seconds in summary["timings"].items():
        out[f"eval/time/{stage}"] = seconds
    return out


def files_table(rows: list[dict], out_dir: Path, sample_rate: int, max_media_rows: int,
                log_audio: bool) -> wandb.Table:
    """Every results.csv row; reference/base/enhanced audio and the spectrogram plot for the first rows."""
    scalar_columns = list(dict.fromkeys(k for r in rows for k in r))
    media_columns = [f"audio_{v}" for v in AUDIO_VARIANTS] + ["spectrogram"]
    table = wandb.Table(columns=scalar_columns + media_columns)
    for i, row in enumerate(rows):
        stem = output_stem(row["file"])
        media = [None] * len(media_columns)
        if row["status"] == OK and i < max_media_rows:
            if log_audio:
                for j, variant in enumerate(AUDIO_VARIANTS):
                    wav = out_dir / "audio" / f"{stem}.{variant}.wav"
                    media[j] = wandb.Audio(str(wav), sample_rate=sample_rate) if wav.exists() else None
            plot = out_dir / "plots" / f"{stem}.png"
            media[-1] = wandb.Image(str(plot)) if plot.exists() else None
        table.add_data(*[row.get(c) for c in scalar_columns], *media)
    return table


def log_evaluation(run, summary: dict, rows: Sequence[dict], out_dir: Path, sample_rate: int,
                   max_media_rows: int, log_audio: bool) -> None:
    run.log({"eval/files": files_table(list(rows), out_dir, sample_rate, max_media_rows, log_audio)})
    summary_plot = out_dir / "plots" / "summary.png"
    if summary_plot.exists():
        run.log({"eval/summary_plot": wandb.Image(str(summary_plot))})
    for key, value in summary_keys(summary).items():
        run.summary[key] = value
