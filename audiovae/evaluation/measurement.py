"""One file's measurement as its joined chunks stream in: per-file metrics of every variant (the shared ones once
for all enhancer settings; the reference itself by the reference-free metrics), per-band retention, the vocoder
ceiling's lag, the waveforms kept whole for set metrics' embeddings; the values with the notes that explain a
NaN."""

import math
import time
from concurrent.futures import Executor, Future
from typing import Optional, Sequence

import torch

from audiovae.data.eval_data import EvalItem
from audiovae.evaluation.common_rate import CommonRate
from audiovae.evaluation.context import Embedder, MeasuringContext
from audiovae.evaluation.joins import JoinedChunk
from audiovae.evaluation.loudness_match import LoudnessMatch
from audiovae.metrics.base import MEL, PerItemMetric
from audiovae.metrics.functional.frames import SharedTransforms
from audiovae.metrics.functional.lag import LagSearch, Shift
from audiovae.metrics.functional.mel_domain import BandEnergySums
from audiovae.metrics.guarded import metric_errors, metric_value
from audiovae.metrics.perceptual import WholeSignal
from audiovae.metrics.speech_activity import speech_fraction, speech_note
from audiovae.models.variants import BASE, CEILING, REFERENCE
from audiovae.reporting.records import encode_embedding


class WholeWaves:
    """A file's waveforms per variant (of several channels: their mix), kept whole for the embedding model (set
    metrics see whole files) and for the speech check of the reference."""

    def __init__(self):
        self.parts: dict[str, list[torch.Tensor]] = {}

    def add(self, variant: str, chunk: torch.Tensor) -> None:
        """Keep the next chunk of `variant`'s waveform (channels averaged), for metrics defined on whole signals."""
        chunk = chunk.mean(dim=-1) if chunk.dim() == 2 else chunk
        self.parts.setdefault(variant, []).append(chunk.detach().float().cpu())

    def whole(self, variant: str) -> torch.Tensor:
        """`variant`'s waveform so far, `[S]`."""
        return torch.cat(self.parts[variant])

    def embeddings(self, embedder: Embedder, sample_rate: int, variants: Sequence[str]) -> dict[str, str]:
        """Each variant's whole waveform embedded by `embedder`, encoded for the file's row."""
        return {v: encode_embedding(embedder.embed(self.whole(v), sample_rate)) for v in variants}


class ChannelMean:
    """A waveform metric of a file of several channels (`[n, C]` chunks): one accumulator per channel; the value
    is the mean over the channels of theirs (a NaN channel, e.g. a silent one, left out; NaN when all are)."""

    def __init__(self, make, channels: int):
        self.parts = [make() for _ in range(channels)]

    def update(self, y: torch.Tensor, x: torch.Tensor) -> "ChannelMean":
        """Add the next chunk `[T, C]` of y and x, channel c to its own accumulator."""
        for c, acc in enumerate(self.parts):
            acc.update(y[:, c], x[:, c])
        return self

    def value(self) -> torch.Tensor:
        """The mean over channels of their values (NaN channels left out; NaN when all are)."""
        values = torch.stack([torch.as_tensor(acc.value(), dtype=torch.float64).reshape(()) for acc in self.parts])
        finite = values[~torch.isnan(values)]
        return finite.mean() if finite.numel() else torch.tensor(float("nan"), dtype=torch.float64)


