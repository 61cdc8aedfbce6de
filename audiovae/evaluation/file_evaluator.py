"""Evaluates batches of files on one device: one row per file (and per enhancer setting of a sweep), persisted as
it finishes. Run by a plain loop in a single process (`audiovae.evaluation.devices`) or by Lightning's
`Trainer.test` on several devices (`audiovae.evaluation.lightning_module`)."""

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Optional

import torch
import torch.distributed as dist
from torch import nn
from tqdm import tqdm

from audiovae.data.eval_data import EvalItem
from audiovae.evaluation.context import MeasuringContext
from audiovae.evaluation.streaming import PendingFiles, evaluate_items
from audiovae.reporting.records import FileResult
from audiovae.runs.media import FileMedia, PlotSpec
from audiovae.runs.store import ResultStore


@dataclass(frozen=True)
class MediaPlan:
    """What a run writes beside its rows (`outputs.*`): every file's audio, and plots of the first `max_plots`."""

    save_audio: bool = False
    save_plots: bool = False
    max_plots: int = 0


class FileEvaluator:
    """The run's measuring `context` for a set of named enhancer settings (one for a plain evaluation, one per
    combination for a sweep): `enhancers` and `out_dirs` map each setting's name to its enhancer chain and output
    folder. `done` holds the file keys each setting already has (resume); a batch runs only the settings some of
    its files still need. `start`, `step` per batch, `end`; then `results[name]` holds every rank's new
    FileResults in file order."""

    def __init__(
        self,
        context: MeasuringContext,
        enhancers: Mapping[str, nn.Module],
        out_dirs: Mapping[str, Path],
        media: MediaPlan = MediaPlan(),
        seed: int = 0,
        done: Optional[Mapping[str, set]] = None,
        fingerprints: Optional[Mapping[str, str]] = None,
        observer: Optional[Callable[[str, FileResult], None]] = None,
    ):
        self.context, self.pipeline, self.out_dirs = context, context.pipeline, dict(out_dirs)
        self.enhancers = dict(enhancers)
        self.fingerprints = dict(fingerprints or {})  # file key -> content fingerprint, stored with its row
        self.done = {name: set(done.get(name, ())) if done else set() for name in self.out_dirs}
        self.media, self.seed = media, seed
        self.device = torch.device("cpu")
        self.results: dict[str, list[FileResult]] = {}
        self._stores: dict[str, ResultStore] = {}
        self.pending = PendingFiles()  # files of earlier batches whose metrics the pool still computes
        self.observer = observer  # told of each stored result (a search's pruner); may stop the run by raising

    def start(self, device: torch.device, files: int, rank: int = 0, world_size: int = 1) -> None:
        """Before the first batch: the models on `device`, a result store per setting, the progress bar (rank 0
        shows it) for this rank's `files`."""
        self.device = device
        self.pipeline.to(device).eval()
        for chain in self.enhancers.values():
            chain.to(device).eval()
        if self.context.cache is not None:
            self.context.cache.device_type = device.type
        if self.context.embedder is not None:
            self.context.embedder.model.to(device)
            self.context.embedder.device = device
        self._stores = {name: ResultStore(folder / "partial", rank=rank) for name, folder in self.out_dirs.items()}
        self.results = {name: [] for name in self.out_dirs}
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
            name: chain
            for name, chain in self.enhancers.items()
            if any(item.key not in self.done[name] for item in batch)
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
            batch, self.context, self.device, enhancers, generator, self._media, self._finished, self.pending
        )

    def _finished(self, setting: str, result: FileResult) -> None:
        """Persist a file's result the moment it exists (after its audio and plot): stored = finished."""
        if result.file not in self.done[setting]:
            result.fingerprint = self.fingerprints.get(result.file, "")
            self._stores[setting].append(result)
            self.results[setting].append(result)
            if self.observer is not None:
                self.observer(setting, result)
        if setting == next(iter(self.out_dirs)):  # one tick per file, whatever the number of settings
            self._progress.set_postfix_str(result.file + ("" if result.status == "ok" else " (error)"), refresh=False)
            self._progress.update(1)

    def _media(self, setting: str, item: EvalItem, frames: int) -> Optional[FileMedia]:
        """Where a file's audio and plot go as it streams out; None for a file this setting already has."""
        plot = self.media.save_plots and item.index < self.media.max_plots
        if item.key in self.done[setting] or not (self.media.save_audio or plot):
            return None
        rate = self.context.sample_rate
        figure = PlotSpec(
            frames, item.audio.num_samples / rate, self.pipeline.frontend.band_centres, self.context.cutoff_hz
        )
        names = ("reference", *self.pipeline.model.variants)
        return FileMedia(
            self.out_dirs[setting], item.stem, item.key, rate, self.media.save_audio, figure if plot else None, names
        )

    def stop(self) -> None:
        """The run ends early (an error): the progress line is closed."""
        self._progress.close()

    def end(self) -> None:
        """After the last batch: the files still waiting for their metrics concluded, every rank's results gathered
        (DDP) and put in file order."""
        with torch.inference_mode():  # as the batches ran
            self.pending.drain()
        self._progress.close()
        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            gathered = [None] * dist.get_world_size()
            dist.all_gather_object(gathered, self.results)
            self.results = {name: [r for part in gathered for r in part[name]] for name in self.out_dirs}
        for results in self.results.values():
            results.sort(key=lambda r: r.index)
