"""Evaluate a batch of files: fixed-length segments through the pipeline, reassembled and measured per file as
they stream out, in memory that does not grow with a file's length."""
import math
import time
from dataclasses import dataclass
from typing import Callable, Mapping, Optional, Protocol, Sequence

import torch
from torch import nn

from audiovae.cache.store import CacheEntry
from audiovae.data.eval_data import CHANGED, EvalItem, changed_since_start
from audiovae.data.padding import pad_wave
from audiovae.data.segments import OverlapAdd, segment_starts
from audiovae.errors import AudioError
from audiovae.evaluation.caching import RunCache
from audiovae.evaluation.common_rate import CommonRate
from audiovae.evaluation.media import FileMedia
from audiovae.metrics.base import MEL, PerItemMetric
from audiovae.metrics.functional.lag import LagSearch, Shift
from audiovae.metrics.functional.mel_domain import BandEnergySums
from audiovae.models.variants import BASE, CEILING, ENHANCED
from audiovae.pipeline import PipelineOutputs, ReconstructionPipeline, SharedOutputs
from audiovae.reporting.records import ERROR, OK, FileResult, encode_embedding


@dataclass
class Segmenting:
    """How files become VAE inputs. Every segment has `segment` samples (a multiple of hop × VAE downsampling),
    so the VAE always sees the same shape and a file's result never depends on what it was batched with; a
    segment past the file's end is filled by the `pad` rule (`audiovae.data.padding`)."""

    segment: int
    overlap: int
    chunking: bool
    batch_segments: int
    hop: int
    pad: str = "silence"

    def starts(self, num_samples: int) -> list[int]:
        return segment_starts(num_samples, self.segment, self.overlap) if self.chunking else [0]


@dataclass(frozen=True)
class Alignment:
    """`max_lag`: the vocoder ceiling's lag against the reference is searched within ±max_lag samples per file
    (0: not searched); `shift`: reconstructions are compared sample t + shift with reference sample t in the
    waveform metrics (`metrics.align_samples`; mel-domain metrics and media are not shifted)."""

    max_lag: int = 0
    shift: int = 0


class Embedder(Protocol):
    """The embedding model of set metrics (`audiovae.models.embedding.ClapEmbedder`)."""

    def embed(self, wave: torch.Tensor, sample_rate: int): ...


class WholeWaves:
    """A file's waveforms per variant, kept whole for the embedding model (set metrics see whole files)."""

    def __init__(self):
        self.parts: dict[str, list[torch.Tensor]] = {}

    def add(self, variant: str, chunk: torch.Tensor) -> None:
        self.parts.setdefault(variant, []).append(chunk.detach().float().cpu())

    def embeddings(self, embedder: Embedder, sample_rate: int, variants: Sequence[str]) -> dict[str, str]:
        return {v: encode_embedding(embedder.embed(torch.cat(self.parts[v]), sample_rate)) for v in variants}


MediaFactory = Callable[[str, EvalItem, int], Optional[FileMedia]]  # (key, item, frames) -> the file's media
Finished = Callable[[str, FileResult], None]  # (enhancer key, result): called as each file finishes


