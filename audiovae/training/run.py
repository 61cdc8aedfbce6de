"""`train.py`'s job: config -> data -> Trainer.fit of the enhancer -> checkpoints, exported enhancer, W&B."""

import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import pytorch_lightning as pl
import torch
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.callbacks import LearningRateMonitor, ModelCheckpoint
from pytorch_lightning.utilities.exceptions import SIGTERMException

from audiovae.cache.keys import weights_fingerprint
from audiovae.cache.store import CacheStore, check_cache
from audiovae.config.trainer_args import build_trainer, trainer_args
from audiovae.data.segments import segment_samples
from audiovae.data.sources import source_kind
from audiovae.data.train_data import TrainDataModule
from audiovae.errors import AudiovaeError, ConfigError
from audiovae.models.factory import build_model, frontend_for
from audiovae.reporting.records import FROM_TARGET
from audiovae.reporting.summary import package_versions, write_json
from audiovae.reporting.tracking import check_logger, finish_run, make_wandb_logger, training_run_id
from audiovae.runs.folders import is_launcher_process, prepare_out_dir, resolve_out_dir, run_hash, run_lock
from audiovae.training.adversarial import AdversarialTraining
from audiovae.training.ema import TrainedWeightsEMA
from audiovae.training.encodings import CropEncodings
from audiovae.training.examples import ValidationExamples
from audiovae.training.export import export_from_checkpoint, load_checkpoint
from audiovae.training.interrupt import GracefulStop, TrainingStopped
from audiovae.training.losses import ReconstructionLoss
from audiovae.training.module import ENHANCED, TrainModule, trains_encoder, validation_keys

FIXED_TRAINER = dict(use_distributed_sampler=False, enable_model_summary=False, num_sanity_val_steps=0)
OWNED = (*FIXED_TRAINER, "logger", "callbacks")  # Trainer arguments training sets itself
TRAIN_IGNORE = ("out_dir", "logger", "resume", "ckpt_path")  # sections that do not change the trained result
EXPORT_NAME = "enhancer.safetensors"


@dataclass
class TrainOutcome:
    """What a training ended with: its folder, the exported enhancer (None when nothing was validated), the best
    checkpoint and its score."""

    out_dir: Path
    exported: Optional[Path]
    best_checkpoint: Optional[str]
    best_score: Optional[float]


def _readable_step(path: Path) -> Optional[int]:
    """The global step of a training checkpoint that loads, else None."""
    try:
        ckpt = load_checkpoint(path)
    except AudiovaeError:
        return None
    step = ckpt.get("global_step")
    return int(step) if isinstance(step, int) and "state_dict" in ckpt else None


def _resume_from(cfg: DictConfig, out_dir: Path) -> Optional[str]:
    """The checkpoint to continue from: `ckpt_path`, or with `resume` the run's `last.ckpt` — or, when that one cannot
    be read (a crash while it was written, a damaged disk), the newest readable checkpoint of the run, said in one
    line."""
    if cfg.ckpt_path:
        if not Path(cfg.ckpt_path).is_file():
            raise ConfigError(f"config key 'ckpt_path': '{cfg.ckpt_path}' does not exist")
        load_checkpoint(Path(cfg.ckpt_path))  # refused with one line unless it is a plain (safe) checkpoint
        return cfg.ckpt_path
    if cfg.resume:
        folder = out_dir / "checkpoints"
        last = folder / "last.ckpt"
        candidates = sorted(folder.glob("*.ckpt")) if folder.is_dir() else []
        if not candidates:
            raise ConfigError(
                f"config key 'resume': no checkpoint to resume at {last}; set out_dir to the run to "
                f"continue, or ckpt_path"
            )
        if last.is_file() and _readable_step(last) is not None:
            return str(last)
        steps = {path: _readable_step(path) for path in candidates if path != last}
        readable = {path: step for path, step in steps.items() if step is not None}
        if not readable:
            raise ConfigError(
                f"config key 'resume': no checkpoint in {folder} can be read (last.ckpt "
                f"{'is damaged' if last.is_file() else 'is missing'}): start a new run"
            )
        best = max(readable, key=lambda path: (readable[path], path.stat().st_mtime))
        if is_launcher_process():
            print(
                f"warning: {last} {'cannot be read' if last.is_file() else 'is missing'}: resuming from the newest "
                f"readable checkpoint, {best.name} (step {readable[best]})",
                file=sys.stderr,
            )
        return str(best)
    return None


