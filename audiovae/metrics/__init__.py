"""Reconstruction-quality metrics (torchmetrics classes over pure functions) and paired statistics."""
from audiovae.metrics.base import ABSOLUTE, MEL, PERCENT, WAVEFORM, PerItemMetric
from audiovae.metrics.registry import METRIC_NAMES, build_metric, build_metric_collection, metric_info
from audiovae.metrics.mel import MelL1, MelPSNR
from audiovae.metrics.stats import PairedComparison, compare_paired
from audiovae.metrics.waveform import LSD, SISDR, SNR, HFRetention, MelDistance, SpectralCorrelation

__all__ = ["ABSOLUTE", "MEL", "PERCENT", "WAVEFORM", "PerItemMetric", "METRIC_NAMES", "build_metric",
           "build_metric_collection", "metric_info", "MelL1", "MelPSNR", "PairedComparison", "compare_paired",
           "LSD", "SISDR", "SNR", "HFRetention", "MelDistance", "SpectralCorrelation"]
