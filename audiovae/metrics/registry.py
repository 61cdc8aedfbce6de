"""The metric table: config name -> class and arguments. Attributes a report needs (direction, unit, Δ kind,
domain) are read from the class, so nothing is built to read them (audiocraft's builders do the same).

>>> metric_info("lsd_hf").higher_is_better, metric_info("snr").unit
(False, 'dB')
>>> build_metric("lsd_hf", sample_rate=16000).cutoff_hz
4000.0
"""
from dataclasses import dataclass, field
from typing import Optional, Sequence

from audiovae.errors import ConfigError
from audiovae.metrics.audioldm_eval import LSDAudioLDMEval, PSNRAudioLDMEval, SSIMAudioLDMEval
from audiovae.metrics.base import PerItemMetric
from audiovae.metrics.mel import MelL1, MelPSNR
from audiovae.metrics.perceptual import PESQ, STOI
from audiovae.metrics.waveform import LSD, SISDR, SNR, HFRetention, MelDistance, SpectralCorrelation


@dataclass(frozen=True)
class MetricSpec:
    """A metric's class, which of its constructor arguments come from the shared settings (argument -> settings
    key, see `build_metric`), and the arguments fixed by its name (e.g. `band="high"` for lsd_hf)."""

    cls: type[PerItemMetric]
    from_settings: dict = field(default_factory=dict)
    fixed: dict = field(default_factory=dict)


_LSD = {"sample_rate": "sample_rate", "n_fft": "lsd_n_fft", "hop": "lsd_hop", "cutoff_hz": "hf_cutoff_hz"}
_SPECTRUM = {"n_fft": "spectrum_n_fft", "hop": "spectrum_hop"}

METRICS: dict[str, MetricSpec] = {
    "snr": MetricSpec(SNR),
    "si_sdr": MetricSpec(SISDR),
    "hf_retention": MetricSpec(HFRetention, {"sample_rate": "sample_rate", "cutoff_hz": "hf_cutoff_hz", **_SPECTRUM}),
    "spectral_correlation": MetricSpec(SpectralCorrelation, _SPECTRUM),
    "lsd": MetricSpec(LSD, _LSD, {"band": "all"}),
    "lsd_hf": MetricSpec(LSD, _LSD, {"band": "high"}),
    "lsd_lf": MetricSpec(LSD, _LSD, {"band": "low"}),
    "mel_distance": MetricSpec(MelDistance, {"sample_rate": "sample_rate"}),
    "mel_l1": MetricSpec(MelL1),
    "mel_psnr": MetricSpec(MelPSNR),
    "pesq_wb": MetricSpec(PESQ, {"sample_rate": "sample_rate"}),
    "stoi": MetricSpec(STOI, {"sample_rate": "sample_rate"}),
    "lsd_audioldm_eval": MetricSpec(LSDAudioLDMEval, {"sample_rate": "sample_rate", "offset": "audioldm_eval_offset"}),
    "psnr_audioldm_eval": MetricSpec(PSNRAudioLDMEval, {"sample_rate": "sample_rate"}),
    "ssim_audioldm_eval": MetricSpec(SSIMAudioLDMEval, {"sample_rate": "sample_rate"}),
}
METRIC_NAMES = tuple(METRICS)  # per-file metrics
SET_METRICS = ("fad",)  # measured between the sets of files (audiovae.metrics.fad): summary, report, W&B only


def _spec(name: str) -> MetricSpec:
    if name not in METRICS:
        raise ConfigError(f"config key 'metrics.names': unknown metric '{name}'; choose from "
                          f"{list(METRIC_NAMES + SET_METRICS)}")
    return METRICS[name]


def check_metric_names(names: Sequence[str]) -> None:
    """ConfigError for an empty list or naming the first unknown metric (run at start-up, before any file is
    evaluated)."""
    if not names:
        raise ConfigError(f"config key 'metrics.names': name at least one metric, e.g. metrics.names=[lsd_hf] (one "
                          f"of {sorted([*METRICS, *SET_METRICS])})")
    for name in names:
        if name not in SET_METRICS:
            _spec(name)


def file_metric_names(names: Sequence[str]) -> list[str]:
    """The per-file metrics of `metrics.names` (without the set metrics)."""
    return [name for name in names if name not in SET_METRICS]


def build_metric(name: str, sample_rate: int, hf_cutoff_hz: Optional[float] = None, lsd_n_fft: int = 2048,
                 lsd_hop: int = 512, spectrum_n_fft: int = 2048, spectrum_hop: int = 512,
                 audioldm_eval_offset: int = 1120) -> PerItemMetric:
    """One metric by its config name; `hf_cutoff_hz` (default sr/4) is shared by hf_retention and lsd_hf/lf;
    `spectrum_*` set the STFT of hf_retention and spectral_correlation, `lsd_*` that of the lsd family,
    `audioldm_eval_offset` the samples lsd_audioldm_eval drops from the estimate's start."""
    settings = dict(sample_rate=sample_rate, hf_cutoff_hz=hf_cutoff_hz, lsd_n_fft=lsd_n_fft, lsd_hop=lsd_hop,
                    spectrum_n_fft=spectrum_n_fft, spectrum_hop=spectrum_hop,
                    audioldm_eval_offset=audioldm_eval_offset)
    spec = _spec(name)
    return spec.cls(**{arg: settings[key] for arg, key in spec.from_settings.items()}, **spec.fixed)


def metric_info(name: str) -> type[PerItemMetric]:
    """The class of a configured metric, for its attributes (higher_is_better, delta_kind, unit, domain)."""
    return _spec(name).cls
