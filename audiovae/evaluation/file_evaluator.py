"""Evaluates batches of files on one device: one row per file (and per enhancer setting of a sweep), persisted as
it finishes. Run by a plain loop in a single process (`audiovae.evaluation.devices`) or by Lightning's
`Trainer.test` on several devices (`audiovae.evaluation.lightning_module`)."""

from pathlib import Path
from typing import Mapping, Optional

import torch
import torch.distributed as dist
from torch import nn
from tqdm import tqdm

from audiovae.data.eval_data import EvalItem
from audiovae.evaluation.caching import RunCache
from audiovae.evaluation.joins import Segmenting
from audiovae.evaluation.measurement import Alignment, Embedder
from audiovae.evaluation.media import FileMedia
from audiovae.evaluation.store import ResultStore
from audiovae.evaluation.streaming import evaluate_items
from audiovae.metrics.base import PerItemMetric
from audiovae.metrics.functional.frames import hf_cutoff
from audiovae.pipeline import ReconstructionPipeline
from audiovae.reporting.records import FileResult


class FileEvaluator:
    """The reconstruction pipeline for a set of named enhancer settings (one for a plain evaluation, one per
    combination for a sweep): `enhancers` and `out_dirs` map each setting's name to its enhancer chain and output
    folder. `done` holds the file keys each setting already has (resume); a batch runs only the settings some of
    its files still need. `start`, `step` per batch, `end`; then `results[name]` holds every rank's new
    FileResults in file order."""

    def __init__(
        self,
        pipeline: ReconstructionPipeline,
        metrics: dict[str, PerItemMetric],
        segmenting: Segmenting,
        enhancers: Mapping[str, nn.Module],
        out_dirs: Mapping[str, Path],
        save_audio: bool,
        save_plots: bool,
        max_plots: int,
        seed: int,
        done: Optional[Mapping[str, set]] = None,
        fingerprints: Optional[Mapping[str, str]] = None,
        cutoff_hz: Optional[float] = None,
        alignment: Alignment = Alignment(),
        embedder: Optional[Embedder] = None,
        cache: Optional[RunCache] = None,
        common_rate: Optional[int] = None,
    ):
        self.pipeline, self.segmenting, self.out_dirs = pipeline, segmenting, dict(out_dirs)
        self.metrics = metrics
        self.enhancers = dict(enhancers)
        self.fingerprints = dict(fingerprints or {})  # file key -> content fingerprint, stored with its row
        self.done = {key: set(done.get(key, ())) if done else set() for key in self.out_dirs}
        self.save_audio, self.save_plots, self.max_plots, self.seed = save_audio, save_plots, max_plots, seed
        self.cutoff_hz = hf_cutoff(pipeline.frontend.sample_rate, cutoff_hz)  # the line in file plots
        self.alignment = alignment
        self.embedder = embedder  # set metrics' embedding model
        self.cache = cache  # the cross-run cache of enhancer-independent work (None: off)
        self.common_rate = common_rate  # metrics.common_rate: the rate of the waveform metrics (None: the model's)
        self.device = torch.device("cpu")
        self.results: dict[str, list[FileResult]] = {}
        self._stores: dict[str, ResultStore] = {}

    def start(self, device: torch.device, files: int, rank: int = 0, world_size: int = 1) -> None:
        """Before the first batch: the models on `device`, a result store per setting, the progress bar (rank 0
        shows it) for this rank's `files`."""
        self.device = device
        self.pipeline.to(device).eval()
        for chain in self.enhancers.values():
            chain.to(device).eval()
        if self.cache is not None:
            self.cache.device_type = device.type
        if self.embedder is not None:
            self.embedder.model.to(device)
            self.embedder.device = device
        self._stores = {key: ResultStore(folder / "partial", rank=rank) for key, folder in self.out_dirs.items()}
        self.results = {key: [] for key in self.out_dirs}
        settings = f" ({len(self.out_dirs)} settings)" if len(self.out_dirs) > 1 else ""
        ranks = f" [rank {rank}/{world_size}]" if world_size > 1 else ""
        self._progress = tqdm(
            total=files,
            desc=f"evaluating{settings}{ranks}",
            unit="file",
            disable=rank != 0,
            dynamic_ncols=True,
            bar_format="{desc}: {n_fmt}/{total_fmt} files [{elapsed}<{remaining}]{postfix}",
        )

    def _needed(self, batch: list[EvalItem]) -> dict[str, nn.Module]:
        return {
            key: chain for key, chain in self.enhancers.items() if any(item.key not in self.done[key] for item in batch)
        }

    def step(self, batch: list[EvalItem]) -> None:
        """Evaluate the batch's files for every setting that still lacks one of them."""
        generator = None
        if self.pipeline.model.sample_posterior:
            generator = torch.Generator(self.device).manual_seed(self.seed + batch[0].index)
        enhancers = self._needed(batch)
        if not enhancers:
            return
        evaluate_items(
            batch,
            self.pipeline,
            self.metrics,
            self.segmenting,
            self.device,
            enhancers,
            generator,
            media=self._media,
            finished=self._finished,
            alignment=self.alignment,
            embedder=self.embedder,
            cache=self.cache,
            common_rate=self.common_rate,
        )

    def _finished(self, key: str, result: FileResult) -> None:
        """Persist a file's result the moment it exists (after its audio and plot): stored = finished."""
        if result.file not in self.done[key]:
            result.fingerprint = self.fingerprints.get(result.file, "")
            self._stores[key].append(result)
            self.results[key].append(result)
        if key == next(iter(self.out_dirs)):  # one tick per file, whatever the number of settings
            self._progress.set_postfix_str(result.file + ("" if result.status == "ok" else " (error)"), refresh=False)
            self._progress.update(1)

    def _media(self, key: str, item: EvalItem, frames: int) -> Optional[FileMedia]:
        """Where a file's audio and plot go as it streams out; None for a file this setting already has."""
        plot = self.save_plots and item.index < self.max_plots
        if item.key in self.done[key] or not (self.save_audio or plot):
            return None
        frontend = self.pipeline.frontend
        return FileMedia(
            self.out_dirs[key],
            item.stem,
            item.key,
            frontend.sample_rate,
            frames,
            item.audio.num_samples,
            audio=self.save_audio,
            plot=plot,
            hz=frontend.band_centres,
            cutoff_hz=self.cutoff_hz,
            names=("reference", *self.pipeline.model.variants),
        )

    def stop(self) -> None:
        """The run ends early (an error): the progress line is closed."""
        self._progress.close()

    def end(self) -> None:
        """After the last batch: every rank's results gathered (DDP) and put in file order."""
        self._progress.close()
        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            gathered = [None] * dist.get_world_size()
            dist.all_gather_object(gathered, self.results)
            self.results = {key: [r for part in gathered for r in part[key]] for key in self.out_dirs}
        for results in self.results.values():
            results.sort(key=lambda r: r.index)