def model_artifact_name(cfg: DictConfig) -> str:
    """One W&B model collection per model and enhancer kind (`enhancer-demo-learnable_latent_filter`), so every
    training of that pair is a new version of it."""
    return re.sub(r"[^A-Za-z0-9._-]", "-", f"enhancer-{cfg.model.name}-{cfg.enhancement.name}")


def check_monitor(cfg: DictConfig) -> None:
    """ConfigError (at start-up, before anything is written) when `checkpoint.monitor` is not a key the run logs:
    `val/<base|enhanced>/<loss or a val_metrics name>` (`<m>_from_target` for a target metric), or `train/loss`.
    Lightning would find out at the first validation, after training, with a traceback."""
    logged = [*validation_keys(cfg.val_metrics), "train/loss"]
    monitor = cfg.checkpoint.monitor
    if monitor not in logged:
        name = str(monitor).rsplit("/", 1)[-1].removesuffix(FROM_TARGET)
        hint = (
            f"add {name} to val_metrics, or " if str(monitor).startswith("val/") and name not in cfg.val_metrics else ""
        )
        raise ConfigError(
            f"config key 'checkpoint.monitor': {monitor} is not logged by this run; {hint}monitor one of "
            f"{', '.join(k for k in logged if k.startswith('val/enhanced/'))}"
        )


def define_summaries(experiment, cfg: DictConfig) -> None:
    """Each validation metric's run summary is its best value (min or max by its direction), the monitored one
    by `checkpoint.mode`; all on the optimizer-step axis."""
    summaries = validation_keys(cfg.val_metrics)
    summaries[cfg.checkpoint.monitor] = cfg.checkpoint.mode
    for key, summary in summaries.items():
        experiment.define_metric(key, summary=summary, step_metric="trainer/global_step")


def _export_and_summarise(
    cfg: DictConfig, out_dir: Path, hash_: str, trainer, facts: dict, datamodule, module, logger
) -> Path:
    """The best checkpoint's enhancer exported (with its provenance), train_summary.json, and the W&B model artifact;
    the exported file. `facts`: the validation before training, the best score and its checkpoint."""
    best, best_score, initial = facts["best_checkpoint"], facts["best_score"], facts["initial_validation"]
    artifact_name = model_artifact_name(cfg)
    provenance = {
        "out_dir": str(out_dir.absolute()),
        "checkpoint": str(best),
        "config_hash": hash_,
        "wandb_run_id": logger.experiment.id if logger is not None else None,
        "wandb_project": cfg.logger.project if logger is not None else None,
        "wandb_artifact": f"{artifact_name}:latest" if logger is not None else None,
    }
    exported = export_from_checkpoint(Path(best), out_dir / EXPORT_NAME, provenance, trust_code=True)  # its own
    summary = {
        "out_dir": str(out_dir),
        "config_hash": hash_,
        "versions": package_versions(),
        "steps": trainer.global_step,
        "skipped_files": datamodule.skipped,
        "pre_encoded_crops_computed": module.encodings.encoded if module.encodings is not None else None,
        "train_files": (
            [e.key for e in datamodule.shards.entries]
            if datamodule.shards
            else [c.path for c in datamodule.train_clips]
        ),
        "val_files": [c.path for c in datamodule.val_clips],
        "initial_validation": initial,
        "final_metrics": _scalars(trainer.callback_metrics),
        "monitor": cfg.checkpoint.monitor,
        "best_score": best_score,
        "best_checkpoint": best,
        "exported_enhancer": str(exported),
        "config": OmegaConf.to_container(cfg, resolve=True),
    }
    write_json(out_dir / "train_summary.json", summary)
    if logger is not None:
        import wandb

        artifact = wandb.Artifact(
            artifact_name,
            type="model",
            metadata={
                "monitor": cfg.checkpoint.monitor,
                "mode": cfg.checkpoint.mode,
                "best_score": best_score,
                "best_checkpoint": Path(best).name,
                "steps": trainer.global_step,
                "config_hash": hash_,
                "model": cfg.model.name,
                "enhancement": OmegaConf.to_container(cfg.enhancement),
                "final_metrics": summary["final_metrics"],
                "config": summary["config"],
            },
        )
        artifact.add_file(str(exported))
        logger.experiment.log_artifact(artifact, aliases=["best", "latest"])
    return exported


