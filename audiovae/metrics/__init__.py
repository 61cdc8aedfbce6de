"""Reconstruction-quality metrics (definitions over pure functions), set metrics and paired statistics. Names are
imported on first use, so light submodules (`sets`) do not pull in torch; `build_metric_collection` (torchmetrics,
synchronised across ranks) is never needed by evaluation."""

from importlib import import_module

_WHERE = {
    "ABSOLUTE": "base",
    "MEL": "base",
    "PERCENT": "base",
    "WAVEFORM": "base",
    "PerItemMetric": "base",
    "METRIC_NAMES": "registry",
    "build_metric": "registry",
    "metric_info": "registry",
    "build_metric_collection": "synced",
    "MelL1": "mel",
    "MelPSNR": "mel",
    "PairedComparison": "stats",
    "compare_paired": "stats",
    "LSD": "waveform",
    "SISDR": "waveform",
    "SNR": "waveform",
    "HFRetention": "waveform",
    "MelDistance": "waveform",
    "SpectralCorrelation": "waveform",
    "SetMetric": "sets",
    "SET_METRICS": "sets",
}
__all__ = list(_WHERE)


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(import_module(f"audiovae.metrics.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'audiovae.metrics' has no attribute {name!r}")
