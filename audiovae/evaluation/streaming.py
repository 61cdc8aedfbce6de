"""Evaluate a batch of files: fixed-length segments through the pipeline, joined back (`joins`) and measured
(`measurement`) per file as they stream out, in memory that does not grow with a file's length; the cross-run
cache's part is kept by `caching.CacheBook`."""

import time
from collections import deque
from concurrent.futures import Future, wait
from dataclasses import dataclass, field
from typing import Callable, Mapping, Optional, Sequence

import torch
from torch import nn

from audiovae.data.eval_data import CHANGED, EvalItem, changed_since_start
from audiovae.data.padding import pad_wave
from audiovae.errors import AudioError, EnhancerError
from audiovae.evaluation.caching import CacheBook
from audiovae.evaluation.context import MeasuringContext
from audiovae.evaluation.joins import SegmentJoins
from audiovae.evaluation.measurement import FileMeasurement
from audiovae.models.variants import BASE
from audiovae.pipeline import PipelineOutputs, SharedOutputs
from audiovae.reporting.records import ERROR, OK, FileResult
from audiovae.runs.media import FileMedia

__all__ = ["FileStream", "PendingFiles", "evaluate_items"]

MAX_PENDING_PER_WORKER = 2  # files waiting for their metrics in the pool, per worker process (beside a batch's)
MediaFactory = Callable[[str, EvalItem, int], Optional[FileMedia]]  # (setting, item, frames) -> the file's media
Finished = Callable[[str, FileResult], None]  # (setting, result): called as each file finishes


def check_finite(item, chunk) -> None:
    """AudioError naming the variant (and enhancer) whose decoded waveform or log-mel holds NaN or inf: the file is an
    error row, not an `ok` row whose metrics are NaN."""
    parts = [*chunk.waves.items(), *chunk.mels.items()]
    for setting, (wave, mel) in chunk.enhanced.items():
        name = f"enhanced (setting {setting})" if len(chunk.enhanced) > 1 else "enhanced"
        parts += [(name, wave), (name, mel)]
    for name, tensor in parts:
        if not torch.isfinite(tensor).all():
            raise AudioError(item.key, f"the {name} decode holds NaN or inf (an enhancer or setting out of range)")


def identity(item: EvalItem) -> dict:
    """The FileResult fields that say which file a row is (its ok row's and its error row's alike)."""
    return {
        "index": item.index,
        "file": item.key,
        "stem": item.stem,
        "duration_s": item.duration_s,
        "sample_rate_in": item.sample_rate_in,
        "channels_in": item.channels_in,
        "source": item.source if item.source and item.source != item.key else "",
    }