def _scalars(metrics: dict) -> dict:
    return {k: float(v) for k, v in metrics.items()}


def warmup_warning(cfg: DictConfig) -> Optional[str]:
    """A line when the linear warm-up does not end before training does (the learning rate never reaches
    `optim.lr`), else None."""
    steps = cfg.optim.total_steps or cfg.trainer.max_steps
    if cfg.optim.warmup_steps >= steps:
        return (
            f"warning: optim.warmup_steps={cfg.optim.warmup_steps} >= {steps} training steps: the learning "
            f"rate never reaches optim.lr={cfg.optim.lr:g}; lower optim.warmup_steps"
        )
    return None


def adversarial_trainer_args(cfg: DictConfig, args: dict) -> tuple[dict, Optional[float]]:
    """The Trainer's arguments under adversarial (manual) optimisation, where the module clips gradients itself:
    (arguments without `gradient_clip_val`, that value; plain `ddp` as DDP that finds unused parameters). Without a
    discriminator: (args, None)."""
    if cfg.adversarial.discriminator == "none":
        return args, None
    if (args.get("accumulate_grad_batches") or 1) > 1:
        raise ConfigError(
            "config key 'trainer.accumulate_grad_batches': must be 1 with adversarial.discriminator "
            f"'{cfg.adversarial.discriminator}' (one discriminator and one generator step per batch); "
            "raise data.batch_size instead"
        )
    if str(args.get("precision")) in ("16-mixed", "16"):
        raise ConfigError(
            "config key 'trainer.precision': 16-mixed is not supported with adversarial training "
            "(its loss scaling spans two optimizers); use bf16-mixed or 32-true"
        )
    args = dict(args)
    if args.get("strategy") == "ddp":  # the discriminator's backward leaves the generator's parameters unused (and
        args["strategy"] = "ddp_find_unused_parameters_true"  # back): each backward reduces only what it reached
    return args, args.pop("gradient_clip_val", None)


def crop_encodings(cfg: DictConfig, model, crop: int) -> Optional[CropEncodings]:
    """The store of pre-encoded training crops (`data.pre_encode`, with the encoder frozen), keyed by what decides
    a crop's encodings; None when crops are encoded at every step."""
    if not cfg.data.pre_encode or trains_encoder(model, cfg.trainable):
        return None
    run_part = {
        "frontend": OmegaConf.to_container(cfg.frontend, resolve=True),
        "data": {k: cfg.data[k] for k in ("channels", "resampler")},
        "crop": crop,
        "model": {
            "weights": weights_fingerprint(model.weights()[0]),
            **model.config_summary(),
            "vae_precision": cfg.model.vae_precision,
        },
        "precision": str(cfg.trainer.get("precision", "32-true")),
        "torch": torch.__version__,
    }
    store = CacheStore(cfg.cache.dir, cfg.cache.max_gb) if cfg.cache.enabled else None
    return CropEncodings(run_part, store)


def validation_warning(cfg: DictConfig) -> Optional[str]:
    """A line when validation every N steps leaves the last steps of `trainer.max_steps` unvalidated (the export is
    the best *validated* checkpoint), else None."""
    interval, steps = cfg.trainer.get("val_check_interval"), cfg.trainer.get("max_steps")
    if isinstance(interval, int) and not isinstance(interval, bool) and steps and steps > 0 and steps % interval:
        return (
            f"warning: trainer.max_steps={steps} is not a multiple of trainer.val_check_interval={interval}: "
            f"the last {steps % interval} steps are not validated and cannot be exported as best"
        )
    return None


