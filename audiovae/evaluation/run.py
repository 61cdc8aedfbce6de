"""`evaluate.py`'s job: config -> files -> Trainer.test over the pipeline -> results, summary, report, W&B."""
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import pytorch_lightning as pl
import torch
from omegaconf import DictConfig, OmegaConf

from audiovae.config.compose import ConfigError
from audiovae.data.eval_data import EvalDataModule, EvalDataset
from audiovae.data.files import file_key, find_audio_files
from audiovae.data.segments import segment_samples
from audiovae.evaluation.engine import Segmenting
from audiovae.evaluation.plots import plot_summary
from audiovae.evaluation.report import write_report
from audiovae.evaluation.results import OK, ResultStore, to_row, write_csv
from audiovae.evaluation.summary import package_versions, summarize_metrics, summarize_timings, write_json
from audiovae.evaluation.wandb_log import log_evaluation
from audiovae.lightning.eval_module import EvalModule
from audiovae.metrics.collection import build_metric
from audiovae.models.factory import build_enhanced_vae, build_frontend
from audiovae.pipeline import DEFAULT, ReconstructionPipeline
from audiovae.runs import is_launcher_process, prepare_out_dir, resolve_out_dir, run_hash
from audiovae.tracking.wandb_logger import make_wandb_logger

EVAL_IGNORE = ("out_dir", "logger")  # sections that do not change an evaluation's results


@dataclass
class EvalOutcome:
    out_dir: Path
    n_files: int
    n_ok: int
    n_failed: int
    report_name: str = "report.md"  # sweeps: sweep.md
    reporting: bool = True  # False on DDP ranks other than 0: they evaluate files but write no results

    @classmethod
    def of_worker_rank(cls, out_dir: Path) -> "EvalOutcome":
        return cls(out_dir, 0, 0, 0, reporting=False)

    @property
    def report(self) -> Path:
        return self.out_dir / self.report_name

    def exit_code(self, strict: bool) -> int:
        """Non-zero when nothing could be evaluated, or with strict=true when any file failed. Worker ranks exit 0:
        Lightning's launcher kills every process as soon as one exits non-zero, rank 0 included."""
        if not self.reporting:
            return 0
        return 1 if self.n_ok == 0 or (strict and self.n_failed > 0) else 0


def segmenting_for(cfg: DictConfig, downsampling: int) -> Segmenting:
    hop, sr = cfg.frontend.hop_length, cfg.frontend.sample_rate
    segment = segment_samples(cfg.data.max_seconds, sr, hop, downsampling)
    overlap = round(cfg.data.chunk_overlap_seconds * sr / hop) * hop
    if cfg.data.chunking and not 0 <= overlap < segment:
        raise ConfigError("config key 'data.chunk_overlap_seconds': must be shorter than data.max_seconds")
    return Segmenting(segment, overlap, cfg.data.chunking, cfg.data.batch_size, hop)


@dataclass
class EvalSetup:
    """What every evaluation (and every sweep) builds once: files, model, pipeline, metrics."""

    paths: list[Path]
    keys: list[str]
    pipeline: ReconstructionPipeline
    segmenting: Segmenting
    metrics: dict


def build_setup(cfg: DictConfig) -> EvalSetup:
    paths = find_audio_files(cfg.data.dir, cfg.data.patterns, cfg.data.files)
    keys = [file_key(p, cfg.data.dir) for p in paths]
    model = build_enhanced_vae(cfg.model, cfg.enhancement, cfg.frontend)
    pipeline = ReconstructionPipeline(build_frontend(cfg.frontend, model.downsampling), model)
    metric_args = dict(sample_rate=cfg.frontend.sample_rate, hf_cutoff_hz=cfg.metrics.hf_cutoff_hz,
                       lsd_n_fft=cfg.metrics.lsd_n_fft, lsd_hop=cfg.metrics.lsd_hop,
                       spectrum_n_fft=cfg.metrics.spectrum_n_fft, spectrum_hop=cfg.metrics.spectrum_hop)
    metrics = {name: build_metric(name, **metric_args) for name in cfg.metrics.names}
    return EvalSetup(paths, keys, pipeline, segmenting_for(cfg, model.downsampling), metrics)


