"""Evaluate a batch of files: fixed-length segments through the pipeline, reassembled per file, measured."""
import math
from dataclasses import dataclass
from typing import Optional

import torch

from audiovae.data.eval_data import EvalItem
from audiovae.data.segments import crossfade_join, cut_segments, segment_starts
from audiovae.evaluation.results import ERROR, OK, FileResult
from audiovae.metrics.base import MEL, PerItemMetric
from audiovae.pipeline import PipelineOutputs, ReconstructionPipeline


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
                        generator: Optional[torch.Generator]) -> tuple[PipelineOutputs, list[dict]]:
    """Run `[K, S]` in sub-batches of `size`; returns outputs concatenated and per-segment stage seconds."""
    parts, per_segment = [], []
    for chunk in segments.split(size):
        out = pipeline(chunk, generator)
        parts.append(out)
        per_segment += [{k: v / chunk.shape[0] for k, v in out.seconds.items()}] * chunk.shape[0]
    fields = ("reference_mel", "base_mel", "enhanced_mel", "vocoder_wave", "base_wave", "enhanced_wave")
    joined = PipelineOutputs(*[torch.cat([getattr(p, f) for p in parts]) for f in fields])
    return joined, per_segment


def _join_mel(pieces: torch.Tensor, starts: list[int], seg: Segmenting, frames: int) -> torch.Tensor:
    """`[k, 1, T, F]` mel segments -> `[1, 1, frames, F]` joined along time."""
    joined = crossfade_join(pieces[:, 0], [s // seg.hop for s in starts], seg.overlap // seg.hop, frames)
    return joined.unsqueeze(0).unsqueeze(0)


def measure(signals: FileSignals, metrics: dict[str, PerItemMetric]) -> tuple[dict, list[str]]:
    """variant -> metric -> value for one file, and a note for every NaN value."""
    values, notes = {"vocoder": {}, "base": {}, "enhanced": {}}, []
    for name, metric in metrics.items():
        if metric.domain == MEL:
            pairs = {"base": signals.base_mel, "enhanced": signals.enhanced_mel}
            target = signals.reference_mel
        else:
            pairs = {"vocoder": signals.vocoder, "base": signals.base, "enhanced": signals.enhanced}
            target = signals.reference.unsqueeze(0)
        for variant, estimate in pairs.items():
            estimate = estimate if metric.domain == MEL else estimate.unsqueeze(0)
            value = float(metric.per_item(estimate.double(), target.double(), None)[0])
            values[variant][name] = value
            if math.isnan(value):
                notes.append(f"{variant}/{name}: {metric.nan_reason}")
    return values, notes


def evaluate_items(items: list[EvalItem], pipeline: ReconstructionPipeline, metrics: dict[str, PerItemMetric],
                   seg: Segmenting, device: torch.device,
                   generator: Optional[torch.Generator] = None) -> list[tuple[FileResult, Optional[FileSignals]]]:
    """One FileResult per item (errors included, in item order) and, for good files, their signals."""
    good = [it for it in items if not it.error]
    plans = [(it, seg.starts(it.waveform.shape[0])) for it in good]
    outcome: dict[int, tuple[FileResult, Optional[FileSignals]]] = {}
    if plans:
        segments = torch.cat([cut_segments(it.waveform, starts, seg.segment) for it, starts in plans]).to(device)
        out, per_segment = _run_in_sub_batches(pipeline, segments, seg.batch_segments, generator)
        first = 0
        for it, starts in plans:
            k, n = len(starts), it.waveform.shape[0]
            frames = n // seg.hop
            piece = slice(first, first + k)
            signals = FileSignals(
                reference=it.waveform.to(device),
                vocoder=crossfade_join(out.vocoder_wave[piece], starts, seg.overlap, n),
                base=crossfade_join(out.base_wave[piece], starts, seg.overlap, n),
                enhanced=crossfade_join(out.enhanced_wave[piece], starts, seg.overlap, n),
                reference_mel=_join_mel(out.reference_mel[piece], starts, seg, frames),
                base_mel=_join_mel(out.base_mel[piece], starts, seg, frames),
                enhanced_mel=_join_mel(out.enhanced_mel[piece], starts, seg, frames),
            )
            seconds = {stage: sum(s[stage] for s in per_segment[piece]) for stage in per_segment[first]}
            values, notes = measure(signals, metrics)
            result = FileResult(it.index, it.key, OK, notes="; ".join(notes), duration_s=it.duration_s,
                                evaluated_s=n / pipeline.frontend.sample_rate, sample_rate_in=it.sample_rate_in,
                                channels_in=it.channels_in, seconds=seconds, metrics=values)
            outcome[it.index] = (result, signals)
            first += k
    for it in items:
        if it.error:
            outcome[it.index] = (FileResult(it.index, it.key, ERROR, error=it.error, duration_s=it.duration_s,
                                            sample_rate_in=it.sample_rate_in, channels_in=it.channels_in), None)
    return [outcome[it.index] for it in items]
