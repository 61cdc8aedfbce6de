"""What a run measures every file with: one object, built once by the job and handed to the evaluator, the batch
loop, each file's stream and its measurement (nothing relays its parts)."""

from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional, Protocol

import torch
from omegaconf import DictConfig

from audiovae.evaluation.caching import RunCache
from audiovae.evaluation.joins import Segmenting
from audiovae.metrics.base import PerItemMetric
from audiovae.metrics.functional.frames import hf_cutoff
from audiovae.models.variants import ENHANCED
from audiovae.pipeline import ReconstructionPipeline

if TYPE_CHECKING:
    from audiovae.evaluation.metric_pool import MetricPool


@dataclass(frozen=True)
class Alignment:
    """`max_lag`: the vocoder ceiling's lag against the reference is searched within ±max_lag samples per file
    (0: not searched); `shift`: reconstructions are compared sample t + shift with reference sample t in the
    waveform metrics (`metrics.align_samples`; mel-domain metrics and media are not shifted)."""

    max_lag: int = 0
    shift: int = 0


class Embedder(Protocol):
    """The embedding model of set metrics (`audiovae.models.embedding.ClapEmbedder`)."""

    def embed(self, wave: torch.Tensor, sample_rate: int):
        """The embedding of one waveform `[S]` at `sample_rate`."""


@dataclass(frozen=True)
class MeasuringContext:
    """The run's constants of measurement: the reconstruction `pipeline`, the per-file `metrics`, how files are cut
    (`segmenting`), the waveform metrics' `alignment`, the set metrics' `embedder` (None: no set metric), the
    cross-run `cache` (None: off), the waveform metrics' `common_rate` (None: the model's rate), the high band's
    edge `cutoff_hz` (Hz, drawn in the file plots), the `pool` of worker processes that compute the metrics of
    whole signals while the model runs on the next files (None: computed in this process, `metrics.workers`) and
    the integrated loudness (LUFS) every waveform is scaled to before the waveform metrics (`loudness_target`,
    `metrics.loudness_normalize`; None: as decoded)."""

    pipeline: ReconstructionPipeline
    metrics: dict[str, PerItemMetric]
    segmenting: Segmenting
    alignment: Alignment = Alignment()
    embedder: Optional[Embedder] = None
    cache: Optional[RunCache] = None
    common_rate: Optional[int] = None
    cutoff_hz: float = 0.0
    pool: Optional["MetricPool"] = None
    loudness_target: Optional[float] = None

    @classmethod
    def of(
        cls, cfg: DictConfig, pipeline, metrics, segmenting, alignment, embedder, cache, pool=None
    ) -> "MeasuringContext":
        """An evaluation config's context: the parts the job built, and the keys it reads from `metrics.*`."""
        cutoff = hf_cutoff(cfg.frontend.sample_rate, cfg.metrics.hf_cutoff_hz)
        target = cfg.metrics.get("loudness_normalize")
        rate = cfg.metrics.common_rate
        return cls(pipeline, metrics, segmenting, alignment, embedder, cache, rate, cutoff, pool, target)

    @property
    def sample_rate(self) -> int:
        """The model's (and front end's) rate."""
        return self.pipeline.frontend.sample_rate

    @property
    def shared_variants(self) -> list[str]:
        """The variants measured once per file for every enhancer setting: the model's, less `enhanced`."""
        return [v for v in self.pipeline.model.variants if v != ENHANCED]
