"""The configuration reference (docs/config-reference.md), generated from the schemas: every key of every job with
its type, its default (the job's primary config composed with its default groups) and its allowed range or choices
(`audiovae.config.ranges`), and every metric's settings with the default, type and range of its constructor's
argument. A test keeps the committed page equal to `render()`.

    python -m audiovae.reference > docs/config-reference.md
"""

import dataclasses
import math
import typing

from omegaconf import OmegaConf

from audiovae.config.compose import compose
from audiovae.config.keywords import declared_range
from audiovae.config.ranges import CHOICES, RANGES, _bound
from audiovae.config.schema import EvalConfig, GenerateConfig, SearchConfig, TrainConfig
from audiovae.metrics.registry import METRICS, section_defaults
from audiovae.metrics.table import annotations, own_arguments, section_members, sections

JOBS = (
    ("eval", "evaluate.py / audiovae-eval", EvalConfig),
    ("train", "train.py / audiovae-train", TrainConfig),
    ("generate", "generate.py / audiovae-generate", GenerateConfig),
    ("search", "audiovae-search", SearchConfig),
)


def type_name(annotation) -> str:
    """`int`, `str or null`, `list[int]`, `dict` (any keys), … of a schema annotation (an `Annotated` one's type)."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return type_name(args[0])
    if origin is typing.Union:
        names = [type_name(a) for a in args if a is not type(None)]
        return " or ".join(names) + (" or null" if type(None) in args else "")
    if origin in (list, typing.List):
        return f"list[{type_name(args[0])}]" if args else "list"
    if origin in (dict, typing.Dict):
        return "dict"
    if annotation is typing.Any:
        return "any"
    if origin is typing.Literal:
        return " or ".join(f"`{a}`" for a in args)
    return getattr(annotation, "__name__", str(annotation))


def schema_keys(schema, prefix: str = "") -> dict[str, str]:
    """Dotted key -> type name of every field of `schema`, nested dataclasses expanded."""
    out = {}
    hints = typing.get_type_hints(schema)
    for f in dataclasses.fields(schema):
        annotation = hints[f.name]
        if dataclasses.is_dataclass(annotation):
            out.update(schema_keys(annotation, f"{prefix}{f.name}."))
        else:
            out[f"{prefix}{f.name}"] = type_name(annotation)
    return out


def allowed(key: str) -> str:
    """The choices or the range the start-up checks allow for `key` ("" when any value of its type is taken)."""
    if key in CHOICES:
        return " \\| ".join(f"`{c}`" for c in CHOICES[key])
    if key in RANGES:
        return _bound(*RANGES[key]).replace("must be ", "")
    return ""


def shown(value) -> str:
    """A default as the table shows it: code-formatted, null for None, long values cut at 60 characters."""
    if isinstance(value, float) and math.isinf(value):
        return "inf"
    text = "null" if value is None else str(value).replace("|", "\\|")
    return f"`{text}`" if len(text) <= 60 else f"`{text[:57]}…`"


def render() -> str:
    """The whole reference page: one table per job (eval, train, generate, search) of every schema key with its type,
    default and allowed values."""
    lines = [
        "# Configuration reference",
        "",
        "Generated from the schemas (`audiovae/config/schema.py`), the default configs (`configs/`) and the "
        "start-up checks (`audiovae/config/ranges.py`) by `python -m audiovae.reference`; a test keeps "
        "this page equal to them. Sections typed `dict` (`enhancement`, `trainer`, `sweep`) take the keys of "
        "what they build: the enhancer's arguments, Lightning's `Trainer` arguments, lists of values to sweep.",
        "",
    ]
    for job, command, schema in JOBS:
        cfg = OmegaConf.to_container(compose(job, [], schema=schema), resolve=False)
        lines += [f"## `{job}.yaml` ({command})", "", "| key | type | default | allowed |", "|---|---|---|---|"]
        for key, kind in schema_keys(schema).items():
            node = cfg
            for part in key.split("."):
                node = node.get(part) if isinstance(node, dict) else None
            default = "(the group's keys)" if isinstance(node, dict) and node else shown(node)
            lines.append(f"| `{key}` | {kind} | {default} | {allowed(key)} |")
        lines.append("")
    return "\n".join(lines) + "\n" + render_metric_settings()


def render_metric_settings() -> str:
    """The table of every metric's settings (`metrics.<section>.<argument>`): type, default and range from the
    constructor, and the metrics that read the section; a plugin's once it is registered."""
    lines = [
        "## Metric settings",
        "",
        "Each metric's constructor arguments are its section of `metrics` (evaluation, generation and training "
        "validation alike): e.g. `metrics.lsd.n_fft=1024`. A section shared by several metrics holds what they must "
        "agree on. `metrics.hf_cutoff_hz` (above) is the run's high band for all of them.",
        "",
        "| key | type | default | allowed | metrics |",
        "|---|---|---|---|---|",
    ]
    for section in sections():
        members, defaults, seen = section_members(section), section_defaults(section), set()
        for spec in (METRICS[name] for name in members):
            hints = annotations(spec)
            for argument in own_arguments(spec):
                if argument in seen:  # a shared argument: one row for the section
                    continue
                seen.add(argument)
                kind, bounds = type_name(hints.get(argument, typing.Any)), declared_range(hints.get(argument))
                default = shown(defaults[argument]) if argument in defaults else "(required)"
                allowed_values = bounds.words().removeprefix("in ") if bounds else ""
                lines.append(
                    f"| `metrics.{section}.{argument}` | {kind} | {default} | {allowed_values} | {', '.join(members)} |"
                )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render(), end="")