class FileStream:
    """One file on its way through the pipeline. Its segments' outputs arrive in order (`push`): joined, read
    against the reference, measured and written to the media; `results()` ends the file.

    Per file, the shared variants (the vocoder ceiling of a mel model, and base: `variants` less "enhanced") are
    measured once and shared by every enhancer setting."""

    def __init__(
        self,
        item: EvalItem,
        starts: list[int],
        context: MeasuringContext,
        settings: Sequence[str],
        media: dict[str, Optional[FileMedia]],
        cached: Optional[dict] = None,
        from_cache: bool = False,
    ):
        self.item, self.settings, self.media, self.sample_rate = item, list(settings), media, context.sample_rate
        self.from_cache = from_cache  # its model outputs come from the cross-run cache
        self.num_samples, self.reader, self.position = item.audio.num_samples, item.audio.reader(), 0
        self.joins = SegmentJoins(starts, context.segmenting, self.num_samples, context.shared_variants, self.settings)
        self.measurement = FileMeasurement(item, context, self.settings, cached)
        self.seconds = {
            name: {"open": item.open_s} for name in self.settings
        }  # setting -> stage -> seconds (scan first)
        self.shared_values: Optional[dict] = None  # set by results(): what the cache keeps for this file

    @property
    def measured_shared(self) -> bool:
        """Its shared values were measured here (not taken from the cache)."""
        return self.measurement.cached is None

    def push(self, out: PipelineOutputs, row: int, seconds: dict[str, dict[str, float]]) -> None:
        """Segment `row` of `out`, with the pipeline seconds charged to it per enhancer setting."""
        chunk = self.joins.push(out, row)
        check_finite(self.item, chunk)
        n = chunk.waves[BASE].shape[0]
        start = time.perf_counter()
        reference = self.reader.read(self.position, self.position + n).to(chunk.waves[BASE].device)
        self.position += n
        self.reader.release(self.position)
        read = time.perf_counter() - start
        self.measurement.update(reference, chunk)
        for setting in self.settings:
            stages = self.seconds[setting]
            for stage, value in {**seconds[setting], "read": read}.items():
                stages[stage] = stages.get(stage, 0.0) + value
            if self.media.get(setting) is not None:
                start = time.perf_counter()
                wave, mel = chunk.enhanced[setting]
                self.media[setting].add(
                    {"reference": reference, **chunk.waves, "enhanced": wave},
                    {"reference": chunk.mels["reference"], "base": chunk.mels[BASE], "enhanced": mel},
                )
                stages["media"] = stages.get("media", 0.0) + time.perf_counter() - start

    def abort(self) -> None:
        """The file failed while streaming: partial media are removed."""
        for media in self.media.values():
            if media is not None:
                media.abort()

    def results(self) -> dict[str, FileResult]:
        """Every setting's FileResult; media are closed (written) first."""
        self.shared_values = values = self.measurement.shared_values()
        it, out = self.item, {}
        lag = {k: values[k] for k in ("vocoder_lag", "vocoder_lag_corr") if k in values}
        for setting in self.settings:
            own, notes, bands, embeddings, metric_seconds = self.measurement.own_values(setting)
            if self.media.get(setting) is not None:
                start = time.perf_counter()
                self.media[setting].close()  # the wavs finished, the figure drawn
                self.seconds[setting]["media"] = self.seconds[setting].get("media", 0.0) + time.perf_counter() - start
            out[setting] = FileResult(
                **identity(it),
                status=OK,
                notes="; ".join([*it.notes, *values["notes"], *notes]),
                evaluated_s=self.num_samples / self.sample_rate,
                seconds={**self.seconds[setting], "metrics": metric_seconds},
                metrics={**values["metrics"], "enhanced": own},
                bands={"base": values["bands"], "enhanced": bands},
                embeddings={**values.get("embeddings", {}), **embeddings},
                from_cache=self.from_cache,
                **lag,
            )
        return out


@dataclass
class SegmentBatch:
    """The segments of one pass through the model: `fresh` (item, starts, position) read from their files, with
    their padded `segments` and `valid` samples, and `loaded` ones whose model outputs (`rows`) came from the cache in
    `load_seconds`."""

    fresh: list = field(default_factory=list)
    segments: list = field(default_factory=list)
    valid: list = field(default_factory=list)
    loaded: list = field(default_factory=list)
    rows: list = field(default_factory=list)
    load_seconds: float = 0.0

    def __len__(self) -> int:
        return len(self.fresh) + len(self.loaded)

    def alone(self) -> list["SegmentBatch"]:
        """Each segment as a batch of its own (the cache's load time shared out)."""
        share = self.load_seconds / max(len(self.loaded), 1)
        return [SegmentBatch([f], [s], [v]) for f, s, v in zip(self.fresh, self.segments, self.valid)] + [
            SegmentBatch(loaded=[item], rows=[row], load_seconds=share) for item, row in zip(self.loaded, self.rows)
        ]


class PendingFiles:
    """Files whose whole-signal metrics the pool computes, first in first out, across batches: each waits here
    with its batch's run until its values are in, then is concluded (its row written) in file order."""

    def __init__(self):
        self.queue: deque[tuple["BatchRun", EvalItem, list[Future]]] = deque()

    def __len__(self) -> int:
        return len(self.queue)

    def add(self, run: "BatchRun", it: EvalItem, futures: list[Future]) -> None:
        """`it` of `run` waits for `futures`."""
        self.queue.append((run, it, futures))

    def drain(self, keep: int = 0) -> None:
        """Conclude the first files whose metrics are done, and wait for the first ones while more than `keep`
        wait."""
        while self.queue:
            run, it, futures = self.queue[0]
            if len(self.queue) <= keep and not all(f.done() for f in futures):
                return
            wait(futures)
            self.queue.popleft()
            run.conclude(it)


