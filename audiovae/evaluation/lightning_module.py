"""Evaluation on several devices or processes (DDP): Lightning's `Trainer.test` runs a `FileEvaluator` on each
rank over its share of the files. A single process runs it without Lightning (`audiovae.evaluation.devices`)."""

import pytorch_lightning as pl
from torch.utils.data import DataLoader

from audiovae.data.eval_data import EvalDataset, EvalItem, eval_loader, rank_items
from audiovae.evaluation.file_evaluator import FileEvaluator


class EvalModule(pl.LightningModule):
    """`evaluator` under Trainer.test: its pipeline is a submodule (Lightning moves it to the rank's device)."""

    def __init__(self, evaluator: FileEvaluator):
        super().__init__()
        self.evaluator = evaluator
        self.pipeline = evaluator.pipeline

    def on_test_start(self) -> None:
        loader = self.trainer.test_dataloaders
        loader = loader[0] if isinstance(loader, (list, tuple)) else loader
        self.evaluator.start(self.device, rank_items(loader), self.global_rank, self.trainer.world_size)

    def test_step(self, batch: list[EvalItem], batch_idx: int) -> None:
        self.evaluator.step(batch)

    def on_test_epoch_end(self) -> None:
        self.evaluator.end()


class EvalDataModule(pl.LightningDataModule):
    """Each rank's share of the files (`eval_loader`)."""

    def __init__(self, dataset: EvalDataset, batch_size: int, num_workers: int):
        super().__init__()
        self.dataset, self.batch_size, self.num_workers = dataset, batch_size, num_workers

    def test_dataloader(self) -> DataLoader:
        rank, world = (self.trainer.global_rank, self.trainer.world_size) if self.trainer else (0, 1)
        return eval_loader(self.dataset, self.batch_size, self.num_workers, rank, world)
