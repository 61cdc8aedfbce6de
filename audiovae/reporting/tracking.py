"""Weights & Biases: the run every job opens (always finished, with the job's exit code), and what an evaluation
logs to it (aggregates under stable summary keys, a per-file table with media)."""

import netrc
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, Optional, Sequence
from urllib.parse import urlparse

from omegaconf import DictConfig, OmegaConf

from audiovae.data.files import output_stem
from audiovae.errors import ConfigError
from audiovae.reporting.records import OK, VARIANTS, FileResult, to_row

WANDB_FOLDERS = {
    "WANDB_DATA_DIR": "data",
    "WANDB_CACHE_DIR": "cache",
    "WANDB_CONFIG_DIR": "config",
    "WANDB_ARTIFACT_DIR": "artifacts",
}  # where W&B would otherwise write under the user's home


def keep_wandb_in(out_dir: Path) -> None:
    """Every file W&B writes for this run under `out_dir/wandb`: run files, staged artifact files (table media,
    the exported enhancer), its cache, logs and settings. So an offline run folder is complete: copy `out_dir`,
    then `audiovae-sync` (or `wandb sync` at the same path) uploads tables with their audio and images."""
    root = Path(out_dir).absolute() / "wandb"
    for variable, folder in WANDB_FOLDERS.items():
        os.environ[variable] = str(root / folder)


