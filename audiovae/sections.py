"""The compose() hook for the config sections whose keys come from code: `enhancement` (the enhancer's constructor
arguments, `audiovae.enhancers.registry.resolve_enhancement`) and `metrics.<section>` (a metric's,
`audiovae.metrics.registry.resolve_metric_settings`). Each is checked against its constructor and completed from it,
so the saved config says every value a run used."""

from omegaconf import DictConfig

from audiovae.enhancers.registry import resolve_enhancement
from audiovae.metrics.registry import check_protocol, resolve_metric_settings


def resolve_sections(cfg: DictConfig) -> None:
    """Check and complete the metrics' settings sections (a protocol's metrics kept), then the enhancement section
    (in place)."""
    check_protocol(cfg)
    resolve_metric_settings(cfg)
    resolve_enhancement(cfg)