class FileStream:
    """One file on its way through the pipeline. Its segments' outputs arrive in order (`push`); each is
    cross-faded onto the previous ones and the part no later segment touches goes straight to the metrics'
    accumulators and the media, so memory does not grow with the file's length. `results()` ends the file.

    Per file, the shared variants (the vocoder ceiling of a mel model, and base: `variants` less "enhanced") are
    measured once and shared by every enhancer key."""

    def __init__(self, item: EvalItem, starts: list[int], seg: Segmenting, metrics: dict[str, PerItemMetric],
                 keys: Sequence[str], media: dict[str, Optional[FileMedia]], sample_rate: int,
                 alignment: Alignment = Alignment(), embedder: Optional[Embedder] = None,
                 cached: Optional[dict] = None, from_cache: bool = False,
                 variants: Sequence[str] = (CEILING, BASE, ENHANCED), common_rate: Optional[int] = None):
        self.item, self.keys, self.media, self.sample_rate = item, list(keys), media, sample_rate
        self.shared_variants = [v for v in variants if v != ENHANCED]
        # waveform metrics at metrics.common_rate: the reference read at that rate, reconstructions resampled to it
        self.common = CommonRate(item.audio, sample_rate, common_rate) if common_rate else None
        self.from_cache = from_cache  # its model outputs come from the cross-run cache
        self.cached = cached  # the shared values (vocoder ceiling and base) from the cache: not measured again
        self.num_samples, self.reader = item.audio.num_samples, item.audio.reader()
        frames = self.num_samples // seg.hop
        wave_join = lambda: OverlapAdd(starts, seg.overlap, self.num_samples)  # noqa: E731
        mel_join = lambda: OverlapAdd([s // seg.hop for s in starts], seg.overlap // seg.hop, frames)  # noqa: E731
        self.wave_joins = {variant: wave_join() for variant in self.shared_variants}
        self.mel_joins = {"reference": mel_join(), "base": mel_join()}
        self.enhanced_joins = {key: (wave_join(), mel_join()) for key in self.keys}
        self.metrics = metrics
        self.shared = {} if cached is not None else {
            variant: {name: m.accumulator() for name, m in metrics.items() if m.domain != MEL or variant == "base"}
            for variant in self.shared_variants}
        self.own = {key: {name: m.accumulator() for name, m in metrics.items()} for key in self.keys}
        self.base_bands = BandEnergySums()  # per-band retention of the base decode, and of each enhanced one
        self.enhanced_bands = {key: BandEnergySums() for key in self.keys}
        self.seconds = {key: {} for key in self.keys}  # key -> pipeline stage -> seconds
        self.metric_seconds = {key: 0.0 for key in self.keys}  # each key's own metric passes
        self.shared_metric_seconds, self.position = 0.0, 0
        self.lag = (LagSearch(alignment.max_lag) if alignment.max_lag and cached is None
                    and CEILING in self.shared_variants else None)  # the vocoder ceiling's lag
        self.shift = Shift(alignment.shift)
        self.embedder = embedder
        whole_keys = self.keys if cached is not None else ["shared", *self.keys]
        self.whole = {key: WholeWaves() for key in whole_keys} if embedder is not None else None
        self.shared_values: Optional[dict] = None  # set by results(): what the cache keeps for this file

    def push(self, out: PipelineOutputs, row: int, seconds: dict[str, dict[str, float]]) -> None:
        """Segment `row` of `out`, with the pipeline seconds charged to it per enhancer key."""
        waves = {name: join.push(getattr(out, f"{name}_wave")[row]) for name, join in self.wave_joins.items()}
        mels = {name: join.push(getattr(out, f"{name}_mel")[row, 0]) for name, join in self.mel_joins.items()}
        enhanced = {key: (wave.push(out.enhanced_waves[key][row]), mel.push(out.enhanced_mels[key][row, 0]))
                    for key, (wave, mel) in self.enhanced_joins.items()}
        n = waves["base"].shape[0]
        reference = self.reader.read(self.position, self.position + n).to(waves["base"].device)
        self.position += n
        self.reader.release(self.position)
        start = time.perf_counter()
        if self.lag is not None:
            self.lag.update(waves[CEILING], reference)
        if self.whole is not None:
            if "shared" in self.whole:
                for variant, wave in (("reference", reference), *waves.items()):
                    self.whole["shared"].add(variant, wave)
            for key, (wave, _) in enhanced.items():
                self.whole[key].add("enhanced", wave)
        measured_ref, measured = self.shift(reference, {**{("shared", v): w for v, w in waves.items() if self.shared},
                                                        **{("own", key): e[0] for key, e in enhanced.items()}})
        if self.common is not None:
            measured_ref, measured = self.common.push(measured)
        for variant, accumulators in self.shared.items():
            self._update(accumulators, measured[("shared", variant)], measured_ref,
                         mels[variant] if variant == "base" else None, mels["reference"])
        if self.cached is None:
            self.base_bands.update(mels["base"], mels["reference"])
        self.shared_metric_seconds += time.perf_counter() - start
        for key in self.keys:
            start = time.perf_counter()
            wave, mel = enhanced[key]
            self._update(self.own[key], measured[("own", key)], measured_ref, mel, mels["reference"])
            self.enhanced_bands[key].update(mel, mels["reference"])
            self.metric_seconds[key] += time.perf_counter() - start
            stages = self.seconds[key]
            for stage, value in seconds[key].items():
                stages[stage] = stages.get(stage, 0.0) + value
            if self.media.get(key) is not None:
                self.media[key].add({"reference": reference, **waves, "enhanced": wave},
                                    {"reference": mels["reference"], "base": mels["base"], "enhanced": mel})

    def _update(self, accumulators: dict, wave, reference, mel, reference_mel) -> None:
        for name, acc in accumulators.items():
            if self.metrics[name].domain == MEL:
                if mel is not None:  # (a common-rate flush carries waveforms only)
                    acc.update(mel, reference_mel)
            elif reference.shape[0]:  # a shifted stream's first chunk may hold nothing yet
                acc.update(wave, reference)

    def _values(self, variant: str, accumulators: dict) -> tuple[dict, list[str]]:
        values = {name: float(acc.value()) for name, acc in accumulators.items()}
        notes = []
        for name in values:
            metric, rate = self.metrics[name], self.item.sample_rate_in
            if metric.high_band and rate and rate / 2 <= metric.cutoff_hz:  # the input never held that band
                values[name] = float("nan")
                notes.append(f"{variant}/{name}: the input's rate ({rate} Hz) holds nothing above "
                             f"{metric.cutoff_hz:g} Hz (metrics.hf_cutoff_hz): excluded")
            elif math.isnan(values[name]):
                notes.append(f"{variant}/{name}: {metric.nan_reason}")
        return values, notes

    def abort(self) -> None:
        """The file failed while streaming: partial media are removed."""
        for media in self.media.values():
            if media is not None:
                media.abort()

    def _shared_values(self) -> dict:
        """The vocoder ceiling's and the base's values, notes, band retention, lag and embeddings: measured here,
        or as the cache holds them (JSON-able, so the cache can keep them)."""
        if self.cached is not None:
            return self.cached
        start = time.perf_counter()
        shared = {variant: self._values(variant, accs) for variant, accs in self.shared.items()}
        values = {"metrics": {variant: v for variant, (v, _) in shared.items()},
                  "notes": [note for _, notes in shared.values() for note in notes],
                  "bands": self.base_bands.value().tolist()}
        if self.lag is not None:
            values["vocoder_lag"], values["vocoder_lag_corr"] = self.lag.value()
        if self.whole is not None:
            values["embeddings"] = self.whole["shared"].embeddings(self.embedder, self.sample_rate,
                                                                   ("reference", *self.shared_variants))
        self.shared_metric_seconds += time.perf_counter() - start
        return values

    def _flush_common(self) -> None:
        """The common-rate resamplers' last samples into the waveform metrics (the end of the file)."""
        if self.common is None or not self.common.streams:
            return
        reference, measured = self.common.flush(list(self.common.streams))
        for variant, accumulators in self.shared.items():
            self._update(accumulators, measured[("shared", variant)], reference, None, None)
        for key in self.keys:
            self._update(self.own[key], measured[("own", key)], reference, None, None)

    def results(self) -> dict[str, FileResult]:
        """Every key's FileResult; media are closed (written) first."""
        self._flush_common()
        self.shared_values = values = self._shared_values()
        it, out = self.item, {}
        shared_notes, base_bands = values["notes"], values["bands"]
        shared_embeddings = values.get("embeddings", {})
        lag = {k: values[k] for k in ("vocoder_lag", "vocoder_lag_corr") if k in values}
        for key in self.keys:
            start = time.perf_counter()
            own_values, notes = self._values("enhanced", self.own[key])
            embeddings = {}
            if self.whole is not None:
                embeddings = {**shared_embeddings,
                              **self.whole[key].embeddings(self.embedder, self.sample_rate, ("enhanced",))}
            own = time.perf_counter() - start + self.metric_seconds[key]
            seconds = {**self.seconds[key], "metrics": own + self.shared_metric_seconds}
            if self.media.get(key) is not None:
                self.media[key].close()
            out[key] = FileResult(it.index, it.key, OK, notes="; ".join(shared_notes + notes), stem=it.stem,
                                  duration_s=it.duration_s, evaluated_s=self.num_samples / self.sample_rate,
                                  sample_rate_in=it.sample_rate_in, channels_in=it.channels_in, seconds=seconds,
                                  metrics={**values["metrics"], "enhanced": own_values},
                                  bands={"base": base_bands, "enhanced": self.enhanced_bands[key].value().tolist()},
                                  embeddings=embeddings, from_cache=self.from_cache, **lag)
        return out


def evaluate_items(items: list[EvalItem], pipeline: ReconstructionPipeline, metrics: dict[str, PerItemMetric],
                   seg: Segmenting, device: torch.device, enhancers: Mapping[str, nn.Module],
                   generator: Optional[torch.Generator] = None, media: Optional[MediaFactory] = None,
                   finished: Optional[Finished] = None, alignment: Alignment = Alignment(),
                   embedder: Optional[Embedder] = None, cache: Optional[RunCache] = None,
                   common_rate: Optional[int] = None) -> dict[str, list[FileResult]]:
    """Per named enhancer (setting), one FileResult per item (errors included, in item order). The files'
    segments go through the pipeline `seg.batch_segments` at a time, cut as they are needed, and every file is
    encoded once whatever the number of enhancers. `media(key, item, frames)` gives the FileMedia a file's outputs
    stream into (None: none); `finished(key, result)` is called as soon as a file's result exists (to persist it);
    with an `embedder`, each result carries its file's embeddings (reference and every variant) for set metrics.
    With a `cache`, a file whose enhancer-independent work is there skips the front end, encode, base decode and
    both shared vocoder passes (and, when its shared values fit this run's metrics, their metrics); a file that
    is not there is written to it as it streams.
    With `common_rate`, waveform metrics compare at that rate (`audiovae.evaluation.common_rate`).
    An AudioError while a file streams (a decoder that fails part-way) ends that file alone with status error."""
    keys = list(enhancers)
    rate = pipeline.frontend.sample_rate
    streams: dict[int, FileStream] = {}
    cache_keys: dict[int, str] = {}  # item index -> its cache key (files without a content hash have none)
    hits: dict[int, CacheEntry] = {}  # item index -> its cache entry
    writing: dict[int, list[str]] = {}  # item index -> sha256 of its segments written so far
    work = []  # (item, its segment starts, segment position) in pipeline order
    for it in items:
        if not it.error:
            starts = seg.starts(it.audio.num_samples)
            frames = it.audio.num_samples // seg.hop
            files = {key: media(key, it, frames) if media else None for key in keys}
            key = cache.key(it.key) if cache is not None else None
            entry = cache.lookup(key, len(starts)) if key else None
            if key:
                cache_keys[it.index] = key
                if entry is not None:
                    hits[it.index] = entry
                else:
                    writing[it.index] = []
            cached = entry.values(cache.metric_key) if entry is not None else None
            streams[it.index] = FileStream(it, starts, seg, metrics, keys, files, rate, alignment, embedder, cached,
                                           from_cache=entry is not None, variants=pipeline.model.variants,
                                           common_rate=common_rate)
            work += [(it, starts, i) for i in range(len(starts))]
    results: dict[int, dict[str, FileResult]] = {}

    def done(it: EvalItem, outcome: dict[str, FileResult]) -> None:
        results[it.index] = outcome
        for key, result in outcome.items():
            if finished is not None:
                finished(key, result)

    def fail(it: EvalItem, reason: str) -> None:
        if writing.pop(it.index, None) is not None:
            cache.store.discard(cache_keys[it.index])
        stream = streams.pop(it.index, None)
        if stream is not None:
            stream.abort()
        done(it, {key: FileResult(it.index, it.key, ERROR, error=reason, duration_s=it.duration_s, stem=it.stem,
                                  sample_rate_in=it.sample_rate_in, channels_in=it.channels_in) for key in keys})

    for it in items:
        if it.error:
            fail(it, it.error)

    def finish(it: EvalItem) -> None:
        if changed_since_start(it):  # its numbers could mix two contents: no row values, no cache entry
            fail(it, CHANGED)
            return
        stream = streams.pop(it.index)
        outcome = stream.results()
        if it.index in writing:
            cache.store.finish(cache_keys[it.index], writing.pop(it.index), {cache.metric_key: stream.shared_values})
        elif it.index in hits and stream.cached is None:  # its tensors were there, its values for these metrics not
            cache.store.add_values(hits[it.index], cache.metric_key, stream.shared_values)
        done(it, outcome)

    for first in range(0, len(work), seg.batch_segments):
        fresh, segments, valid, loaded, rows = [], [], [], [], []
        load_seconds = 0.0
        for it, starts, i in work[first : first + seg.batch_segments]:
            if it.index not in streams:  # failed earlier
                continue
            if it.index in hits:
                start = time.perf_counter()
                try:
                    rows.append(hits[it.index].segment(i))
                except Exception as err:  # a damaged entry: this file fails once, the entry goes
                    cache.store.discard(cache_keys[it.index])
                    fail(it, f"its cache entry could not be read ({type(err).__name__}) and was removed: evaluate "
                             "it again")
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
        groups = []
        if fresh:
            groups.append((fresh, pipeline(torch.stack(segments).to(device), enhancers, generator,
                                           zero_frames_after=valid if seg.pad == "log_mel_zeros" else None)))
        if loaded:
            shared = SharedOutputs.stack(rows, device, {"cache_load": load_seconds})
            groups.append((loaded, pipeline.enhance(shared, enhancers)))
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
                if it.index in writing:
                    writing[it.index].append(cache.store.put_segment(cache_keys[it.index], i, out.shared.row(row)))
                if i == len(starts) - 1:
                    finish(it)
        del groups, segments, rows
    return {key: [results[it.index][key] for it in items] for key in keys}
