"""Evaluate a batch of files: fixed-length segments through the pipeline, joined back (`joins`) and measured
(`measurement`) per file as they stream out, in memory that does not grow with a file's length; the cross-run
cache's part is kept by `caching.CacheBook`."""

import time
from typing import Callable, Mapping, Optional, Sequence

import torch
from torch import nn

from audiovae.data.eval_data import CHANGED, EvalItem, changed_since_start
from audiovae.data.padding import pad_wave
from audiovae.errors import AudioError, EnhancerError
from audiovae.evaluation.caching import CacheBook, RunCache
from audiovae.evaluation.joins import Segmenting, SegmentJoins
from audiovae.evaluation.measurement import Alignment, Embedder, FileMeasurement
from audiovae.evaluation.media import FileMedia
from audiovae.metrics.base import PerItemMetric
from audiovae.models.variants import BASE, CEILING, ENHANCED
from audiovae.pipeline import PipelineOutputs, ReconstructionPipeline, SharedOutputs
from audiovae.reporting.records import ERROR, OK, FileResult

__all__ = ["FileStream", "evaluate_items"]

MediaFactory = Callable[[str, EvalItem, int], Optional[FileMedia]]  # (key, item, frames) -> the file's media
Finished = Callable[[str, FileResult], None]  # (enhancer key, result): called as each file finishes


def check_finite(item, chunk) -> None:
    """AudioError naming the variant (and enhancer) whose decoded waveform or log-mel holds NaN or inf: the file is an
    error row, not an `ok` row whose metrics are NaN."""
    parts = [*chunk.waves.items(), *chunk.mels.items()]
    for key, (wave, mel) in chunk.enhanced.items():
        name = f"enhanced (setting {key})" if len(chunk.enhanced) > 1 else "enhanced"
        parts += [(name, wave), (name, mel)]
    for name, tensor in parts:
        if not torch.isfinite(tensor).all():
            raise AudioError(item.key, f"the {name} decode holds NaN or inf (an enhancer or setting out of range)")