def training_data(cfg: DictConfig, model, frontend, crop: int) -> tuple[TrainDataModule, Optional[CropEncodings]]:
    """The data module of `data.*` and the store of pre-encoded crops (None: crops encoded at every step), with a
    note where `data.pre_encode` does not apply or the shards are a pre-encoded set."""
    streamed = source_kind(cfg.data) == "webdataset"
    if streamed:
        from audiovae.data.latents import check_latent_set

        pre_encoded = check_latent_set(
            cfg.data.shards, weights_fingerprint(model.weights()[0]), crop, trains_encoder(model, cfg.trainable)
        )
        if pre_encoded and is_launcher_process():
            print("note: data.shards is a pre-encoded set: its latents stand for the encoder's", file=sys.stderr)
    encodings = None if streamed else crop_encodings(cfg, model, crop)
    if cfg.data.pre_encode and encodings is None and is_launcher_process():
        print(
            "note: training crops stream from shards, random and encoded at every step (data.pre_encode applies "
            "to folders and manifests)"
            if streamed
            else "note: the encoder trains, so training crops are random "
            "and encoded at every step (data.pre_encode applies to a frozen encoder)",
            file=sys.stderr,
        )
    accumulate = cfg.trainer.get("accumulate_grad_batches") or 1
    return TrainDataModule(cfg.data, frontend, crop, cfg.seed, encodings is not None, accumulate), encodings


def training_module(cfg: DictConfig, frontend, model, encodings: Optional[CropEncodings], clip) -> TrainModule:
    """The LightningModule of `train.yaml`: losses, optimisers, the adversarial part, validation metrics."""
    adv = cfg.adversarial
    adversarial = (
        None
        if adv.discriminator == "none"
        else AdversarialTraining(
            adv.discriminator, adv.loss, adv.weight, adv.feature_matching, adv.start_step, adv.channels
        )
    )
    return TrainModule(
        frontend,
        model,
        ReconstructionLoss(**cfg.loss),
        cfg.trainable,
        cfg.optim,
        cfg.val_metrics,
        cfg.enhancement,
        cfg.optim.total_steps or cfg.trainer.max_steps,
        adversarial,
        adv.optim,
        encodings,
        clip,
        OmegaConf.to_container(cfg.metrics, resolve=True),
        list(cfg.plugins),
    )


def run_training(cfg: DictConfig, callbacks: Sequence = ()) -> TrainOutcome:
    """Fit, export and summarise; the W&B run (if any) is finished whatever happens, with exit code 1 on failure.
    `callbacks`: more Lightning callbacks for the Trainer (a search's pruner reports each validation there)."""
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    check_logger(cfg.logger)
    check_monitor(cfg)
    # the Trainer's arguments, checked before anything is written (a bad trainer.* key fails here)
    args, clip = adversarial_trainer_args(cfg, trainer_args(cfg.trainer, OWNED))
    hash_ = run_hash(cfg, TRAIN_IGNORE)
    out_dir = resolve_out_dir(cfg.out_dir, "train", hash_)
    check_cache(cfg.cache)
    model = build_model(cfg.model, cfg.enhancement, cfg.frontend)
    frontend = frontend_for(cfg.frontend, model)
    crop = segment_samples(cfg.data.crop_seconds, frontend.sample_rate, frontend.hop_length, frontend.frame_multiple)
    model.check_enhancer(
        model.enhancer, crop // frontend.hop_length, cfg.frontend.n_mels, frontend.hop_length, frontend.sample_rate
    )
    if is_launcher_process():
        prepare_out_dir(cfg, out_dir, hash_)
    ckpt_path = _resume_from(cfg, out_dir)

    datamodule, encodings = training_data(cfg, model, frontend, crop)
    module = training_module(cfg, frontend, model, encodings, clip)
    for warning in (warmup_warning(cfg), validation_warning(cfg)):  # once the run is known to start
        if warning and is_launcher_process():
            print(warning, file=sys.stderr)
    run_id = training_run_id(out_dir, resuming=ckpt_path is not None) if cfg.logger.enabled else None
    logger = make_wandb_logger(cfg.logger, cfg, out_dir, job_type="train", config_hash=hash_, run_id=run_id)
    if logger is not None and is_launcher_process():
        define_summaries(logger.experiment, cfg)
    failed = True
    try:
        with run_lock(out_dir):
            outcome = _fit_and_export(cfg, args, out_dir, hash_, ckpt_path, module, datamodule, logger, callbacks)
        failed = False
        return outcome
    finally:
        # the run as started (None if nothing was logged yet, and on DDP ranks other than 0, which log nothing)
        finish_run(getattr(logger, "_experiment", None), failed)


