"""Reconstruction-quality metrics (definitions over pure functions) and paired statistics. `build_metric_collection`
(torchmetrics, synchronised across ranks) is imported on first use: evaluation never needs it."""
from audiovae.metrics.base import ABSOLUTE, MEL, PERCENT, WAVEFORM, PerItemMetric
from audiovae.metrics.registry import METRIC_NAMES, build_metric, metric_info
from audiovae.metrics.mel import MelL1, MelPSNR
from audiovae.metrics.stats import PairedComparison, compare_paired
from audiovae.metrics.waveform import LSD, SISDR, SNR, HFRetention, MelDistance, SpectralCorrelation

__all__ = ["ABSOLUTE", "MEL", "PERCENT", "WAVEFORM", "PerItemMetric", "METRIC_NAMES", "build_metric",
           "build_metric_collection", "metric_info", "MelL1", "MelPSNR", "PairedComparison", "compare_paired",
           "LSD", "SISDR", "SNR", "HFRetention", "MelDistance", "SpectralCorrelation"]


def __getattr__(name: str):
    if name == "build_metric_collection":
        from audiovae.metrics.synced import build_metric_collection

        return build_metric_collection
    raise AttributeError(f"module 'audiovae.metrics' has no attribute {name!r}")
