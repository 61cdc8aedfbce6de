"""LightningModule that evaluates files under `Trainer.test`: one row per file, persisted as it finishes."""
from pathlib import Path
from typing import Optional

import pytorch_lightning as pl
import torch
import torch.distributed as dist

from audiovae.audio.io import save_wav
from audiovae.data.eval_data import EvalItem
from audiovae.data.files import output_stem
from audiovae.evaluation.engine import FileSignals, Segmenting, evaluate_items
from audiovae.evaluation.plots import plot_file
from audiovae.evaluation.results import FileResult, ResultStore
from audiovae.metrics.base import PerItemMetric
from audiovae.pipeline import ReconstructionPipeline


class EvalModule(pl.LightningModule):
    """Wraps the reconstruction pipeline; `results` holds every rank's FileResults after the test epoch."""

    def __init__(self, pipeline: ReconstructionPipeline, metrics: dict[str, PerItemMetric], segmenting: Segmenting,
                 out_dir: Path, save_audio: bool, save_plots: bool, max_plots: int, seed: int):
        super().__init__()
        self.pipeline, self.segmenting, self.out_dir = pipeline, segmenting, out_dir
        self.metrics = metrics  # used as functions only: not registered as submodules
        self.save_audio, self.save_plots, self.max_plots, self.seed = save_audio, save_plots, max_plots, seed
        self.results: list[FileResult] = []
        self._store: Optional[ResultStore] = None

    def on_test_start(self) -> None:
        self._store = ResultStore(self.out_dir / "partial", rank=self.global_rank)
        self.results = []

    def test_step(self, batch: list[EvalItem], batch_idx: int) -> None:
        generator = None
        if self.pipeline.model.sample_posterior:
            generator = torch.Generator(self.device).manual_seed(self.seed + batch[0].index)
        for result, signals in evaluate_items(batch, self.pipeline, self.metrics, self.segmenting, self.device,
                                              generator):
            if signals is not None:
                self._write_media(result, signals)
            self._store.append(result)  # only after its audio and plot exist: a stored file is a finished file
            self.results.append(result)

    def _write_media(self, result: FileResult, signals: FileSignals) -> None:
        stem, sr = output_stem(result.file), self.pipeline.frontend.sample_rate
        if self.save_audio:
            for variant in ("reference", "vocoder", "base", "enhanced"):
                save_wav(self.out_dir / "audio" / f"{stem}.{variant}.wav", getattr(signals, variant).float().cpu().numpy(), sr)
        if self.save_plots and result.index < self.max_plots:
            plot_file(self.out_dir / "plots" / f"{stem}.png", signals, sr, result.file)

    def on_test_epoch_end(self) -> None:
        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            gathered = [None] * dist.get_world_size()
            dist.all_gather_object(gathered, self.results)
            self.results = [r for part in gathered for r in part]
        self.results.sort(key=lambda r: r.index)