def run_test(cfg: DictConfig, setup: EvalSetup, module: EvalModule, todo: list[int], logger) -> tuple[pl.Trainer, float]:
    """Trainer.test of `module` over the files at positions `todo`; returns the trainer and the wall seconds."""
    max_samples = None if cfg.data.chunking else setup.segmenting.segment
    frontend = setup.pipeline.frontend
    dataset = EvalDataset(setup.paths, setup.keys, todo, frontend, max_samples, cfg.data.silence_threshold_db)
    trainer = pl.Trainer(**OmegaConf.to_container(cfg.trainer), logger=logger if logger else False,
                         use_distributed_sampler=False, enable_checkpointing=False, enable_model_summary=False,
                         inference_mode=True)
    start = time.perf_counter()
    if todo:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", ".*does not have many workers.*")
            trainer.test(module, datamodule=EvalDataModule(dataset, cfg.data.batch_size, cfg.data.num_workers),
                         verbose=False)
    return trainer, time.perf_counter() - start


def write_outputs(cfg: DictConfig, out_dir: Path, hash_: str, keys: list[str], done: dict, new: list,
                  wall: float, trainer: pl.Trainer) -> tuple[dict, list[dict]]:
    """results.csv, summary.json, plots/summary.png and report.md of one evaluation (or one sweep setting) from
    its resumed and new FileResults; returns the summary and the rows."""
    results = sorted(list(done.values()) + new, key=lambda r: keys.index(r.file))
    rows = [to_row(r, cfg.metrics.names) for r in results]
    new_audio_s = sum(r.evaluated_s for r in new if r.status == OK)
    summary = {
        "run": {"out_dir": str(out_dir), "config_hash": hash_, "model": cfg.model.name,
                "enhancement": OmegaConf.to_container(cfg.enhancement), "sample_rate": cfg.frontend.sample_rate,
                "device": str(trainer.strategy.root_device), "world_size": trainer.world_size,
                "versions": package_versions(), "audio_seconds": sum(r["evaluated_s"] for r in rows if r["status"] == OK),
                "throughput_audio_s_per_s": new_audio_s / wall if new_audio_s else None,
                "resumed_files": len(done), "config": OmegaConf.to_container(cfg, resolve=True)},
        "counts": {"files": len(rows), "ok": sum(r["status"] == OK for r in rows),
                   "failed": sum(r["status"] != OK for r in rows)},
        "metrics": summarize_metrics(rows, cfg.metrics.names, cfg.metrics.bootstrap_samples, cfg.seed),
        "timings": summarize_timings(rows),
    }
    summary["counts"]["nan_values"] = sum(v["excluded"] for m in summary["metrics"].values() for v in m["variants"].values())
    write_csv(out_dir / "results.csv", rows)
    write_json(out_dir / "summary.json", summary)
    plots_dir = out_dir / "plots" if cfg.outputs.save_plots else None
    if plots_dir is not None and summary["counts"]["ok"]:
        plot_summary(plots_dir / "summary.png", rows, cfg.metrics.names)
    write_report(out_dir / "report.md", summary, rows, plots_dir)
    return summary, rows


def run_evaluation(cfg: DictConfig) -> EvalOutcome:
    if cfg.sweep:
        from audiovae.evaluation.sweep import run_sweep
        return run_sweep(cfg)
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    torch.use_deterministic_algorithms(True, warn_only=True)
    hash_ = run_hash(cfg, EVAL_IGNORE)
    out_dir = resolve_out_dir(cfg.out_dir, "eval", hash_)
    setup = build_setup(cfg)
    if is_launcher_process():
        prepare_out_dir(cfg, out_dir, hash_)

    done = ResultStore(out_dir / "partial").load_all()
    todo = [i for i, key in enumerate(setup.keys) if key not in done]
    module = EvalModule(setup.pipeline, setup.metrics, setup.segmenting, {DEFAULT: out_dir}, cfg.outputs.save_audio,
                        cfg.outputs.save_plots, cfg.outputs.max_plots, cfg.seed)
    logger = make_wandb_logger(cfg.logger, cfg, out_dir, job_type="eval", config_hash=hash_)
    trainer, wall = run_test(cfg, setup, module, todo, logger)
    if not trainer.is_global_zero:
        return EvalOutcome.of_worker_rank(out_dir)
    summary, rows = write_outputs(cfg, out_dir, hash_, setup.keys, done, module.results.get(DEFAULT, []), wall,
                                  trainer)
    if logger is not None:
        log_evaluation(logger.experiment, summary, rows, out_dir, cfg.frontend.sample_rate,
                       cfg.logger.max_table_files, cfg.logger.log_audio)
        logger.experiment.finish()
    return EvalOutcome(out_dir, len(rows), summary["counts"]["ok"], summary["counts"]["failed"])