class FileMeasurement:
    """The metrics of one file for the shared variants (`shared_variants`; not measured again when `cached`
    holds their values) and for each enhancer setting, fed chunk by chunk (`update`), ended by `shared_values` and
    `own_values`. Metric seconds are kept per setting and for the shared part."""

    def __init__(
        self, item: EvalItem, context: MeasuringContext, settings: Sequence[str], cached: Optional[dict] = None
    ):
        metrics, alignment, channels = context.metrics, context.alignment, item.audio.n_channels
        self.item, self.metrics, self.settings, self.sample_rate = item, metrics, list(settings), context.sample_rate
        self.shared_variants, self.cached = context.shared_variants, cached

        def accumulator(m: PerItemMetric):  # several channels: a waveform metric per channel, averaged
            return ChannelMean(m.accumulator, channels) if channels > 1 and m.domain != MEL else m.accumulator()

        self.shared = (
            {}
            if cached is not None
            else {
                variant: {name: accumulator(m) for name, m in metrics.items() if m.domain != MEL or variant == BASE}
                for variant in self.shared_variants
            }
        )
        reference_free = {name: m for name, m in metrics.items() if m.reference_free and m.domain != MEL}
        if cached is None and reference_free:  # what the original itself gives them
            self.shared[REFERENCE] = {name: accumulator(m) for name, m in reference_free.items()}
        self.own = {setting: {name: accumulator(m) for name, m in metrics.items()} for setting in self.settings}
        transforms = SharedTransforms()  # each signal's STFT once per framing, whichever metrics read it
        for estimate, accumulators in [
            *((("shared", v), accs) for v, accs in self.shared.items()),
            *((("own", k), accs) for k, accs in self.own.items()),
        ]:
            for acc in accumulators.values():
                for channel, part in enumerate(acc.parts if isinstance(acc, ChannelMean) else [acc]):
                    transforms.share(part, (estimate, channel), ("reference", channel))
        self.base_bands = BandEnergySums()  # per-band retention of the base decode, and of each enhanced one
        self.enhanced_bands = {setting: BandEnergySums() for setting in self.settings}
        self.lag = (
            LagSearch(alignment.max_lag)
            if alignment.max_lag and cached is None and CEILING in self.shared_variants
            else None
        )  # the vocoder ceiling's lag
        self.shift = Shift(alignment.shift)
        # waveform metrics at metrics.common_rate: the reference read at that rate, reconstructions resampled to it
        rate = context.common_rate
        self.common = CommonRate(item.audio, self.sample_rate, rate) if rate else None
        target = context.loudness_target  # waveform metrics on signals scaled to one loudness, once the file ends
        self.loudness = LoudnessMatch(target, rate or self.sample_rate) if target is not None else None
        self.flushed = False
        self.embedder = context.embedder
        whole_parts = self.settings if cached is not None else ["shared", *self.settings]
        self.whole = {setting: WholeWaves() for setting in whole_parts} if self.embedder is not None else None
        self.speech_models = [name for name, m in metrics.items() if m.speech_only]  # their domain checked
        self.speech_reference = WholeWaves() if self.speech_models and cached is None else None
        self.seconds = {setting: 0.0 for setting in self.settings}  # each setting's own metric passes
        self.shared_seconds = 0.0

    def update(self, reference: torch.Tensor, chunk: JoinedChunk) -> None:
        """The next chunk of the file: `reference` (model rate) and the joined outputs of the same span."""
        start = time.perf_counter()
        waves, mels = chunk.waves, chunk.mels
        if self.speech_reference is not None:
            self.speech_reference.add("reference", reference)
        if self.lag is not None:
            self.lag.update(waves[CEILING], reference)
        if self.whole is not None:
            if "shared" in self.whole:
                for variant, wave in (("reference", reference), *waves.items()):
                    self.whole["shared"].add(variant, wave)
            for setting, (wave, _) in chunk.enhanced.items():
                self.whole[setting].add("enhanced", wave)
        measured_ref, measured = self.shift(
            reference,
            {
                **{("shared", v): w for v, w in waves.items() if self.shared},
                **{("own", k): e[0] for k, e in chunk.enhanced.items()},
            },
        )
        if self.common is not None:
            measured_ref, measured = self.common.push(measured)
        now = self.loudness is None  # the waveform metrics now, or once the file's loudness is known
        if not now:
            self.loudness.hold(measured_ref, measured)
        for variant, accumulators in self.shared.items():
            self._update(
                accumulators,
                self._estimate(variant, measured, measured_ref),
                measured_ref,
                mels[variant] if variant == BASE else None,
                mels["reference"],
                now,
            )
        if self.cached is None:
            self.base_bands.update(mels[BASE], mels["reference"])
        self.shared_seconds += time.perf_counter() - start
        for setting in self.settings:
            start = time.perf_counter()
            mel = chunk.enhanced[setting][1]
            self._update(self.own[setting], measured[("own", setting)], measured_ref, mel, mels["reference"], now)
            self.enhanced_bands[setting].update(mel, mels["reference"])
            self.seconds[setting] += time.perf_counter() - start

    def _update(self, accumulators: dict, wave, reference, mel, reference_mel, waveform: bool = True) -> None:
        """Feed `accumulators` the next span: the mel-domain metrics `mel` (when given), the waveform metrics `wave`
        (when `waveform`)."""
        for name, acc in accumulators.items():
            with metric_errors(self.item.key, name, self.metrics[name]):
                if self.metrics[name].domain == MEL:
                    if mel is not None:  # (a common-rate flush carries waveforms only)
                        acc.update(mel, reference_mel)
                elif waveform and reference.shape[0]:  # a shifted stream's first chunk may hold nothing yet
                    acc.update(wave, reference)

    @staticmethod
    def _estimate(variant: str, measured: dict, reference: torch.Tensor) -> torch.Tensor:
        """What shared `variant`'s metrics read as the estimate: its reconstruction, or the reference itself."""
        return reference if variant == REFERENCE else measured[("shared", variant)]

    def _waveforms(self, reference, measured: dict) -> None:
        """The waveform metrics' next span (no mels): fed now, or held for the file's loudness match."""
        if self.loudness is not None and not self.loudness.released:
            self.loudness.hold(reference, measured)
            return
        for variant, accumulators in self.shared.items():
            self._update(accumulators, self._estimate(variant, measured, reference), reference, None, None)
        for setting in self.settings:
            self._update(self.own[setting], measured[("own", setting)], reference, None, None)

    def _flush_loudness(self) -> None:
        """The held spans into the waveform metrics, each signal scaled to the target loudness (the end of the file;
        once)."""
        if self.loudness is None or self.loudness.released:
            return
        for reference, measured in self.loudness.release():
            self._waveforms(reference, measured)

    def submit(self, pool: Executor) -> list[Future]:
        """End the file's streams and hand the metrics computed on whole signals (`WholeSignal`: pesq_wb, stoi,
        visqol, ...) to the worker processes of `pool`; the values are read, as without a pool, by `shared_values`
        and `own_values`, which wait for them."""
        self._end_streams()
        futures = []
        for accumulators in [*self.shared.values(), *self.own.values()]:
            for acc in accumulators.values():
                for part in acc.parts if isinstance(acc, ChannelMean) else [acc]:
                    if isinstance(part, WholeSignal):
                        futures.append(part.submit(pool))
        return futures

    def _end_streams(self) -> None:
        """The end of the file: the common-rate resamplers' last samples, then the spans held for the loudness match,
        into the waveform metrics (each once, whichever of submit / shared_values / own_values comes first)."""
        self._flush_common()
        self._flush_loudness()

    def _flush_common(self) -> None:
        """The common-rate resamplers' last samples into the waveform metrics (the end of the file; once)."""
        if self.common is None or not self.common.streams or self.flushed:
            return
        self.flushed = True
        reference, measured = self.common.flush(list(self.common.streams))
        self._waveforms(reference, measured)

    def _values(self, variant: str, accumulators: dict) -> tuple[dict, list[str]]:
        values = {
            name: metric_value(self.item.key, name, self.metrics[name], acc) for name, acc in accumulators.items()
        }
        notes = []
        for name in values:
            metric, rate = self.metrics[name], self.item.sample_rate_in
            if metric.high_band and rate and rate / 2 <= metric.cutoff_hz:  # the input never held that band
                values[name] = float("nan")
                notes.append(
                    f"{variant}/{name}: the input's rate ({rate} Hz) holds nothing above "
                    f"{metric.cutoff_hz:g} Hz (metrics.hf_cutoff_hz): excluded"
                )
            elif math.isnan(values[name]):
                notes.append(f"{variant}/{name}: {metric.nan_reason}")
        return values, notes

    def shared_values(self) -> dict:
        """The shared variants' values, notes, band retention, lag and embeddings: measured here, or as the cache
        holds them (JSON-able, so the cache can keep them). Call once, at the end of the file."""
        self._end_streams()
        if self.cached is not None:
            return self.cached
        start = time.perf_counter()
        shared = {variant: self._values(variant, accs) for variant, accs in self.shared.items()}
        values = {
            "metrics": {variant: v for variant, (v, _) in shared.items()},
            "notes": [note for _, notes in shared.values() for note in notes],
            "bands": self.base_bands.value().tolist(),
        }
        if self.speech_reference is not None:  # a speech model measured: is the reference speech?
            fraction = speech_fraction(self.speech_reference.whole("reference"), self.sample_rate)
            values["notes"] += [note for note in [speech_note(fraction, self.speech_models)] if note]
        if self.lag is not None:
            values["vocoder_lag"], values["vocoder_lag_corr"] = self.lag.value()
        if self.whole is not None:
            values["embeddings"] = self.whole["shared"].embeddings(
                self.embedder, self.sample_rate, ("reference", *self.shared_variants)
            )
        self.shared_seconds += time.perf_counter() - start
        return values

    def own_values(self, setting: str) -> tuple[dict, list[str], list[float], dict, float]:
        """(the enhanced values, their notes, the band retention, the enhanced embedding, the setting's metric seconds
        including the shared part) of enhancer `setting`."""
        self._end_streams()
        start = time.perf_counter()
        values, notes = self._values("enhanced", self.own[setting])
        embeddings = {}
        if self.whole is not None:
            embeddings = self.whole[setting].embeddings(self.embedder, self.sample_rate, ("enhanced",))
        seconds = time.perf_counter() - start + self.seconds[setting] + self.shared_seconds
        return values, notes, self.enhanced_bands[setting].value().tolist(), embeddings, seconds
