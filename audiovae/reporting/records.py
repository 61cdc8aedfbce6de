"""Per-file results: the structured record every job produces, and its flat results.csv form (written and read
back only here).

>>> r = FileResult(0, "a.wav", OK, metrics={"base": {"snr": 10.0}, "enhanced": {"snr": 12.5}})
>>> row = to_row(r, ["snr"])
>>> row["base_snr"], row["enhanced_snr"], row["delta_snr"]
(10.0, 12.5, 2.5)
>>> back = from_row(row, ["snr"])
>>> back.file, back.metrics["enhanced"]
('a.wav', {'snr': 12.5})
"""

import base64
import csv
import math
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from audiovae.data.files import output_stems
from audiovae.metrics.base import ABSOLUTE, WAVEFORM
from audiovae.metrics.registry import metric_info
from audiovae.metrics.scoring import scoring
from audiovae.models.variants import BASE, CEILING, ENHANCED, REFERENCE

WAVE_NAMES = ("reference", CEILING, BASE, ENHANCED)  # the audio a file may write: audio/<stem>.<name>.wav

VARIANTS = (CEILING, BASE, ENHANCED)  # a mel model's; a waveform model has no vocoder ceiling (models.interface)
FROM_TARGET = "_from_target"  # suffix of a target metric's distance columns (dB from the target)
OK, ERROR = "ok", "error"
TEXT_COLUMNS = ("file", "source", "status", "error", "notes", "prompt", "prompt_id")  # the last two: generation's


@dataclass(frozen=True)
class Column:
    """How a FileResult field is a results.csv column: its `name` (the field's unless given), `unit`, what it holds
    (columns.csv says both), whether it is left out when empty (`optional`) and the variant a model must have for it
    (`needs`: the vocoder ceiling's lag exists for mel models only)."""

    unit: str
    doc: str
    name: str = ""
    optional: bool = False
    needs: str = ""


def column(default, unit: str, doc: str, **spec):
    """A FileResult field that is a results.csv column (`Column`): one declaration gives the row, its reading back,
    its unit and its description."""
    return field(default=default, metadata={"column": Column(unit, doc, **spec)})


@dataclass
class FileResult:
    """One file's result, as every job stores it: identity, status, durations, per-stage seconds, metrics per variant,
    band retention, lag, fingerprint, output stem, embeddings. The fields declared with `column` are results.csv's
    leading columns, in this order; `time_<stage>` and the metric columns follow (`to_row`)."""

    index: int
    file: str = column(
        "", "", "the entry: its path under data.dir, its manifest id (or path#offset+duration), or shard:key"
    )
    status: str = column("", "", "ok or error")
    source: str = column(
        "", "", "where the entry was listed: manifest:line (or :data[i]) or shard:key", optional=True
    )  # when that is not its key: `train.jsonl:12`, `shard-000.tar:clip7`
    error: str = column("", "", "why it failed")
    notes: str = column("", "", "why a value is NaN")  # e.g. "base/hf_retention: reference has no content above ..."
    duration_s: float = column(float("nan"), "s", "length of the input file")
    evaluated_s: float = column(float("nan"), "s", "length evaluated")
    sample_rate_in: int = column(0, "Hz", "input sample rate")
    channels_in: int = column(0, "", "input channels")
    vocoder_lag: float = column(
        float("nan"),
        "samples",
        "lag maximising the cross-correlation of the vocoder ceiling with the reference within "
        "±metrics.max_lag_samples (positive: the vocoder's output is late)",
        name="vocoder_lag_samples",
        needs=CEILING,
    )  # NaN: not searched
    vocoder_lag_corr: float = column(
        float("nan"),
        "",
        "normalised cross-correlation at that lag: 1 for a delayed copy, near 0 when the waveforms are unrelated",
        needs=CEILING,
    )
    seconds: dict = field(default_factory=dict)  # stage -> seconds for this file
    metrics: dict = field(default_factory=dict)  # variant -> metric -> value
    bands: dict = field(default_factory=dict)  # variant (base, enhanced) -> per mel band retention (dB), low to high
    fingerprint: str = ""  # of the file's bytes when evaluated: resume re-evaluates a file whose content changed
    stem: str = ""  # its unique output name: audio/<stem>.<variant>.wav, plots/<stem>.png
    embeddings: dict = field(default_factory=dict)  # reference/vocoder/base/enhanced -> encode_embedding (set metrics)
    from_cache: bool = False  # its enhancer-independent work (and shared values) came from the cross-run cache

    def value(self, variant: str, name: str) -> float:
        """The value of metric `name` for `variant` (NaN when it was not measured)."""
        return self.metrics.get(variant, {}).get(name, float("nan"))


