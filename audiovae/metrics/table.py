"""The metric table: a config name -> its class, the arguments its name fixes (`band="high"` for lsd_hf) and the
config section that holds its settings. Each family module registers its metrics at its end (`register_metric`),
a plugin the same way; nothing else lists them.

A metric owns its settings: the arguments of its constructor are the keys of `metrics.<section>` (the section is
the metric's name unless several metrics must agree, e.g. `metrics.lsd` for lsd, lsd_hf and lsd_lf), with the
constructor's defaults, annotated types and `Range`s (`audiovae.config.keywords`). Two arguments are the run's,
not a metric's (`RUN_ARGUMENTS`): `sample_rate` (the front end's, or `metrics.common_rate`) and `cutoff_hz`
(`metrics.hf_cutoff_hz`, the one high band that every high-band metric, the band table and the plots share).
"""

import dataclasses
import inspect
import typing
from dataclasses import dataclass, field
from typing import Optional

from audiovae.errors import ConfigError
from audiovae.metrics.base import HIGHER, LOWER, TARGET, PerItemMetric
from audiovae.metrics.sets import SET_METRICS
from audiovae.plugins import check_name_free

RUN_ARGUMENTS = {"sample_rate": "frontend.sample_rate", "cutoff_hz": "metrics.hf_cutoff_hz"}  # argument -> its key
NOT_SETTINGS = ("self", "name")  # constructor arguments that no config sets


@dataclass(frozen=True)
class MetricSpec:
    """A metric's class, the constructor arguments fixed by its config name, and its settings' section."""

    cls: type[PerItemMetric]
    fixed: dict = field(default_factory=dict)
    section: str = ""


METRICS: dict[str, MetricSpec] = {}  # per-file metrics of waveform (or log-mel) pairs, built-in and plugins'
PROMPT_METRICS: dict[str, MetricSpec] = {}  # per-item metrics that need a prompt (the generation job's)


def own_arguments(spec: MetricSpec) -> dict[str, inspect.Parameter]:
    """The constructor arguments of `spec` that are settings: not the run's, not fixed by its name."""
    skip = {*NOT_SETTINGS, *RUN_ARGUMENTS, *spec.fixed}
    return {
        name: p
        for name, p in inspect.signature(spec.cls).parameters.items()
        if name not in skip and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
    }


def annotations(spec: MetricSpec) -> dict:
    """The annotations of the constructor's arguments, `Annotated` extras (ranges) kept; {} when they do not
    resolve."""
    try:
        return typing.get_type_hints(spec.cls.__init__, include_extras=True)
    except Exception:
        return {}


def section_members(section: str) -> list[str]:
    """The names of the metrics whose settings live in `metrics.<section>`."""
    return [name for name, spec in METRICS.items() if spec.section == section]


def section_specs(section: str) -> list[MetricSpec]:
    """The metrics whose settings live in `metrics.<section>`."""
    return [METRICS[name] for name in section_members(section)]


def sections_of(names) -> list[str]:
    """The settings sections that the metrics `names` read (registration order; unknown names have none)."""
    wanted = {METRICS[n].section for n in names if n in METRICS}
    return [s for s in sections() if s in wanted]


def section_arguments(section: str) -> dict[str, inspect.Parameter]:
    """Every setting of `metrics.<section>`: the union of its metrics' own arguments."""
    out = {}
    for spec in section_specs(section):
        out.update(own_arguments(spec))
    return out


def sections() -> list[str]:
    """The settings sections of the registered metrics, in registration order."""
    return list(dict.fromkeys(spec.section for spec in METRICS.values()))


def _check_agreement(spec: MetricSpec) -> None:
    """ConfigError when `spec` shares a section with metrics whose same-named argument has another default: one
    section, one value."""
    for other in section_specs(spec.section):
        theirs = own_arguments(other)
        for arg, p in own_arguments(spec).items():
            if arg in theirs and theirs[arg].default != p.default:
                raise ConfigError(
                    f"metric section '{spec.section}': {spec.cls.__name__} defaults {arg} to {p.default!r}, "
                    f"{other.cls.__name__} to {theirs[arg].default!r} (metrics of one section must agree)"
                )


def register_metric(name: str, cls: type[PerItemMetric], section: Optional[str] = None, **fixed) -> None:
    """Add a per-file metric that configs name as `name` (a family's or a plugin's, docs "Extending"): `cls` a
    PerItemMetric whose constructor's arguments are its settings (`metrics.<section>.<argument>`, section `name`
    unless given), `fixed` arguments fixed by the name. Registering a name again with the same class replaces it
    (a module imported twice); a name taken by another metric, or a metrics key, is a ConfigError."""
    from audiovae.config.schema import MetricsConfig  # the keys of `metrics` that are no metric's

    taken = METRICS.get(name) or PROMPT_METRICS.get(name)
    reserved = (*SET_METRICS, *(f.name for f in dataclasses.fields(MetricsConfig)))
    check_name_free("metric", name, cls, taken.cls if taken else None, reserved=reserved)
    if not (isinstance(cls, type) and issubclass(cls, PerItemMetric)) or getattr(cls, "direction", None) not in (
        HIGHER,
        LOWER,
        TARGET,
    ):
        raise ConfigError(
            f"metric '{name}': {cls!r} must be a PerItemMetric subclass whose `direction` is higher, lower or target"
        )
    spec = MetricSpec(cls, dict(fixed), section or name)
    if spec.section in reserved or (spec.section in METRICS and METRICS[spec.section].section != spec.section):
        raise ConfigError(f"metric '{name}': section '{spec.section}' is a metrics key or another metric's name")
    _check_agreement(spec)
    METRICS[name] = spec


def register_prompt_metric(name: str, cls: type[PerItemMetric]) -> None:
    """Add a per-item metric that needs a prompt (the generation job computes it from its models)."""
    PROMPT_METRICS[name] = MetricSpec(cls, {}, name)
