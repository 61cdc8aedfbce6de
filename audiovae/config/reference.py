"""The configuration reference (docs/config-reference.md), generated from the schemas: every key of every job with
its type, its default (the job's primary config composed with its default groups) and its allowed range or choices
(`audiovae.config.ranges`). A test keeps the committed page equal to `render()`.

    python -m audiovae.config.reference > docs/config-reference.md
"""

import dataclasses
import math
import typing

from omegaconf import OmegaConf

from audiovae.config.compose import compose
from audiovae.config.ranges import CHOICES, RANGES, _bound
from audiovae.config.schema import EvalConfig, GenerateConfig, TrainConfig

JOBS = (
    ("eval", "evaluate.py / audiovae-eval", EvalConfig),
    ("train", "train.py / audiovae-train", TrainConfig),
    ("generate", "generate.py / audiovae-generate", GenerateConfig),
)


def type_name(annotation) -> str:
    """`int`, `str or null`, `list[int]`, `dict` (any keys), … of a schema annotation."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Union:
        names = [type_name(a) for a in args if a is not type(None)]
        return " or ".join(names) + (" or null" if type(None) in args else "")
    if origin in (list, typing.List):
        return f"list[{type_name(args[0])}]" if args else "list"
    if origin in (dict, typing.Dict):
        return "dict"
    if annotation is typing.Any:
        return "any"
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
    """The whole reference page: one table per job (eval, train, generate) of every schema key with its type,
    default and allowed values."""
    lines = [
        "# Configuration reference",
        "",
        "Generated from the schemas (`audiovae/config/schema.py`), the default configs (`configs/`) and the "
        "start-up checks (`audiovae/config/ranges.py`) by `python -m audiovae.config.reference`; a test keeps "
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
    return "\n".join(lines)


if __name__ == "__main__":
    print(render(), end="")