def encode_embedding(vector) -> str:
    """A file's embedding as stored with its row: base64 of its float32 values (little-endian)."""
    return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode("ascii")


def decode_embedding(text: str) -> np.ndarray:
    """The float64 vector of an embedding stored with `encode_embedding`."""
    return np.frombuffer(base64.b64decode(text), dtype="<f4").astype(np.float64)


def variants_of(name: str, variants: Sequence[str] = VARIANTS) -> tuple[str, ...]:
    """The variants of `variants` (an evaluation's: `variants.scored`) a metric is measured on: mel-domain metrics
    have no vocoder ceiling, and only the reference-free ones score the reference itself."""
    info = metric_info(name)
    return tuple(
        v
        for v in variants
        if (v != CEILING or info.domain == WAVEFORM) and (v != REFERENCE or getattr(info, "reference_free", False))
    )


def file_delta(name: str, base: float, enhanced: float) -> float:
    """Per-file Δ of the scores (`metrics.scoring`): enhanced − base for dB-valued metrics and for a target metric's
    distance to its target (dB), percent change for ratio-valued ones."""
    s = scoring(name)
    base, enhanced = (float(v) for v in s.score([base, enhanced]))
    if s.delta_kind == ABSOLUTE:
        return enhanced - base
    return 100.0 * (enhanced - base) / abs(base) if base != 0 else float("nan")


def file_improvement(name: str, base: float, other: float) -> Optional[float]:
    """`file_delta` signed so that positive is better whatever the metric's direction; None where undefined."""
    delta = file_delta(name, base, other)
    value = delta if scoring(name).higher_is_better else -delta
    return value if math.isfinite(value) else None


def columns_of(result_type: type = FileResult) -> list[tuple[str, Column]]:
    """(field name, Column) of every field of `result_type` that is a results.csv column, in order."""
    return [(f.name, f.metadata["column"]) for f in fields(result_type) if "column" in f.metadata]


COLUMNS = {spec.name or name: spec for name, spec in columns_of()}  # results.csv name -> its Column
LAG_COLUMN, LAG_CORR_COLUMN = "vocoder_lag_samples", "vocoder_lag_corr"


def to_row(result: FileResult, metric_names: Sequence[str], variants: Sequence[str] = VARIANTS) -> dict:
    """The results.csv row: the `column` fields (file, source, status, error, notes, durations, rates, the vocoder
    lag of a model with a ceiling), time_*, and per metric and variant of the model's `variants` <variant>_m
    (vocoder_m, base_m, enhanced_m), for a target metric <variant>_m_from_target (dB from the target), and delta_m
    (of the scores)."""
    row = {}
    for name, spec in columns_of():
        value = getattr(result, name)
        if not (spec.optional and not value) and (not spec.needs or spec.needs in variants):
            row[spec.name or name] = value
    for stage, seconds in result.seconds.items():
        row[f"time_{stage}"] = seconds
    for name in metric_names:
        for variant in variants_of(name, variants):
            row[f"{variant}_{name}"] = result.value(variant, name)
        if scoring(name).is_target:  # what "better" compares, beside the raw values
            for variant in variants_of(name, variants):
                row[f"{variant}_{name}{FROM_TARGET}"] = float(scoring(name).score(result.value(variant, name)))
        base, enhanced = result.value("base", name), result.value("enhanced", name)
        row[f"delta_{name}"] = file_delta(name, base, enhanced) if result.status == OK else float("nan")
    return row


