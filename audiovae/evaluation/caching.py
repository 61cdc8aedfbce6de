"""A run's view of the cross-run cache (`audiovae.cache`): which entry holds a file's enhancer-independent work
under this run's settings, and which of its shared values fit this run's metric definitions."""

from dataclasses import dataclass
from typing import Mapping, Optional

import torch
from omegaconf import DictConfig, OmegaConf

from audiovae import __version__
from audiovae.cache.keys import metric_key, tensor_key, weights_fingerprint
from audiovae.cache.store import CacheEntry, CacheStore
from audiovae.metrics.registry import file_metric_names, metric_info
from audiovae.metrics.sets import needs_embedding
from audiovae.models.families import family_of
from audiovae.plugins import source_digest

# what a file's cached shared values hold (FileMeasurement.shared_values): "reference-scored" = the reference-free
# metrics' values of the reference itself beside the shared variants' (entries without them are not reused)
SHARED_VALUES = "reference-scored"


@dataclass
class RunCache:
    """`store` under this run's `run_part` (everything but the file and the device type that decides a file's
    model outputs) and `metric_key` (what decides its shared values); `fingerprints`: file key -> content hash."""

    store: CacheStore
    run_part: dict
    metric_key: str
    fingerprints: Mapping[str, str]
    device_type: str = "cpu"

    def key(self, file_key: str) -> Optional[str]:
        """The cache key of a file's entry under this run's settings (None for a file without a content fingerprint)."""
        fingerprint = self.fingerprints.get(file_key)
        if not fingerprint:
            return None
        return tensor_key(fingerprint, {**self.run_part, "device_type": self.device_type})

    def lookup(self, key: str, segments: int) -> Optional[CacheEntry]:
        """The complete entry under `key` (from `key()`) if it holds `segments` segments."""
        entry = self.store.get(key)
        return entry if entry is not None and entry.segments == segments else None


def model_key(model_cfg: DictConfig, model) -> dict:
    """What decides a model's outputs: its weights, what the model says of its configuration (`config_summary`:
    its networks' configs and its family's settings, e.g. the mel family's vocoder), its precision and options,
    and a plugin family's code."""
    code = source_digest(family_of(model_cfg).build)  # a plugin family's code (None: audiovae's own)
    return {
        "weights": weights_fingerprint(*model.weights()),
        **model.config_summary(),
        "vae_precision": model_cfg.vae_precision,
        "family": model.family,
        "options": OmegaConf.to_container(model_cfg.options, resolve=True),
        **({"family_code": code} if code else {}),
    }


def build_run_cache(
    cfg: DictConfig,
    pipeline,
    metric_arguments: dict,
    fingerprints: Mapping[str, str],
    segment: int,
    overlap: int,
    alignment: tuple[int, int],
) -> Optional[RunCache]:
    """The cache for this evaluation, or None (`cache.enabled: false`, or a sampled posterior, whose latents
    depend on the batch a file lands in)."""
    if not cfg.cache.enabled or pipeline.model.sample_posterior:
        return None
    model = pipeline.model
    run_part = {
        "frontend": OmegaConf.to_container(cfg.frontend, resolve=True),
        "data": {k: cfg.data[k] for k in ("chunking", "channels", "resampler", "pad")},
        "segment": segment,
        "overlap": overlap,
        "model": model_key(cfg.model, model),
        "precision": str(cfg.trainer.precision),
        "torch": torch.__version__,
    }
    metrics_part = {
        "metrics": metric_arguments,  # name -> its constructor's arguments
        **_plugin_code(cfg.metrics.names),
        "alignment": list(alignment),  # (lag search radius, applied shift)
        **({"common_rate": cfg.metrics.common_rate} if cfg.metrics.get("common_rate") else {}),
        **(
            {"loudness_normalize": cfg.metrics.loudness_normalize}
            if cfg.metrics.get("loudness_normalize") is not None
            else {}
        ),
        "embedding": OmegaConf.to_container(cfg.embedding, resolve=True)
        if needs_embedding(cfg.metrics.names)
        else None,
        "audiovae": __version__,
        "shared_values": SHARED_VALUES,
    }
    return RunCache(CacheStore(cfg.cache.dir, cfg.cache.max_gb), run_part, metric_key(metrics_part), fingerprints)


def _plugin_code(names) -> dict:
    """`{"plugin_code": {metric: digest of its plugin's source}}` for the metrics a plugin defines (empty without)."""
    code = {name: source_digest(metric_info(name)) for name in file_metric_names(names)}
    code = {name: digest for name, digest in code.items() if digest}
    return {"plugin_code": code} if code else {}


class CacheBook:
    """One batch's bookkeeping with the cross-run cache (None: off): which files' entries were found (hits) and
    which are being written as they stream, and what a file's end or failure does to its entry."""

    def __init__(self, cache: Optional[RunCache]):
        self.cache = cache
        self.keys: dict[int, str] = {}  # item index -> its cache key (files without a content hash have none)
        self.hits: dict[int, CacheEntry] = {}  # item index -> its complete entry
        self.writing: dict[int, list[str]] = {}  # item index -> sha256 of its segments written so far

    def plan(self, index: int, file_key: str, segments: int) -> Optional[dict]:
        """Look the file up: its shared values under this run's metrics when its entry is there (None: measure
        them); a file not there will be written."""
        key = self.cache.key(file_key) if self.cache is not None else None
        if not key:
            return None
        self.keys[index] = key
        entry = self.cache.lookup(key, segments)
        if entry is None:
            self.writing[index] = []
            return None
        self.hits[index] = entry
        return entry.values(self.cache.metric_key)

    def is_hit(self, index: int) -> bool:
        """Whether item `index` is taken from the cache."""
        return index in self.hits

    def segment(self, index: int, i: int) -> dict:
        """Segment i's tensors from the file's entry (raises on a damaged one: `damaged`)."""
        return self.hits[index].segment(i)

    def put(self, index: int, i: int, row: dict) -> None:
        """Store segment i of item `index` while its entry is being written (nothing for a hit or without a cache)."""
        if index in self.writing:
            self.writing[index].append(self.cache.store.put_segment(self.keys[index], i, row))

    def finished(self, index: int, shared_values: dict, measured: bool) -> None:
        """The file ended: a new entry is completed with its shared values; a hit whose values for these metrics
        were missing (`measured` here) gets them."""
        if index in self.writing:
            self.cache.store.finish(self.keys[index], self.writing.pop(index), {self.cache.metric_key: shared_values})
        elif index in self.hits and measured:
            self.cache.store.add_values(self.hits[index], self.cache.metric_key, shared_values)

    def failed(self, index: int) -> None:
        """The file failed: its half-written entry goes."""
        if self.writing.pop(index, None) is not None:
            self.cache.store.discard(self.keys[index])

    def damaged(self, index: int) -> None:
        """Its entry could not be read: it goes (the file is evaluated afresh next time)."""
        self.cache.store.discard(self.keys[index])
