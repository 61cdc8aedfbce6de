"""Where an evaluation's files run. The default `trainer` section (one device, `strategy: auto`, one node,
`precision: 32-true`) runs them in this process with a plain loop, without importing Lightning (its import and
set-up are ~0.5 s of a start); anything else (several devices, DDP, mixed precision, any other Trainer argument)
runs them under Lightning's `Trainer.test`, one `FileEvaluator` per rank. Both give the same rows."""

import random
import time
import warnings
from dataclasses import dataclass

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from audiovae.config.trainer_args import build_trainer, trainer_args
from audiovae.data.eval_data import EvalDataset, ShardEvalDataset, eval_loader, rank_items
from audiovae.errors import ConfigError
from audiovae.evaluation.file_evaluator import FileEvaluator

OWNED = dict(
    logger=False,
    use_distributed_sampler=False,
    enable_checkpointing=False,
    enable_model_summary=False,
    inference_mode=True,
    enable_progress_bar=False,
)  # Trainer arguments evaluation sets itself (the
# FileEvaluator shows progress per file, with an ETA)
SINGLE_PROCESS_KEYS = {"accelerator", "devices", "strategy", "num_nodes", "precision"}
ACCELERATORS = ("auto", "cpu", "gpu", "cuda", "mps")


@dataclass
class FilesRun:
    """Where the files ran: the device, the number of ranks, whether this process is rank 0, the wall seconds."""

    device: str
    world_size: int
    is_global_zero: bool
    wall_s: float


def single_process(trainer: DictConfig) -> bool:
    """Whether `trainer` asks for one process on one device at float32 and nothing else Lightning would do."""
    args = OmegaConf.to_container(trainer, resolve=True)
    return (
        set(args) <= SINGLE_PROCESS_KEYS
        and args.get("accelerator", "auto") in ACCELERATORS
        and str(args.get("devices", 1)) == "1"
        and args.get("strategy", "auto") == "auto"
        and str(args.get("num_nodes", 1)) == "1"
        and str(args.get("precision", "32-true")) in ("32-true", "32")
    )


def check_trainer(trainer: DictConfig) -> None:
    """ConfigError for a `trainer` key Lightning does not accept or evaluation sets itself, or for an accelerator
    that is not there (Lightning is imported only when the run will use it)."""
    if single_process(trainer):
        single_device(OmegaConf.to_container(trainer, resolve=True).get("accelerator", "auto"))
    else:
        trainer_args(trainer, OWNED)


def seed_everything(seed: int, trainer: DictConfig) -> None:
    """Python's, numpy's and torch's generators from `seed`; through Lightning when it runs the files (it also
    hands the seed to the processes it starts)."""
    if single_process(trainer):
        random.seed(seed)
        np.random.seed(seed)
        torch.manual_seed(seed)
    else:
        import pytorch_lightning as pl

        pl.seed_everything(seed, workers=True, verbose=False)


def single_device(accelerator: str) -> torch.device:
    """The device Lightning picks for `devices: 1`: "auto" takes the first CUDA GPU, else Apple's MPS, else the
    CPU."""
    if accelerator in ("gpu", "cuda") or (accelerator == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise ConfigError(f"config key 'trainer.accelerator': '{accelerator}', but no CUDA GPU is visible")
        return torch.device("cuda", 0)
    if accelerator == "mps" or (accelerator == "auto" and torch.backends.mps.is_available()):
        if not torch.backends.mps.is_available():
            raise ConfigError("config key 'trainer.accelerator': 'mps', but MPS is not available")
        return torch.device("mps")
    return torch.device("cpu")


def run_files(
    trainer: DictConfig,
    evaluator: FileEvaluator,
    dataset: EvalDataset | ShardEvalDataset,
    batch_size: int,
    num_workers: int,
) -> FilesRun:
    """`evaluator` over `dataset`'s files, `batch_size` files per step, in this process or under Lightning."""
    if not single_process(trainer):
        return _lightning_test(trainer, evaluator, dataset, batch_size, num_workers)
    device = single_device(OmegaConf.to_container(trainer, resolve=True).get("accelerator", "auto"))
    start = time.perf_counter()
    if len(dataset):
        loader = eval_loader(dataset, batch_size, num_workers)
        evaluator.start(device, rank_items(loader))
        try:
            with torch.inference_mode():
                for batch in loader:
                    evaluator.step(batch)
        except BaseException:
            evaluator.stop()  # the progress line ends before the error is said
            raise
        evaluator.end()
    return FilesRun(str(device), 1, True, time.perf_counter() - start)


def _lightning_test(
    trainer_cfg: DictConfig,
    evaluator: FileEvaluator,
    dataset: EvalDataset | ShardEvalDataset,
    batch_size: int,
    num_workers: int,
) -> FilesRun:

    from audiovae.evaluation.lightning_module import EvalDataModule, EvalModule

    trainer = build_trainer(**trainer_args(trainer_cfg, OWNED), **OWNED)
    start = time.perf_counter()
    if len(dataset):
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", ".*does not have many workers.*")
            trainer.test(
                EvalModule(evaluator), datamodule=EvalDataModule(dataset, batch_size, num_workers), verbose=False
            )
    return FilesRun(
        str(trainer.strategy.root_device), trainer.world_size, trainer.is_global_zero, time.perf_counter() - start
    )
