"""The metric table: config name -> class and arguments. Attributes a report needs (direction, unit, Δ kind,
domain) are read from the class, so nothing is built to read them (audiocraft's builders do the same). A metric's
settings (`metrics.<key>`: cutoff, STFT sizes, offsets) are its constructor's arguments: their defaults are read
from the signatures (`SETTINGS`), and evaluation, training validation and compare take them from there.

>>> metric_info("lsd_hf").higher_is_better, metric_info("snr").unit
(False, 'dB')
>>> build_metric("lsd_hf", sample_rate=16000).cutoff_hz
4000.0
"""

import inspect
from dataclasses import dataclass, field
from typing import Optional, Sequence

from audiovae.errors import ConfigError
from audiovae.metrics.audioldm_eval import LSDAudioLDMEval, PSNRAudioLDMEval, SSIMAudioLDMEval
from audiovae.metrics.base import HIGHER, LOWER, TARGET, PerItemMetric
from audiovae.metrics.mel import MelL1, MelPSNR
from audiovae.metrics.perceptual import PESQ, STOI
from audiovae.metrics.reference_free import (
    ClapScore,
    EffectiveBandwidth,
    HighBandFlatness,
    HighBandShare,
    LabelKL,
    SpectralRolloff,
)
from audiovae.metrics.sets import SET_METRICS
from audiovae.metrics.waveform import LSD, SISDR, SNR, HFRetention, MelDistance, SpectralCorrelation
from audiovae.plugins import check_name_free


@dataclass(frozen=True)
class MetricSpec:
    """A metric's class, which of its constructor arguments come from the shared settings (argument -> settings
    key, see `build_metric`), and the arguments fixed by its name (e.g. `band="high"` for lsd_hf)."""

    cls: type[PerItemMetric]
    from_settings: dict = field(default_factory=dict)
    fixed: dict = field(default_factory=dict)


_LSD = {"sample_rate": "sample_rate", "n_fft": "lsd_n_fft", "hop": "lsd_hop", "cutoff_hz": "hf_cutoff_hz"}
_SPECTRUM = {"n_fft": "spectrum_n_fft", "hop": "spectrum_hop"}
_LONG_TERM = {"sample_rate": "sample_rate", **_SPECTRUM}
_HIGH_BAND = {**_LONG_TERM, "cutoff_hz": "hf_cutoff_hz"}

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
    # reference-free (audiovae.metrics.reference_free): of the estimate alone, for generated audio
    "hf_energy_share": MetricSpec(HighBandShare, _HIGH_BAND),
    "rolloff_85": MetricSpec(SpectralRolloff, _LONG_TERM, {"fraction": 0.85}),
    "rolloff_95": MetricSpec(SpectralRolloff, _LONG_TERM, {"fraction": 0.95}),
    "effective_bandwidth": MetricSpec(EffectiveBandwidth, _LONG_TERM),
    "hf_flatness": MetricSpec(HighBandFlatness, _HIGH_BAND),
}
METRIC_NAMES = tuple(METRICS)  # the built-in per-file metrics of waveform (or log-mel) pairs (plugins: METRICS)
# per-item metrics the generation job computes from models (`audiovae.generation.job.Scorers`): the prompt and the
# embedding model (clap_score), the classifier and the prompt's reference recording (kl_softmax)
PROMPT_METRICS: dict[str, MetricSpec] = {"clap_score": MetricSpec(ClapScore), "kl_softmax": MetricSpec(LabelKL)}


def _setting_defaults() -> dict:
    """`metrics.<key>` -> its default: the default of the constructor argument it feeds (every metric that takes
    it must agree)."""
    out = {}
    for name, spec in METRICS.items():
        params = inspect.signature(spec.cls.__init__).parameters
        for arg, key in spec.from_settings.items():
            if key == "sample_rate":  # the front end's, not a metric setting
                continue
            default = params[arg].default
            if key in out and out[key] != default:  # pragma: no cover - a table error, caught by the tests
                raise ValueError(f"metric setting {key}: {name} defaults it to {default}, another to {out[key]}")
            out[key] = default
    return out


SETTINGS = _setting_defaults()  # metrics.<key> -> default, e.g. lsd_n_fft: 2048 (from LSD.__init__)


def register_metric(name: str, cls: type[PerItemMetric], from_settings: Optional[dict] = None, **fixed) -> None:
    """Add a per-file metric that configs name as `name` (a plugin's, docs "Extending"): `cls` a PerItemMetric,
    `from_settings` its constructor argument -> the shared setting it takes (`sample_rate`, or a key of SETTINGS:
    `hf_cutoff_hz`, `spectrum_n_fft`, ...), `fixed` arguments fixed by the name. Registering a name again with the
    same class replaces it (a module imported twice); a name taken by another metric is a ConfigError."""
    taken = METRICS.get(name) or PROMPT_METRICS.get(name)
    check_name_free("metric", name, cls, taken.cls if taken else None, reserved=tuple(SET_METRICS))
    if not (isinstance(cls, type) and issubclass(cls, PerItemMetric)) or getattr(cls, "direction", None) not in (
        HIGHER,
        LOWER,
        TARGET,
    ):
        raise ConfigError(
            f"metric '{name}': {cls!r} must be a PerItemMetric subclass whose `direction` is higher, lower or target"
        )
    known = {"sample_rate", *SETTINGS}
    unknown = set((from_settings or {}).values()) - known
    if unknown:
        raise ConfigError(f"metric '{name}': unknown settings {sorted(unknown)}; the settings are {sorted(known)}")
    METRICS[name] = MetricSpec(cls, dict(from_settings or {}), dict(fixed))


