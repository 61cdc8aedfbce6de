"""Metrics by config name, and MetricCollections of the configured set."""
from typing import Optional, Sequence

from torchmetrics import MetricCollection

from audiovae.metrics.base import PerItemMetric
from audiovae.metrics.mel import MelL1, MelPSNR
from audiovae.metrics.waveform import LSD, SISDR, SNR, HFRetention, MelDistance, SpectralCorrelation

METRIC_NAMES = ("snr", "si_sdr", "hf_retention", "spectral_correlation", "lsd", "lsd_hf", "lsd_lf",
                "mel_distance", "mel_l1", "mel_psnr")


def build_metric(name: str, sample_rate: int, hf_cutoff_hz: Optional[float] = None, lsd_n_fft: int = 2048,
                 lsd_hop: int = 512, spectrum_n_fft: int = 2048, spectrum_hop: int = 512) -> PerItemMetric:
    """One metric by its config name; `hf_cutoff_hz` (default sr/4) is shared by hf_retention and lsd_hf/lf;
    `spectrum_*` set the STFT of hf_retention and spectral_correlation."""
    lsd = dict(sample_rate=sample_rate, n_fft=lsd_n_fft, hop=lsd_hop, cutoff_hz=hf_cutoff_hz)
    spectrum = dict(n_fft=spectrum_n_fft, hop=spectrum_hop)
    makers = {
        "snr": lambda: SNR(),
        "si_sdr": lambda: SISDR(),
        "hf_retention": lambda: HFRetention(sample_rate=sample_rate, cutoff_hz=hf_cutoff_hz, **spectrum),
        "spectral_correlation": lambda: SpectralCorrelation(**spectrum),
        "lsd": lambda: LSD(band="all", **lsd),
        "lsd_hf": lambda: LSD(band="high", **lsd),
        "lsd_lf": lambda: LSD(band="low", **lsd),
        "mel_distance": lambda: MelDistance(sample_rate=sample_rate),
        "mel_l1": lambda: MelL1(),
        "mel_psnr": lambda: MelPSNR(),
    }
    if name not in makers:
        raise ValueError(f"config key 'metrics.names': unknown metric '{name}'; choose from {list(METRIC_NAMES)}")
    return makers[name]()


def build_metric_collection(names: Sequence[str], domain: str, prefix: str = "", **kwargs) -> MetricCollection:
    """The configured metrics of one `domain` ("waveform" or "mel") as a collection, keys `<prefix><name>`."""
    metrics = [build_metric(n, **kwargs) for n in names]
    return MetricCollection({m.name: m for m in metrics if m.domain == domain}, prefix=prefix,
                            compute_groups=False)


def metric_info(name: str) -> type[PerItemMetric]:
    """The class of a configured metric, for its attributes (higher_is_better, delta_kind, unit, …)."""
    return type(build_metric(name, sample_rate=16000))
