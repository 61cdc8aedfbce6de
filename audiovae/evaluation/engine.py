"""Evaluate a batch of files: fixed-length segments through the pipeline, reassembled per file, measured."""
import math
import time
from dataclasses import dataclass
from typing import Mapping, Optional, Sequence

import torch
from torch import nn

from audiovae.data.eval_data import EvalItem
from audiovae.data.segments import crossfade_join, cut_segments, segment_starts
from audiovae.evaluation.results import ERROR, OK, VARIANTS, FileResult
from audiovae.metrics.base import MEL, PerItemMetric
from audiovae.pipeline import DEFAULT, PipelineOutputs, ReconstructionPipeline


@dataclass
class Segmenting:
    """How files become VAE inputs. Every segment has `segment` samples (a multiple of hop × VAE downsampling),
    so the VAE always sees the same shape and a file's result never depends on what it was batched with."""

    segment: int
    overlap: int
    chunking: bool
    batch_segments: int
    hop: int

    def starts(self, num_samples: int) -> list[int]:
        return segment_starts(num_samples, self.segment, self.overlap) if self.chunking else [0]


@dataclass
class FileSignals:
    """A file's reassembled signals at its own length, for metrics, audio and plots."""

    reference: torch.Tensor  # [N]
    vocoder: torch.Tensor
    base: torch.Tensor
    enhanced: torch.Tensor
    reference_mel: torch.Tensor  # [1, 1, N // hop, F]
    base_mel: torch.Tensor
    enhanced_mel: torch.Tensor


def _run_in_sub_batches(pipeline: ReconstructionPipeline, segments: torch.Tensor, size: int,
                        generator: Optional[torch.Generator], enhancers: Optional[Mapping[str, nn.Module]]
                        ) -> tuple[PipelineOutputs, dict[str, list[dict]]]:
    """Run `[K, S]` in sub-batches of `size`; returns outputs concatenated and, per enhancer key, per-segment
    stage seconds."""
    parts = [pipeline(chunk, generator, enhancers) for chunk in segments.split(size)]
    keys = list(parts[0].enhanced_mels)
    per_segment = {key: [{k: v / p.base_mel.shape[0] for k, v in p.seconds[key].items()}
                         for p in parts for _ in range(p.base_mel.shape[0])] for key in keys}
    cat = lambda name: torch.cat([getattr(p, name) for p in parts])  # noqa: E731
    joined = PipelineOutputs(cat("reference_mel"), cat("base_mel"), cat("vocoder_wave"), cat("base_wave"),
                             {k: torch.cat([p.enhanced_mels[k] for p in parts]) for k in keys},
                             {k: torch.cat([p.enhanced_waves[k] for p in parts]) for k in keys})
    return joined, per_segment


def _join_mel(pieces: torch.Tensor, starts: list[int], seg: Segmenting, frames: int) -> torch.Tensor:
    """`[k, 1, T, F]` mel segments -> `[1, 1, frames, F]` joined along time."""
    joined = crossfade_join(pieces[:, 0], [s // seg.hop for s in starts], seg.overlap // seg.hop, frames)
    return joined.unsqueeze(0).unsqueeze(0)


def measure(signals: FileSignals, metrics: dict[str, PerItemMetric],
            variants: Sequence[str] = VARIANTS) -> tuple[dict, list[str]]:
    """variant -> metric -> value for one file (of `variants`), and a note for every NaN value."""
    values, notes = {v: {} for v in variants}, []
    for name, metric in metrics.items():
        if metric.domain == MEL:
            pairs = {"base": signals.base_mel, "enhanced": signals.enhanced_mel}
            target = signals.reference_mel
        else:
            pairs = {"vocoder": signals.vocoder, "base": signals.base, "enhanced": signals.enhanced}
            target = signals.reference.unsqueeze(0)
        for variant, estimate in pairs.items():
            if variant not in variants:
                continue
            estimate = estimate if metric.domain == MEL else estimate.unsqueeze(0)
            value = float(metric.per_item(estimate.double(), target.double(), None)[0])
            values[variant][name] = value
            if math.isnan(value):
                notes.append(f"{variant}/{name}: {metric.nan_reason}")
    return values, notes


def evaluate_items(items: list[EvalItem], pipeline: ReconstructionPipeline, metrics: dict[str, PerItemMetric],
                   seg: Segmenting, device: torch.device, generator: Optional[torch.Generator] = None,
                   enhancers: Optional[Mapping[str, nn.Module]] = None
                   ) -> dict[str, list[tuple[FileResult, Optional[FileSignals]]]]:
    """Per enhancer key (default: the model's own, key DEFAULT), one FileResult per item (errors included, in item
    order) and, for good files, their signals. Every file is encoded once whatever the number of enhancers, and
    its vocoder-ceiling and base values are measured once and shared."""
    good = [it for it in items if not it.error]
    plans = [(it, seg.starts(it.waveform.shape[0])) for it in good]
    keys = [DEFAULT] if enhancers is None else list(enhancers)
    outcome: dict[str, dict[int, tuple[FileResult, Optional[FileSignals]]]] = {key: {} for key in keys}
    if plans:
        segments = torch.cat([cut_segments(it.waveform, starts, seg.segment) for it, starts in plans]).to(device)
        out, per_segment = _run_in_sub_batches(pipeline, segments, seg.batch_segments, generator, enhancers)
        first = 0
        for it, starts in plans:
            k, n = len(starts), it.waveform.shape[0]
            frames = n // seg.hop
            piece = slice(first, first + k)
            shared = dict(reference=it.waveform.to(device),
                          vocoder=crossfade_join(out.vocoder_wave[piece], starts, seg.overlap, n),
                          base=crossfade_join(out.base_wave[piece], starts, seg.overlap, n),
                          reference_mel=_join_mel(out.reference_mel[piece], starts, seg, frames),
                          base_mel=_join_mel(out.base_mel[piece], starts, seg, frames))
            shared_values = shared_notes = shared_seconds = None
            for key in keys:
                signals = FileSignals(**shared,
                                      enhanced=crossfade_join(out.enhanced_waves[key][piece], starts, seg.overlap, n),
                                      enhanced_mel=_join_mel(out.enhanced_mels[key][piece], starts, seg, frames))
                seconds = {stage: sum(s[stage] for s in per_segment[key][piece]) for stage in per_segment[key][first]}
                if shared_values is None:  # the first setting measures the shared variants for all
                    start = time.perf_counter()
                    shared_values, shared_notes = measure(signals, metrics, ("vocoder", "base"))
                    shared_seconds = time.perf_counter() - start
                start = time.perf_counter()
                values, notes = measure(signals, metrics, ("enhanced",))
                seconds["metrics"] = shared_seconds + time.perf_counter() - start
                result = FileResult(it.index, it.key, OK, notes="; ".join(shared_notes + notes),
                                    duration_s=it.duration_s, evaluated_s=n / pipeline.frontend.sample_rate,
                                    sample_rate_in=it.sample_rate_in, channels_in=it.channels_in, seconds=seconds,
                                    metrics={**shared_values, **values})
                outcome[key][it.index] = (result, signals)
            first += k
    for it in items:
        if it.error:
            for key in keys:
                outcome[key][it.index] = (FileResult(it.index, it.key, ERROR, error=it.error,
                                                     duration_s=it.duration_s, sample_rate_in=it.sample_rate_in,
                                                     channels_in=it.channels_in), None)
    return {key: [outcome[key][it.index] for it in items] for key in keys}