class DescribedMetric(PerItemMetric):
    """A metric known only by what a run saved of it (`summary.json`): its direction, target, unit, Δ kind and
    domain. Read-only commands (compare) describe a plugin's metric this way instead of importing the plugin; it
    cannot measure."""

    def accumulator(self):
        raise ConfigError(f"metric '{self.name}' is described by a saved run; measuring it needs its plugin")


def describe_saved_metric(name: str, saved: dict) -> None:
    """Make `name` known from a run's summary entry (`{direction, target, unit, delta_kind, domain}`) unless it is
    registered; ConfigError when the entry does not say how the metric is scored."""
    if name in METRICS or name in PROMPT_METRICS:
        return
    direction = saved.get("direction")
    if direction not in (HIGHER, LOWER, TARGET) or saved.get("delta_kind") is None:
        raise ConfigError(f"metric '{name}': the run's summary.json does not say its direction and Δ kind")
    attributes = {
        "name": name,
        "direction": direction,
        "target": saved.get("target"),
        "unit": saved.get("unit") or "",
        "delta_kind": saved["delta_kind"],
        "domain": saved.get("domain") or "unknown",
        "is_differentiable": False,
    }
    METRICS[name] = MetricSpec(type(f"Described_{name}", (DescribedMetric,), attributes))


def settings_of(section) -> dict:
    """The metric settings of a config section (`metrics`): each key of SETTINGS, its default where absent."""
    return {key: section.get(key, default) if section is not None else default for key, default in SETTINGS.items()}


# set metrics (one value per variant for the whole set of files: summary, report, W&B only): audiovae.metrics.sets


def _spec(name: str) -> MetricSpec:
    if name not in METRICS and name not in PROMPT_METRICS:
        raise ConfigError(
            f"config key 'metrics.names': unknown metric '{name}'; choose from "
            f"{[*METRICS, *PROMPT_METRICS, *SET_METRICS]}"
        )
    return METRICS.get(name) or PROMPT_METRICS[name]


def prompt_metric_names(names: Sequence[str]) -> list[str]:
    """The metrics of `names` that need a prompt (clap_score, kl_softmax): the generation job's only."""
    return [name for name in names if name in PROMPT_METRICS]


def check_metric_names(names: Sequence[str], generation: bool = False) -> None:
    """ConfigError for an empty list, naming the first unknown metric, or outside generation a metric that needs
    a prompt (run at start-up, before any file is evaluated)."""
    if not names:
        raise ConfigError(
            f"config key 'metrics.names': name at least one metric, e.g. metrics.names=[lsd_hf] (one "
            f"of {sorted([*METRICS, *PROMPT_METRICS, *SET_METRICS])})"
        )
    for name in names:
        if name not in SET_METRICS:
            _spec(name)
    if not generation and prompt_metric_names(names):
        name = prompt_metric_names(names)[0]
        raise ConfigError(
            f"config key 'metrics.names': {name} needs {PROMPT_METRICS[name].cls.needs}: audiovae-generate "
            f"measures it, a reconstruction has no prompt"
        )


def file_metric_names(names: Sequence[str]) -> list[str]:
    """The per-file metrics of `metrics.names` (without the set metrics)."""
    return [name for name in names if name not in SET_METRICS]


def build_metric(name: str, sample_rate: int, **settings) -> PerItemMetric:
    """One metric by its config name at `sample_rate`, with the metric settings it takes among `settings` (keys of
    SETTINGS; absent: the default): `hf_cutoff_hz` (default sr/4) is shared by hf_retention and lsd_hf/lf,
    `spectrum_*` set the STFT of hf_retention and spectral_correlation, `lsd_*` that of the lsd family,
    `audioldm_eval_offset` the samples lsd_audioldm_eval drops from the estimate's start."""
    unknown = set(settings) - set(SETTINGS)
    if unknown:
        raise ValueError(f"unknown metric settings {sorted(unknown)}; the settings are {sorted(SETTINGS)}")
    values = {**SETTINGS, **settings, "sample_rate": sample_rate}
    spec = _spec(name)
    return spec.cls(**{arg: values[key] for arg, key in spec.from_settings.items()}, **spec.fixed)


def metric_info(name: str) -> type[PerItemMetric]:
    """The class of a configured metric, for its attributes (higher_is_better, delta_kind, unit, domain)."""
    return _spec(name).cls
