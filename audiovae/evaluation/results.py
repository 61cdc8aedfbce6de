"""Per-file results: the record, its flat CSV row, and the append-only store that makes runs resumable."""
import csv
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

from audiovae.metrics.base import ABSOLUTE
from audiovae.metrics.collection import metric_info

VARIANTS = ("vocoder", "base", "enhanced")
OK, ERROR = "ok", "error"


@dataclass
class FileResult:
    index: int
    file: str
    status: str
    error: str = ""
    notes: str = ""  # why a metric value is NaN, e.g. "base/hf_retention: reference has no content above the cutoff"
    duration_s: float = float("nan")
    evaluated_s: float = float("nan")
    sample_rate_in: int = 0
    channels_in: int = 0
    seconds: dict = field(default_factory=dict)  # stage -> seconds for this file
    metrics: dict = field(default_factory=dict)  # variant -> metric -> value


def file_delta(name: str, base: float, enhanced: float) -> float:
    """Per-file Δ: enhanced − base for dB-valued metrics, percent change for ratio-valued ones."""
    if metric_info(name).delta_kind == ABSOLUTE:
        return enhanced - base
    return 100.0 * (enhanced - base) / abs(base) if base != 0 else float("nan")


def to_row(result: FileResult, metric_names: Sequence[str]) -> dict:
    """The results.csv row: file, status, error, notes, durations, time_*, and vocoder_m/base_m/enhanced_m/delta_m."""
    row = {"file": result.file, "status": result.status, "error": result.error, "notes": result.notes,
           "duration_s": result.duration_s, "evaluated_s": result.evaluated_s,
           "sample_rate_in": result.sample_rate_in, "channels_in": result.channels_in}
    for stage, seconds in result.seconds.items():
        row[f"time_{stage}"] = seconds
    for name in metric_names:
        for variant in VARIANTS:
            if metric_info(name).domain == "waveform" or variant != "vocoder":
                row[f"{variant}_{name}"] = result.metrics.get(variant, {}).get(name, float("nan"))
        base, enhanced = row[f"base_{name}"], row[f"enhanced_{name}"]
        row[f"delta_{name}"] = file_delta(name, base, enhanced) if result.status == OK else float("nan")
    return row


def write_csv(path: Path, rows: list[dict]) -> None:
    columns = list(dict.fromkeys(k for row in rows for k in row))
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()})


def read_csv(path: Path) -> list[dict]:
    """results.csv back as dicts with numbers parsed (empty cells -> NaN)."""
    def parse(value: str):
        if value == "":
            return float("nan")
        try:
            return float(value)
        except ValueError:
            return value
    with open(path, newline="") as f:
        return [{k: (parse(v) if k not in ("file", "status", "error", "notes") else v) for k, v in row.items()}
                for row in csv.DictReader(f)]


class ResultStore:
    """Finished files, one JSON line each, appended and flushed as they finish (one file per rank)."""

    def __init__(self, folder: Path, rank: int = 0):
        self.folder = folder
        self.path = folder / f"rows.rank{rank}.jsonl"

    def append(self, result: FileResult) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a") as f:
            f.write(json.dumps(asdict(result)) + "\n")
            f.flush()

    def load_all(self) -> dict[str, FileResult]:
        """Every finished file of every rank, by file key (a half-written last line is ignored)."""
        done = {}
        for path in sorted(self.folder.glob("rows.rank*.jsonl")):
            for line in path.read_text().splitlines():
                try:
                    result = FileResult(**json.loads(line))
                except (json.JSONDecodeError, TypeError):
                    continue
                done[result.file] = result
        return done