class FileStream:
    """One file on its way through the pipeline. Its segments' outputs arrive in order (`push`): joined, read
    against the reference, measured and written to the media; `results()` ends the file.

    Per file, the shared variants (the vocoder ceiling of a mel model, and base: `variants` less "enhanced") are
    measured once and shared by every enhancer key."""

    def __init__(
        self,
        item: EvalItem,
        starts: list[int],
        seg: Segmenting,
        metrics: dict[str, PerItemMetric],
        keys: Sequence[str],
        media: dict[str, Optional[FileMedia]],
        sample_rate: int,
        alignment: Alignment = Alignment(),
        embedder: Optional[Embedder] = None,
        cached: Optional[dict] = None,
        from_cache: bool = False,
        variants: Sequence[str] = (CEILING, BASE, ENHANCED),
        common_rate: Optional[int] = None,
    ):
        self.item, self.keys, self.media, self.sample_rate = item, list(keys), media, sample_rate
        shared_variants = [v for v in variants if v != ENHANCED]
        self.from_cache = from_cache  # its model outputs come from the cross-run cache
        self.num_samples, self.reader, self.position = item.audio.num_samples, item.audio.reader(), 0
        self.joins = SegmentJoins(starts, seg, self.num_samples, shared_variants, self.keys)
        self.measurement = FileMeasurement(
            item,
            metrics,
            self.keys,
            shared_variants,
            sample_rate,
            alignment,
            embedder,
            cached,
            common_rate,
            item.audio.n_channels,
        )
        self.seconds = {key: {"open": item.open_s} for key in self.keys}  # key -> stage -> seconds (the scan first)
        self.shared_values: Optional[dict] = None  # set by results(): what the cache keeps for this file

    @property
    def measured_shared(self) -> bool:
        """Its shared values were measured here (not taken from the cache)."""
        return self.measurement.cached is None

    def push(self, out: PipelineOutputs, row: int, seconds: dict[str, dict[str, float]]) -> None:
        """Segment `row` of `out`, with the pipeline seconds charged to it per enhancer key."""
        chunk = self.joins.push(out, row)
        check_finite(self.item, chunk)
        n = chunk.waves[BASE].shape[0]
        start = time.perf_counter()
        reference = self.reader.read(self.position, self.position + n).to(chunk.waves[BASE].device)
        self.position += n
        self.reader.release(self.position)
        read = time.perf_counter() - start
        self.measurement.update(reference, chunk)
        for key in self.keys:
            stages = self.seconds[key]
            for stage, value in {**seconds[key], "read": read}.items():
                stages[stage] = stages.get(stage, 0.0) + value
            if self.media.get(key) is not None:
                start = time.perf_counter()
                wave, mel = chunk.enhanced[key]
                self.media[key].add(
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
        """Every key's FileResult; media are closed (written) first."""
        self.shared_values = values = self.measurement.shared_values()
        it, out = self.item, {}
        lag = {k: values[k] for k in ("vocoder_lag", "vocoder_lag_corr") if k in values}
        for key in self.keys:
            own, notes, bands, embeddings, metric_seconds = self.measurement.own_values(key)
            if self.media.get(key) is not None:
                start = time.perf_counter()
                self.media[key].close()  # the wavs finished, the figure drawn
                self.seconds[key]["media"] = self.seconds[key].get("media", 0.0) + time.perf_counter() - start
            out[key] = FileResult(
                it.index,
                it.key,
                OK,
                notes="; ".join([*it.notes, *values["notes"], *notes]),
                stem=it.stem,
                duration_s=it.duration_s,
                evaluated_s=self.num_samples / self.sample_rate,
                sample_rate_in=it.sample_rate_in,
                channels_in=it.channels_in,
                seconds={**self.seconds[key], "metrics": metric_seconds},
                metrics={**values["metrics"], "enhanced": own},
                bands={"base": values["bands"], "enhanced": bands},
                embeddings={**values.get("embeddings", {}), **embeddings},
                from_cache=self.from_cache,
                source=source(it),
                **lag,
            )
        return out


def source(item: EvalItem) -> str:
    """The row's `source`: where a manifest or shard entry was listed ("" for a file, whose key says it)."""
    return item.source if item.source and item.source != item.key else ""


def evaluate_items(
    items: list[EvalItem],
    pipeline: ReconstructionPipeline,
    metrics: dict[str, PerItemMetric],
    seg: Segmenting,
    device: torch.device,
    enhancers: Mapping[str, nn.Module],
    generator: Optional[torch.Generator] = None,
    media: Optional[MediaFactory] = None,
    finished: Optional[Finished] = None,
    alignment: Alignment = Alignment(),
    embedder: Optional[Embedder] = None,
    cache: Optional[RunCache] = None,
    common_rate: Optional[int] = None,
) -> dict[str, list[FileResult]]:
    """Per named enhancer (setting), one FileResult per item (errors included, in item order). The files'
    segments go through the pipeline `seg.batch_segments` at a time, cut as they are needed, and every file is
    encoded once whatever the number of enhancers. `media(key, item, frames)` gives the FileMedia a file's outputs
    stream into (None: none); `finished(key, result)` is called as soon as a file's result exists (to persist it);
    with an `embedder`, each result carries its file's embeddings (reference and every variant) for set metrics.
    With a `cache`, a file whose enhancer-independent work is there skips the front end, encode, base decode and
    its synthesis (and, when its shared values fit this run's metrics, their metrics); a file that is not there
    is written to it as it streams.
    With `common_rate`, waveform metrics compare at that rate (`audiovae.evaluation.common_rate`).
    An AudioError while a file streams (a decoder that fails part-way) ends that file alone with status error."""
    keys = list(enhancers)
    rate = pipeline.frontend.sample_rate
    streams: dict[int, FileStream] = {}
    book = CacheBook(cache)
    work = []  # (item, its segment starts, segment position) in pipeline order
    for it in items:
        if not it.error:
            starts = seg.starts(it.audio.num_samples)
            frames = it.audio.num_samples // seg.hop
            files = {key: media(key, it, frames) if media else None for key in keys}
            cached = book.plan(it.index, it.key, len(starts))
            streams[it.index] = FileStream(
                it,
                starts,
                seg,
                metrics,
                keys,
                files,
                rate,
                alignment,
                embedder,
                cached,
                from_cache=book.is_hit(it.index),
                variants=pipeline.model.variants,
                common_rate=common_rate,
            )
            work += [(it, starts, i) for i in range(len(starts))]
    results: dict[int, dict[str, FileResult]] = {}

    def done(it: EvalItem, outcome: dict[str, FileResult]) -> None:
        results[it.index] = outcome
        for key, result in outcome.items():
            if finished is not None:
                finished(key, result)

    def fail(it: EvalItem, reason: str) -> None:
        book.failed(it.index)
        stream = streams.pop(it.index, None)
        if stream is not None:
            stream.abort()
        done(
            it,
            {
                key: FileResult(
                    it.index,
                    it.key,
                    ERROR,
                    error=reason,
                    duration_s=it.duration_s,
                    stem=it.stem,
                    sample_rate_in=it.sample_rate_in,
                    channels_in=it.channels_in,
                    source=source(it),
                )
                for key in keys
            },
        )

    for it in items:
        if it.error:
            fail(it, it.error)

    def finish(it: EvalItem) -> None:
        if changed_since_start(it):  # its numbers could mix two contents: no row values, no cache entry
            fail(it, CHANGED)
            return
        stream = streams[it.index]
        try:
            outcome = stream.results()
        except AudioError as err:  # a metric (a plugin's) failed on this file
            fail(it, err.reason)
            return
        streams.pop(it.index)
        book.finished(it.index, stream.shared_values, stream.measured_shared)
        done(it, outcome)

    def groups_of(fresh, segments, valid, loaded, rows, load_seconds) -> list:
        groups = []
        if fresh:
            zero_after = valid if seg.pad == "log_mel_zeros" else None
            out = pipeline(torch.stack(segments).to(device), enhancers, generator, zero_frames_after=zero_after)
            groups.append((fresh, out))
        if loaded:
            shared = SharedOutputs.stack(rows, device, {"cache_load": load_seconds})
            groups.append((loaded, pipeline.enhance(shared, enhancers)))
        return groups

    def model_groups(fresh, segments, valid, loaded, rows, load_seconds) -> list:
        """(batch items, outputs) of the fresh segments and the cache rows; when an enhancer fails on the batch, each
        item runs alone, so only the files it fails on become error rows (with its reason)."""
        try:
            return groups_of(fresh, segments, valid, loaded, rows, load_seconds)
        except EnhancerError as err:
            if len(fresh) + len(loaded) == 1:
                failed(fresh or loaded, err)
                return []
        groups = []
        for k, item in enumerate(fresh):
            try:
                groups += groups_of([item], [segments[k]], [valid[k]], [], [], 0.0)
            except EnhancerError as err:
                failed([item], err)
        for k, item in enumerate(loaded):
            try:
                groups += groups_of([], [], [], [item], [rows[k]], load_seconds / len(loaded))
            except EnhancerError as err:
                failed([item], err)
        return groups

    def failed(batch, err: EnhancerError) -> None:
        for it, _, _ in batch:
            if it.index in streams:
                fail(it, str(err))

    for first in range(0, len(work), seg.batch_segments):
        fresh, segments, valid, loaded, rows = [], [], [], [], []
        load_seconds = 0.0
        for it, starts, i in work[first : first + seg.batch_segments]:
            if it.index not in streams:  # failed earlier
                continue
            if book.is_hit(it.index):
                start = time.perf_counter()
                try:
                    rows.append(book.segment(it.index, i))
                except Exception as err:  # a damaged entry: this file fails once, the entry goes
                    book.damaged(it.index)
                    fail(
                        it,
                        f"its cache entry could not be read ({type(err).__name__}) and was removed: evaluate it again",
                    )
                    continue
                load_seconds += time.perf_counter() - start
                loaded.append((it, starts, i))
                continue
            try:
                piece = streams[it.index].reader.read(starts[i], min(starts[i] + seg.segment, it.audio.num_samples))
            except AudioError as err:
                fail(it, err.reason)
                continue
            segments.append(pad_wave(piece, seg.segment, seg.pad))
            valid.append(piece.shape[0])
            fresh.append((it, starts, i))
        groups = model_groups(fresh, segments, valid, loaded, rows, load_seconds)
        for batch, out in groups:
            share = {key: {stage: value / len(batch) for stage, value in out.seconds[key].items()} for key in keys}
            for row, (it, starts, i) in enumerate(batch):
                if it.index not in streams:
                    continue
                try:
                    streams[it.index].push(out, row, share)
                except AudioError as err:
                    fail(it, err.reason)
                    continue
                book.put(it.index, i, out.shared.row(row))
                if i == len(starts) - 1:
                    finish(it)
        del groups, segments, rows
    return {key: [results[it.index][key] for it in items] for key in keys}