def _cell(value, default):
    """A parsed cell as its field's type (the field's default where the cell is absent or empty)."""
    if value is None or (isinstance(value, float) and math.isnan(value) and not isinstance(default, float)):
        return default
    if isinstance(default, bool) or not isinstance(default, (int, float, str)):
        return value
    return type(default)(value)


def from_row(row: dict, metric_names: Sequence[str], index: int = 0) -> FileResult:
    """The FileResult of a results.csv row (`read_csv`'s parsed form); the inverse of `to_row`."""
    defaults = {f.name: f.default for f in fields(FileResult)}
    values = {name: _cell(row.get(spec.name or name), defaults[name]) for name, spec in columns_of()}
    metrics = {
        variant: {name: row[f"{variant}_{name}"] for name in metric_names if f"{variant}_{name}" in row}
        for variant in (REFERENCE, *VARIANTS)
    }
    metrics = {variant: values for variant, values in metrics.items() if values}
    seconds = {k[5:]: v for k, v in row.items() if k.startswith("time_")}
    return FileResult(index, **values, seconds=seconds, metrics=metrics)


def write_csv(path: Path, rows: list[dict]) -> None:
    """Rows (dicts) as CSV, columns in first-seen order; NaN written as an empty cell."""
    columns = list(dict.fromkeys(k for row in rows for k in row))
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()})


def read_csv(path: Path) -> list[dict]:
    """A CSV written by `write_csv` back as dicts with numbers parsed (empty cells -> NaN)."""

    def parse(value: str):
        if value == "":
            return float("nan")
        try:
            return float(value)
        except ValueError:
            return value

    with open(path, newline="") as f:
        return [{k: (parse(v) if k not in TEXT_COLUMNS else v) for k, v in row.items()} for row in csv.DictReader(f)]


def read_results(path: Path, metric_names: Sequence[str]) -> list[FileResult]:
    """results.csv back as FileResults, each with the output stem the run gave it (`output_stems` over all of its
    files, as discovery did)."""
    results = [from_row(row, metric_names, i) for i, row in enumerate(read_csv(path))]
    stems = output_stems([r.file for r in results])
    for r in results:
        r.stem = r.stem or stems[r.file]
    return results


STAGE_UNIT = ("s", "seconds of this file in stage")


def column_units(row: dict) -> list[dict]:
    """columns.csv: every results.csv column of `row` (a `to_row` row) with its unit (dB, %, s, Hz or none) and
    what it holds, so a reader of the flat file knows what each number means."""
    out = []
    for column in row:
        if column in COLUMNS:
            unit, text = COLUMNS[column].unit, COLUMNS[column].doc
        elif column.startswith("time_"):
            unit, text = STAGE_UNIT[0], f"{STAGE_UNIT[1]} {column[5:]}"
        elif column.startswith("delta_"):
            name = column[6:]
            s = scoring(name)
            unit = s.delta_unit
            text = (
                f"enhanced − base distance of {name} to its target {s.target:g} (negative: closer)"
                if s.is_target
                else f"enhanced vs base {name}: " + ("percent change" if unit == "%" else "difference")
            )
        else:
            variant, name = column.split("_", 1)
            distance = name.endswith(FROM_TARGET)
            name = name[: -len(FROM_TARGET)] if distance else name
            s = scoring(name)
            unit = "dB" if distance else s.value_unit
            text = (
                f"{variant} {name}: distance to {s.target:g} {s.value_unit}"
                if distance
                else f"{variant} {name} ({s.direction}" + (f" {s.target:g}" if s.is_target else "") + " is better)"
            )
        out.append({"column": column, "unit": unit, "description": text})
    return out