def has_wandb_credentials() -> bool:
    """A W&B API key in WANDB_API_KEY, or in the netrc entry `wandb login` writes for the W&B host."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    host = urlparse(os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")).hostname
    try:
        return netrc.netrc(str(Path(os.environ.get("NETRC", "~/.netrc")).expanduser())).authenticators(host) is not None
    except (OSError, netrc.NetrcParseError):
        return False


def check_logger(logger: DictConfig) -> None:
    """Start-up check: an online run needs credentials (one line, exit 2, before any file is evaluated)."""
    mode = os.environ.get("WANDB_MODE", logger.mode)
    if logger.enabled and mode == "online" and not has_wandb_credentials():
        raise ConfigError(
            "config key 'logger.mode': online needs W&B credentials: run `wandb login` or set "
            "WANDB_API_KEY; or keep logger.mode=offline and upload later with audiovae-sync"
        )


def _run_arguments(logger: DictConfig, run_config: DictConfig, out_dir: Path, job_type: str, config_hash: str) -> dict:
    """`wandb.init` arguments: run files under `out_dir/wandb`, run config = the resolved config + its hash.
    `WANDB_MODE` in the environment wins over `logger.mode`."""
    os.environ.setdefault("WANDB_SILENT", "true")
    keep_wandb_in(out_dir)
    config = OmegaConf.to_container(run_config, resolve=True)
    config["config_hash"] = config_hash
    return dict(
        project=logger.project,
        entity=logger.entity,
        group=logger.group,
        name=logger.name or Path(out_dir).absolute().name,
        tags=list(logger.tags),
        mode=os.environ.get("WANDB_MODE", logger.mode),
        dir=str(out_dir),
        job_type=job_type,
        config=config,
    )


RUN_ID_FILE = "run_id"  # under out_dir/wandb: the training's W&B run id, so a resumed training continues it


def training_run_id(out_dir: Path, resuming: bool) -> str:
    """The W&B run id of the training in `out_dir`: the saved one when resuming, else a new one (saved)."""
    from wandb.sdk.lib import runid

    path = Path(out_dir) / "wandb" / RUN_ID_FILE
    if resuming and path.is_file():
        return path.read_text().strip()
    run_id = os.environ.get("WANDB_RUN_ID") or runid.generate_id()  # a W&B Sweeps agent chooses the run id
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(run_id + "\n")
    return run_id


def make_wandb_logger(
    logger: DictConfig,
    run_config: DictConfig,
    out_dir: Path,
    job_type: str,
    config_hash: str,
    run_id: str | None = None,
):
    """Lightning's WandbLogger for a Trainer (training), continuing run `run_id` if it exists; None when
    `logger.enabled` is false. The caller finishes its run with `finish_run` in a `finally`."""
    if not logger.enabled:
        return None
    from pytorch_lightning.loggers import WandbLogger

    args = _run_arguments(logger, run_config, out_dir, job_type, config_hash)
    if run_id is not None:
        args.update(id=run_id, resume="allow")
    if int(os.environ.get("LOCAL_RANK", 0)) == 0 and int(os.environ.get("NODE_RANK", 0)) == 0:
        import wandb  # rank 0 starts the run with audiovae's arguments (Lightning's add a deprecated one)

        return WandbLogger(experiment=wandb.init(**args), save_dir=args["dir"])
    args["save_dir"] = args.pop("dir")  # DDP workers: a logger that never starts a run (rank != 0)
    return WandbLogger(**args)


def finish_run(run, failed: bool) -> None:
    """Finish a W&B run (None: nothing to do), recording exit code 1 when the job failed."""
    if run is not None:
        run.finish(exit_code=1 if failed else 0)


@contextmanager
def wandb_run(
    logger: DictConfig, run_config: DictConfig, out_dir: Path, job_type: str, config_hash: str
) -> Iterator[Optional[object]]:
    """A W&B run for the block (None when `logger.enabled` is false), finished when the block ends, with exit
    code 1 when it raised."""
    if not logger.enabled:
        yield None
        return
    import wandb

    run = wandb.init(**_run_arguments(logger, run_config, out_dir, job_type, config_hash))
    failed = True
    try:
        yield run
        failed = False
    finally:
        finish_run(run, failed)


def summary_keys(summary: dict, prefix: str = "eval") -> dict:
    """Flat `eval/...` keys that dashboards compare across runs, e.g. eval/base/snr, eval/delta/snr (a generation
    run's under `generate/`)."""
    out = _summary_keys(summary)
    return out if prefix == "eval" else {prefix + key[4:]: value for key, value in out.items()}


def _summary_keys(summary: dict) -> dict:
    out = {
        "eval/n_files": summary["counts"]["files"],
        "eval/n_ok": summary["counts"]["ok"],
        "eval/n_failed": summary["counts"]["failed"],
        "eval/throughput_audio_s_per_s": summary["run"]["throughput_audio_s_per_s"],
    }
    for name, m in summary["metrics"].items():
        for variant, stats in m["variants"].items():
            out[f"eval/{variant}/{name}"] = stats["mean"]
            out[f"eval/excluded/{variant}/{name}"] = stats["excluded"]
        out[f"eval/unit/{name}"] = m["unit"]  # of eval/<variant>/<name>; eval/delta/<name> is in delta_unit
        out[f"eval/delta_unit/{name}"] = m["delta_unit"]
        for variant, stats in m.get("scores", {}).items():  # a target metric's distance to its target (dB)
            out[f"eval/distance/{variant}/{name}"] = stats["mean"]
        comp = m["comparison"]
        out[f"eval/verdict/{name}"] = m["verdict"]["outcome"]
        out[f"eval/better_in/{name}"] = comp["wins"]
        out[f"eval/median_delta/{name}"] = comp["median_delta"]
        out[f"eval/p_adjusted/{name}"] = comp["p_adjusted"]
        out[f"eval/delta/{name}"] = comp["headline_delta"]
        out[f"eval/abs_delta/{name}"] = comp["delta"]
        out[f"eval/percent_change/{name}"] = comp["percent_change"]
        out[f"eval/win_rate/{name}"] = comp["win_rate"]
        out[f"eval/ci_low/{name}"] = comp["ci_low"]
        out[f"eval/ci_high/{name}"] = comp["ci_high"]
        out[f"eval/wilcoxon_p/{name}"] = comp["wilcoxon_p"]
    for name, s in summary.get("sets", {}).items():  # set metrics: one value per variant for the whole set
        for variant, stats in s["variants"].items():
            out[f"eval/{variant}/{name}"] = stats["value"]
            if "ci" in stats:
                out[f"eval/{name}_ci_low/{variant}"], out[f"eval/{name}_ci_high/{variant}"] = stats["ci"]
        if "delta" in s:
            out[f"eval/delta/{name}"] = s["delta"]["value"]
            out[f"eval/ci_low/{name}"], out[f"eval/ci_high/{name}"] = s["delta"]["ci"]
            out[f"eval/verdict/{name}"] = s["delta"]["enhanced_vs_base"]
        out[f"eval/n_set/{name}"] = s["n_files"]
    for side in ("above_cutoff_db", "below_cutoff_db"):
        for variant, value in summary["band_retention"].get(side, {}).items():
            out[f"eval/band_retention_{side}/{variant}"] = value
    for stage, seconds in summary["timings"].items():
        out[f"eval/time/{stage}"] = seconds
    alignment = summary.get("alignment", {})
    for key in ("median_lag_samples", "median_corr", "files_off"):
        if key in alignment:
            out[f"eval/vocoder_alignment/{key}"] = alignment[key]
    return out


def files_table(
    results: Sequence[FileResult],
    metric_names: Sequence[str],
    out_dir: Path,
    sample_rate: int,
    max_media_rows: int,
    log_audio: bool,
    variants: Sequence[str] = VARIANTS,
    row_of: Optional[Callable[[FileResult], dict]] = None,
    audio_names: Optional[Sequence[str]] = None,
    about: Callable[[FileResult], str] = lambda result: "",
):
    """Every results.csv row (`row_of`, default `to_row`); for the first rows the audio of `audio_names` (default
    the reference and the model's variants) and the spectrogram plot, each captioned `<file> · <variant>` and
    `about(result)` (a generated item's prompt)."""
    import wandb

    rows = [row_of(r) if row_of else to_row(r, metric_names, variants) for r in results]
    scalar_columns = list(dict.fromkeys(k for r in rows for k in r))
    audio_variants = tuple(audio_names) if audio_names is not None else tuple(dict.fromkeys(("reference", *variants)))
    media_columns = [f"audio_{v}" for v in audio_variants] + ["spectrogram"]
    table = wandb.Table(columns=scalar_columns + media_columns)
    for i, (result, row) in enumerate(zip(results, rows)):
        stem = result.stem or output_stem(result.file)
        media = [None] * len(media_columns)
        if result.status == OK and i < max_media_rows:
            if log_audio:
                for j, variant in enumerate(audio_variants):
                    wav = out_dir / "audio" / f"{stem}.{variant}.wav"
                    media[j] = (
                        wandb.Audio(
                            str(wav), sample_rate=sample_rate, caption=f"{result.file} · {variant}{about(result)}"
                        )
                        if wav.exists()
                        else None
                    )
            plot = out_dir / "plots" / f"{stem}.png"
            media[-1] = (
                wandb.Image(str(plot), caption=f"{result.file} · spectrograms{about(result)}")
                if plot.exists()
                else None
            )
        table.add_data(*[row.get(c) for c in scalar_columns], *media)
    return table


def log_evaluation(
    run,
    summary: dict,
    results: Sequence[FileResult],
    metric_names: Sequence[str],
    out_dir: Path,
    sample_rate: int,
    max_media_rows: int,
    log_audio: bool,
    variants: Sequence[str] = VARIANTS,
) -> None:
    """Log an evaluation setting to its W&B run: the summary under stable keys, the per-file table with audio and
    figures, the plots."""
    import wandb

    run.log(
        {"eval/files": files_table(results, metric_names, out_dir, sample_rate, max_media_rows, log_audio, variants)}
    )
    for key, name in (("eval/summary_plot", "summary.png"), ("eval/band_retention_plot", "band_retention.png")):
        if (out_dir / "plots" / name).exists():
            run.log({key: wandb.Image(str(out_dir / "plots" / name))})
    bands = summary["band_retention"]
    if bands["n_files"]:
        run.log(
            {
                "eval/band_retention": wandb.Table(
                    columns=["hz", *bands["mean_db"]],
                    data=[
                        [hz, *(bands["mean_db"][v][i] for v in bands["mean_db"])] for i, hz in enumerate(bands["hz"])
                    ],
                )
            }
        )
    for key, value in summary_keys(summary).items():
        run.summary[key] = value
