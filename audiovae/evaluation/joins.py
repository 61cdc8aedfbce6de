"""How files become model inputs and the outputs become files again: fixed-length segments (`Segmenting`) and,
per file, the cross-fade of each output's consecutive segments back into one stream (`SegmentJoins`)."""

from dataclasses import dataclass
from typing import Sequence

import torch

from audiovae.data.segments import OverlapAdd, segment_starts
from audiovae.pipeline import PipelineOutputs


@dataclass
class Segmenting:
    """How files become model inputs. Every segment has `segment` samples (a multiple of hop × the model's frame
    multiple), so the model always sees the same shape and a file's result never depends on what it was batched
    with; a segment past the file's end is filled by the `pad` rule (`audiovae.data.padding`)."""

    segment: int
    overlap: int
    chunking: bool
    batch_segments: int
    hop: int
    pad: str = "silence"

    def starts(self, num_samples: int) -> list[int]:
        """The first sample of each segment of a file of `num_samples` samples (one segment without chunking)."""
        return segment_starts(num_samples, self.segment, self.overlap) if self.chunking else [0]


@dataclass
class JoinedChunk:
    """The next finished part of one file: the shared variants' waveforms (`waves`: the vocoder ceiling of a mel
    model, base), the reference and base log-mel frames (`mels`) and per enhancer setting its (waveform, log-mel)."""

    waves: dict[str, torch.Tensor]
    mels: dict[str, torch.Tensor]
    enhanced: dict[str, tuple[torch.Tensor, torch.Tensor]]


class SegmentJoins:
    """Overlap-add of one file's segments for every output: `push(out, row)` gives the part no later segment
    touches, so memory does not grow with the file's length."""

    def __init__(
        self,
        starts: list[int],
        seg: Segmenting,
        num_samples: int,
        shared_variants: Sequence[str],
        settings: Sequence[str],
    ):
        frames = num_samples // seg.hop
        wave = lambda: OverlapAdd(starts, seg.overlap, num_samples)  # noqa: E731
        mel = lambda: OverlapAdd([s // seg.hop for s in starts], seg.overlap // seg.hop, frames)  # noqa: E731
        self.waves = {variant: wave() for variant in shared_variants}
        self.mels = {"reference": mel(), "base": mel()}
        self.enhanced = {name: (wave(), mel()) for name in settings}

    def push(self, out: PipelineOutputs, row: int) -> JoinedChunk:
        """Join row `row` of a batch's outputs onto the file's previous segments: the waveforms and log-mels of every
        variant that are final."""
        return JoinedChunk(
            {name: join.push(getattr(out, f"{name}_wave")[row]) for name, join in self.waves.items()},
            {name: join.push(getattr(out, f"{name}_mel")[row, 0]) for name, join in self.mels.items()},
            {
                name: (wave.push(out.enhanced_waves[name][row]), mel.push(out.enhanced_mels[name][row, 0]))
                for name, (wave, mel) in self.enhanced.items()
            },
        )
