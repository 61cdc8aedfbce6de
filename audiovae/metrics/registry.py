"""The metrics by config name: the built-in families register theirs on import (`audiovae.metrics.table`), and
this module builds them from a config's `metrics` section, checks that section at start-up and reads a metric's
attributes (direction, unit, Δ kind, domain) from its class, so nothing is built to read them.

>>> metric_info("lsd_hf").higher_is_better, metric_info("snr").unit
(False, 'dB')
>>> build_metric("lsd_hf", 16000, {"lsd": {"n_fft": 1024}}).n_fft, build_metric("lsd_hf", 16000).cutoff_hz
(1024, 4000.0)
"""

import dataclasses
import inspect
from importlib import import_module
from typing import Any, Mapping, Optional, Sequence

from omegaconf import DictConfig, OmegaConf, open_dict

from audiovae.config.keywords import check_keywords
from audiovae.errors import ConfigError
from audiovae.metrics.base import HIGHER, LOWER, TARGET, PerItemMetric
from audiovae.metrics.sets import SET_METRICS
from audiovae.metrics.table import (  # noqa: F401 - plugins import register_metric from here
    METRICS,
    NOT_SETTINGS,
    PROMPT_METRICS,
    RUN_ARGUMENTS,
    MetricSpec,
    own_arguments,
    register_metric,
    section_arguments,
    section_members,
    sections,
    sections_of,
)

# each family module registers its own metrics
FAMILIES = (
    "waveform",
    "mel",
    "perceptual",
    "loudness",
    "visqol",
    "mos",
    "audioldm_eval",
    "dac",
    "espnet",
    "reference_free",
)
for family in FAMILIES:  # in this order: the order of METRIC_NAMES
    import_module(f"audiovae.metrics.{family}")
METRIC_NAMES = tuple(METRICS)  # the built-in per-file metrics of waveform (or log-mel) pairs (plugins: METRICS)


def section_defaults(section: str) -> dict:
    """`metrics.<section>` as the constructors default it."""
    return {arg: p.default for arg, p in section_arguments(section).items() if p.default is not p.empty}


def section_values(section: str, metrics: Optional[Mapping] = None) -> dict:
    """The settings of `metrics.<section>`: the config's values over the constructors' defaults."""
    given = (metrics or {}).get(section) or {}
    return {**section_defaults(section), **dict(given)}


def metric_arguments(name: str, sample_rate: int, metrics: Optional[Mapping] = None) -> dict:
    """The constructor arguments of the metric `name` at `sample_rate`: its section of `metrics` (a config's
    `metrics` section or a dict of it; absent: the defaults), the run's high band `metrics.hf_cutoff_hz` and the
    arguments its name fixes. What the cache keys a metric's values by."""
    spec = _spec(name)
    accepted = inspect.signature(spec.cls).parameters
    run = {"sample_rate": sample_rate, "cutoff_hz": (metrics or {}).get("hf_cutoff_hz")}
    own = {a: v for a, v in section_values(spec.section, metrics).items() if a in own_arguments(spec)}
    return {**own, **{a: v for a, v in run.items() if a in accepted}, **spec.fixed}


def build_metric(name: str, sample_rate: int, metrics: Optional[Mapping] = None) -> PerItemMetric:
    """One metric by its config name at `sample_rate`, built from `metric_arguments`."""
    return _spec(name).cls(**metric_arguments(name, sample_rate, metrics))


def check_section(section: str, given: Mapping) -> dict:
    """`given` (the config's `metrics.<section>`) checked against its metrics' constructors: each key one of their
    arguments, and for each metric its arguments (`check_keywords`: annotated type, `Range`, required ones present)
    and together consistent (`settings_problem`); the full section (defaults filled in) or ConfigError naming the
    key."""
    arguments = section_arguments(section)
    where, takes = f"metrics.{section}", ", ".join(arguments) or "no settings"
    members = section_members(section)
    for key in given:
        if key not in arguments:
            who = f"metrics {', '.join(members)} take" if len(members) > 1 else f"metric {members[0]} takes"
            raise ConfigError(f"config key '{where}.{key}': the {who} {takes}")
    values = {**section_defaults(section), **dict(given)}
    for name in members:
        spec = METRICS[name]
        own = {a: values[a] for a in own_arguments(spec) if a in values}
        skip = (*NOT_SETTINGS, *RUN_ARGUMENTS, *spec.fixed)
        check_keywords(spec.cls.__init__, own, where, f"metric {name}", skip=skip, required=True)
        problem = spec.cls.settings_problem(own)
        if problem:
            raise ConfigError(f"config key '{where}.{problem[0]}': {problem[1]}")
    return values


def measured_names(cfg: DictConfig) -> list[str]:
    """The per-file metrics a job's config measures: `metrics.names` (evaluation, generation) or `val_metrics`
    (training)."""
    names = cfg.metrics.get("names") if "names" in cfg.metrics else cfg.get("val_metrics")
    return [n for n in (names or []) if n in METRICS]


def resolve_metric_settings(cfg: DictConfig) -> None:
    """compose() hook: every key of `metrics` that is no field of its schema must be a metric's settings section
    (`metrics.lsd.n_fft`); each given section is checked (`check_section`) and the sections of the measured metrics
    are written in full, so the saved config says every setting its numbers depend on."""
    node = cfg.get("metrics")
    if node is None:
        return
    fields = {f.name for f in dataclasses.fields(OmegaConf.get_type(node))}
    known = sections()
    for key in node:
        if key not in fields and key not in known:
            raise ConfigError(
                f"config key 'metrics.{key}': neither a metrics key nor a metric's settings section; the sections "
                f"are {', '.join(known)} (docs: Configuration reference)"
            )
    measured = sections_of(measured_names(cfg))
    wanted = [s for s in known if s in node or s in measured]
    with open_dict(node):
        for section in wanted:
            given = node.get(section) or {}
            if not isinstance(given, (dict, DictConfig)):
                raise ConfigError(f"config key 'metrics.{section}': a section of settings, got {given!r}")
            node[section] = check_section(
                section, OmegaConf.to_container(given) if isinstance(given, DictConfig) else given
            )


def check_protocol(cfg: DictConfig) -> None:
    """compose() hook: a run under a protocol (`protocol=dac`) measures every metric of it, so its numbers are the
    tool's; ConfigError naming `metrics.names` when an override left one out (adding others is fine)."""
    protocol = cfg.get("protocol")
    if protocol is None or protocol.get("name", "none") == "none":
        return
    names = list(cfg.metrics.get("names") or [])
    left_out = [m for m in protocol.metrics if m not in names]
    if left_out:
        raise ConfigError(
            f"config key 'metrics.names': protocol={protocol.name} measures {left_out[0]}, which metrics.names "
            f"leaves out; keep the protocol's metrics (add others) or choose protocol=none"
        )


def metric_definitions(metrics: Mapping, names: Sequence[str]) -> dict[str, Any]:
    """What decides the numbers of the metrics `names` (compare holds runs to it): their sections in full and the
    high band's edge."""
    return {"hf_cutoff_hz": metrics.get("hf_cutoff_hz"), **{s: section_values(s, metrics) for s in sections_of(names)}}


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


def metric_info(name: str) -> type[PerItemMetric]:
    """The class of a configured metric, for its attributes (higher_is_better, delta_kind, unit, domain)."""
    return _spec(name).cls