class BatchRun:
    """One call of `evaluate_items`: every file's stream, the cache's bookkeeping (`CacheBook`) and the results as
    files finish (`finished` is told each one). `run` feeds the segments through the model batch by batch."""

    def __init__(
        self,
        context: MeasuringContext,
        device: torch.device,
        enhancers: Mapping[str, nn.Module],
        generator: Optional[torch.Generator],
        finished: Optional[Finished],
        pending: Optional[PendingFiles] = None,
    ):
        self.context, self.device, self.enhancers, self.generator = context, device, enhancers, generator
        self.settings, self.finished = list(enhancers), finished
        self.book = CacheBook(context.cache)
        self.streams: dict[int, FileStream] = {}
        self.results: dict[int, dict[str, FileResult]] = {}
        self.pending = PendingFiles() if pending is None else pending  # files whose metrics the pool computes
        self.own_pending = pending is None  # drained when this run ends (else by whoever gave it)
        self.batch_files = 0

    def open(self, items: list[EvalItem], media: Optional[MediaFactory]) -> list[tuple]:
        """A stream per readable item (an unreadable one is its error row); the (item, starts, position) of every
        segment in pipeline order."""
        seg, work = self.context.segmenting, []
        self.batch_files = len(items)  # held in memory by this batch anyway: they may also wait for their metrics
        for it in items:
            if it.error:
                continue
            starts = seg.starts(it.audio.num_samples)
            frames = it.audio.num_samples // seg.hop
            files = {name: media(name, it, frames) if media else None for name in self.settings}
            cached = self.book.plan(it.index, it.key, len(starts))
            self.streams[it.index] = FileStream(
                it, starts, self.context, self.settings, files, cached, self.book.is_hit(it.index)
            )
            work += [(it, starts, i) for i in range(len(starts))]
        for it in items:
            if it.error:
                self.fail(it, it.error)
        return work

    def done(self, it: EvalItem, outcome: dict[str, FileResult]) -> None:
        """Keep a file's results and tell `finished`."""
        self.results[it.index] = outcome
        for setting, result in outcome.items():
            if self.finished is not None:
                self.finished(setting, result)

    def fail(self, it: EvalItem, reason: str) -> None:
        """The file's error row for every setting; its stream and cache entry are dropped."""
        self.book.failed(it.index)
        stream = self.streams.pop(it.index, None)
        if stream is not None:
            stream.abort()
        self.done(it, {name: FileResult(**identity(it), status=ERROR, error=reason) for name in self.settings})

    def finish(self, it: EvalItem) -> None:
        """The file's last segment is in. With a pool its whole-signal metrics go to the workers and the file waits
        in `pending` (in order; besides this batch's files at most MAX_PENDING_PER_WORKER per worker, so held
        signals stay bounded); else its results now."""
        if self.context.pool is None or changed_since_start(it):
            self.conclude(it)
            return
        self.pending.add(self, it, self.streams[it.index].measurement.submit(self.context.pool))
        self.pending.drain(keep=MAX_PENDING_PER_WORKER * self.context.pool.workers + self.batch_files)

    def conclude(self, it: EvalItem) -> None:
        """The file's results (or its error row when it changed or a metric failed)."""
        if changed_since_start(it):  # its numbers could mix two contents: no row values, no cache entry
            self.fail(it, CHANGED)
            return
        stream = self.streams[it.index]
        try:
            outcome = stream.results()
        except AudioError as err:  # a metric (a plugin's) failed on this file
            self.fail(it, err.reason)
            return
        self.streams.pop(it.index)
        self.book.finished(it.index, stream.shared_values, stream.measured_shared)
        self.done(it, outcome)

    def collect(self, work: list[tuple]) -> SegmentBatch:
        """The next batch's segments: from the cache where the file's entry is there, else read and padded."""
        seg, batch = self.context.segmenting, SegmentBatch()
        for it, starts, i in work:
            if it.index not in self.streams:  # failed earlier
                continue
            if self.book.is_hit(it.index):
                start = time.perf_counter()
                try:
                    batch.rows.append(self.book.segment(it.index, i))
                except Exception as err:  # a damaged entry: this file fails once, the entry goes
                    self.book.damaged(it.index)
                    reason = (
                        f"its cache entry could not be read ({type(err).__name__}) and was removed: evaluate it again"
                    )
                    self.fail(it, reason)
                    continue
                batch.load_seconds += time.perf_counter() - start
                batch.loaded.append((it, starts, i))
                continue
            try:
                piece = self.streams[it.index].reader.read(
                    starts[i], min(starts[i] + seg.segment, it.audio.num_samples)
                )
            except AudioError as err:
                self.fail(it, err.reason)
                continue
            batch.segments.append(pad_wave(piece, seg.segment, seg.pad))
            batch.valid.append(piece.shape[0])
            batch.fresh.append((it, starts, i))
        return batch

    def outputs(self, batch: SegmentBatch) -> list[tuple[list, PipelineOutputs]]:
        """(batch items, model outputs) of the fresh segments and of the cache rows."""
        pipeline, groups = self.context.pipeline, []
        if batch.fresh:
            zero_after = batch.valid if self.context.segmenting.pad == "log_mel_zeros" else None
            segments = torch.stack(batch.segments).to(self.device)
            groups.append(
                (batch.fresh, pipeline(segments, self.enhancers, self.generator, zero_frames_after=zero_after))
            )
        if batch.loaded:
            shared = SharedOutputs.stack(batch.rows, self.device, {"cache_load": batch.load_seconds})
            groups.append((batch.loaded, pipeline.enhance(shared, self.enhancers)))
        return groups

    def model_groups(self, batch: SegmentBatch) -> list[tuple[list, PipelineOutputs]]:
        """`outputs`; when an enhancer fails on the batch, each item runs alone, so only the files it fails on become
        error rows (with its reason)."""
        try:
            return self.outputs(batch)
        except EnhancerError as err:
            if len(batch) == 1:
                self._enhancer_failed([*batch.fresh, *batch.loaded], err)
                return []
        groups = []
        for one in batch.alone():
            try:
                groups += self.outputs(one)
            except EnhancerError as err:
                self._enhancer_failed([*one.fresh, *one.loaded], err)
        return groups

    def _enhancer_failed(self, items: list[tuple], err: EnhancerError) -> None:
        for it, _, _ in items:
            if it.index in self.streams:
                self.fail(it, str(err))

    def push(self, groups: list[tuple[list, PipelineOutputs]]) -> None:
        """Each segment's outputs into its file's stream (with its share of the pass's seconds); a file whose last
        segment this is finishes."""
        for batch, out in groups:
            share = {name: {stage: v / len(batch) for stage, v in out.seconds[name].items()} for name in self.settings}
            for row, (it, starts, i) in enumerate(batch):
                if it.index not in self.streams:
                    continue
                try:
                    self.streams[it.index].push(out, row, share)
                except AudioError as err:
                    self.fail(it, err.reason)
                    continue
                self.book.put(it.index, i, out.shared.row(row))
                if i == len(starts) - 1:
                    self.finish(it)

    def run(self, work: list[tuple]) -> None:
        """Every segment through the model, `segmenting.batch_segments` at a time."""
        size = self.context.segmenting.batch_segments
        for first in range(0, len(work), size):
            groups = self.model_groups(self.collect(work[first : first + size]))
            self.push(groups)
            del groups
            self.pending.drain(keep=len(self.pending))  # the files whose metrics are done, without waiting
        if self.own_pending:
            self.pending.drain()