def training_callbacks(
    cfg: DictConfig, ckpt_dir: Path, out_dir: Path, logger
) -> tuple[list, ModelCheckpoint, GracefulStop]:
    """The Trainer's callbacks (the best checkpoints, last.ckpt, validation examples, the graceful stop, the
    learning-rate monitor with a logger, the EMA of the trained weights), the best-checkpoint one and the stop."""
    checkpoints = ModelCheckpoint(
        dirpath=ckpt_dir,
        monitor=cfg.checkpoint.monitor,
        mode=cfg.checkpoint.mode,
        save_top_k=cfg.checkpoint.save_top_k,
        filename="step{step:07d}",
        auto_insert_metric_name=False,
    )
    # last.ckpt: every `checkpoint.last_every_n_steps` optimizer steps (null: after every epoch); a resumed run
    # continues exactly where an uninterrupted one would, also mid-epoch (the sampler resumes the epoch's order from
    # the global step). (`save_last=True` would refresh it only when a best checkpoint is written.)
    every = cfg.checkpoint.last_every_n_steps
    latest = ModelCheckpoint(
        dirpath=ckpt_dir,
        filename="last",
        monitor=None,
        save_top_k=1,
        enable_version_counter=False,
        **(dict(every_n_train_steps=every) if every else dict(save_on_train_epoch_end=True)),
    )
    callbacks = [
        checkpoints,
        latest,
        ValidationExamples(out_dir / "examples", cfg.examples.every_n_val, cfg.examples.count, ENHANCED),
    ]
    stop = GracefulStop(ckpt_dir / "last.ckpt")
    callbacks += [stop] + ([LearningRateMonitor(logging_interval="step")] if logger else [])
    if cfg.ema.enabled:
        callbacks.append(TrainedWeightsEMA(cfg.ema.decay, cfg.ema.every_n_steps, cfg.ema.start_step))
    return callbacks, checkpoints, stop


def _fit_and_export(
    cfg: DictConfig,
    args: dict,
    out_dir: Path,
    hash_: str,
    ckpt_path: Optional[str],
    module: TrainModule,
    datamodule: TrainDataModule,
    logger,
    extra_callbacks: Sequence = (),
) -> TrainOutcome:
    """`args`: the Trainer's arguments (`trainer.*` as checked, adapted to adversarial training)."""
    ckpt_dir = out_dir / "checkpoints"
    callbacks, checkpoints, stop = training_callbacks(cfg, ckpt_dir, out_dir, logger)
    callbacks += list(extra_callbacks)
    trainer = build_trainer(**args, **FIXED_TRAINER, logger=logger if logger else False, callbacks=callbacks)
    initial = None
    if cfg.loop.validate_before_training and ckpt_path is None:
        trainer.validate(module, datamodule=datamodule, verbose=False)
        initial = _scalars(trainer.callback_metrics)
    try:
        trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt_path, weights_only=True)
    except SIGTERMException:  # SIGTERM or a first Ctrl+C: last.ckpt was saved at the end of the step
        raise TrainingStopped(stop.signum, trainer.global_step, ckpt_dir / "last.ckpt", out_dir) from None
    trainer.save_checkpoint(ckpt_dir / "last.ckpt", weights_only=False)  # the final state, also mid-epoch
    if not trainer.is_global_zero:
        return TrainOutcome(out_dir, None, None, None)

    best = checkpoints.best_model_path or str(ckpt_dir / "last.ckpt")
    best_score = float(checkpoints.best_model_score) if checkpoints.best_model_score is not None else None
    facts = {"initial_validation": initial, "best_score": best_score, "best_checkpoint": best}
    exported = _export_and_summarise(cfg, out_dir, hash_, trainer, facts, datamodule, module, logger)
    return TrainOutcome(out_dir, exported, best, best_score)