def evaluate_items(
    items: list[EvalItem],
    context: MeasuringContext,
    device: torch.device,
    enhancers: Mapping[str, nn.Module],
    generator: Optional[torch.Generator] = None,
    media: Optional[MediaFactory] = None,
    finished: Optional[Finished] = None,
    pending: Optional[PendingFiles] = None,
) -> dict[str, list[FileResult]]:
    """Per named enhancer (setting), one FileResult per item (errors included, in item order). The files'
    segments go through the pipeline `segmenting.batch_segments` at a time, cut as they are needed, and every file
    is encoded once whatever the number of enhancers. `media(setting, item, frames)` gives the FileMedia a file's
    outputs stream into (None: none); `finished(setting, result)` is called as soon as a file's result exists (to
    persist it). The `context` says what is measured: with an embedder each result carries its file's embeddings
    (set metrics); with a cache a file whose enhancer-independent work is there skips the front end, encode, base
    decode and its synthesis (and, when its shared values fit this run's metrics, their metrics), and a file that is
    not there is written to it as it streams; with a common rate waveform metrics compare at that rate.
    An AudioError while a file streams (a decoder that fails part-way) ends that file alone with status error.
    With a metric pool (`context.pool`) and a `pending` queue of the caller's, files whose metrics are still being
    computed stay in it when this returns (the caller drains it; they are then reported to `finished`), so the
    model goes on with the next batch: the result lists hold the files concluded so far."""
    run = BatchRun(context, device, enhancers, generator, finished, pending)
    run.run(run.open(items, media))
    return {name: [run.results[it.index][name] for it in items if it.index in run.results] for name in run.settings}
