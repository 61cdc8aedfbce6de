"""Manifests as the field writes them, read as they are (`data.manifest=PATH`):

- JSON lines (`.jsonl`, `.jsonl.gz`) or CSV / TSV with a header: `path` (relative to the manifest's folder, or
  absolute), optional `offset_s`, `duration_s` (an excerpt), `caption`, `id`; audiocraft's AudioMeta lines (`path`,
  `duration`, `sample_rate`, …: `duration` there describes the whole file and is not an excerpt) read the same;
- AudioLDM's json datafiles `{"data": [{"wav": <path>, "caption": …}]}`: `wav` relative to the dataset root that
  `data.dataset_root=metadata/dataset_root.json` gives for the dataset listing this datafile (AudioLDM-training-
  finetuning's convention), else to the datafile's folder.

An entry's identity is its `id`, else its path with `#offset+duration` when it is an excerpt, so several excerpts
of one file are several entries. A malformed line stops with one line naming the file, line and reason; a second
entry of one identity is skipped with why.

>>> entry_key({"path": "a/b.wav", "offset_s": 1.5, "duration_s": 2.0}, "a/b.wav")
'a/b.wav#1.5+2'
"""

import csv
import gzip
import io
import json
import math
import os
import zlib
from pathlib import Path
from typing import Optional

from audiovae.audio.io import SoundSource
from audiovae.data.entries import Entry
from audiovae.errors import DataError
from audiovae.paths import display_name

PATH_FIELDS = ("path", "wav")  # ours / audiocraft's, AudioLDM's
CAPTION_FIELDS = ("caption", "text", "description")


MAX_TEXT_BYTES = 256 << 20  # a manifest's text (decompressed): ~1M entries; a larger one is split into several


def _bounded_read(stream, limit: int, what: str) -> bytes:
    """At most `limit` bytes of `stream`; DataError naming `what` past it (a gzip bomb stops at the limit)."""
    raw = stream.read(limit + 1)
    if len(raw) > limit:
        raise DataError(f"{what}: more than {limit >> 20} MiB of text; split it into several manifests")
    return raw


def _text(path: Path) -> str:
    what = f"data.manifest '{display_name(path)}'"
    try:
        with open(path, "rb") as file:
            if path.suffix != ".gz":
                raw = _bounded_read(file, MAX_TEXT_BYTES, what)
            else:
                try:
                    raw = _bounded_read(gzip.GzipFile(fileobj=file), MAX_TEXT_BYTES, what)
                except (OSError, EOFError, zlib.error) as err:
                    raise DataError(f"{what}: not gzip, or truncated ({err})") from None
    except OSError as err:
        raise DataError(f"{what}: cannot be read ({err.strerror})") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise DataError(
            f"data.manifest '{display_name(path)}': not UTF-8 text ({err.reason} at byte {err.start})"
        ) from None


def _records(path: Path, text: str) -> tuple[list[tuple[str, dict]], str]:
    """(where, record) pairs in order and the format's name: `name:line` for JSON lines and CSV, `name:data[i]`
    for an AudioLDM datafile."""
    name = path.name
    stripped = text.lstrip()
    if stripped.startswith("{"):
        try:
            whole = json.loads(text)
        except json.JSONDecodeError:
            whole = None
        if isinstance(whole, dict) and "data" in whole:
            if not isinstance(whole["data"], list):
                raise DataError(f"{name}: 'data' must be a list of entries")
            for i, record in enumerate(whole["data"]):
                if not isinstance(record, dict):
                    raise DataError(f"{name}:data[{i}]: an entry must be a JSON object, got {type(record).__name__}")
            return [(f"{name}:data[{i}]", r) for i, r in enumerate(whole["data"])], "audioldm"
    if path.suffix in (".csv", ".tsv") or path.name.endswith((".csv.gz", ".tsv.gz")):
        dialect = "excel-tab" if ".tsv" in path.name else "excel"
        reader = csv.DictReader(io.StringIO(text), dialect=dialect)
        if not reader.fieldnames or not set(PATH_FIELDS) & set(reader.fieldnames):
            raise DataError(f"{name}: the header needs a 'path' column (has {reader.fieldnames})")
        return [(f"{name}:{reader.line_num}", row) for row in reader], "csv"
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise DataError(f"{name}:{number}: not JSON ({err.msg})") from None
        if not isinstance(record, dict):
            raise DataError(f"{name}:{number}: an entry must be a JSON object")
        out.append((f"{name}:{number}", record))
    return out, "jsonl"


def _seconds(record: dict, name: str, where: str) -> Optional[float]:
    value = record.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, bool):  # JSON true is not 1 s
        raise DataError(f"{where}: '{name}' must be a number of seconds, got {json.dumps(value)}")
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise DataError(f"{where}: '{name}' must be a number of seconds, got {value!r}") from None
    if not math.isfinite(seconds) or seconds < 0 or (name == "duration_s" and seconds == 0):
        raise DataError(f"{where}: '{name}' must be {'positive' if name == 'duration_s' else '>= 0'}, got {value!r}")
    return seconds


def entry_key(record: dict, path: str) -> str:
    """The entry's identity: `id`, else `path` with `#offset+duration` for an excerpt (`+end` when it runs to the
    end of the file)."""
    if record.get("id") not in (None, ""):
        return str(record["id"])
    offset, duration = record.get("offset_s") or 0, record.get("duration_s")
    if not offset and duration in (None, ""):
        return path
    return f"{path}#{float(offset):g}+{'end' if duration in (None, '') else f'{float(duration):g}'}"


def dataset_root(datafile: Path, root_file: str) -> Path:
    """The root of AudioLDM's dataset that lists `datafile` in `root_file` (`{"<name>": "<root>", "metadata":
    {"path": {"<name>": {"train": <datafile>, …}}}}`); relative roots are taken from the working folder, as
    AudioLDM-training-finetuning runs from its repository root."""
    what = f"data.dataset_root '{root_file}'"
    if not Path(root_file).is_file():  # a FIFO or a device would block or never end
        raise DataError(f"{what}: not a file")
    try:
        with open(root_file, "rb") as file:
            spec = json.loads(_bounded_read(file, MAX_TEXT_BYTES, what))
    except (OSError, ValueError) as err:
        raise DataError(f"{what}: cannot be read as JSON ({err})") from None
    if not isinstance(spec, dict):
        raise DataError(f"{what}: must be a JSON object of dataset roots, got {type(spec).__name__}")
    names = [k for k in spec if k != "metadata"]
    listed = spec.get("metadata") or {}
    listed = listed.get("path") if isinstance(listed, dict) else None
    if not isinstance(listed, (dict, type(None))) or not all(
        isinstance(v, (dict, type(None))) for v in (listed or {}).values()
    ):
        raise DataError(f"{what}: 'metadata.path' must map each dataset to its datafiles ({{\"train\": ...}})")
    listed = listed or {}
    matching = [n for n in names if any(Path(str(p)).name == datafile.name for p in dict(listed.get(n) or {}).values())]
    chosen = matching or (names if len(names) == 1 else [])
    if len(chosen) != 1:
        raise DataError(
            f"data.dataset_root '{root_file}': cannot tell which dataset lists {datafile.name} "
            f"(datasets {names}; metadata.path should name it)"
        )
    if not isinstance(spec[chosen[0]], str):
        raise DataError(f"{what}: the root of '{chosen[0]}' must be a path, got {json.dumps(spec[chosen[0]])}")
    return Path(os.path.expanduser(spec[chosen[0]]))


def read_manifest(manifest: str, root_file: Optional[str] = None) -> tuple[list[Entry], list[tuple[str, str]]]:
    """(the manifest's entries in order, the skipped ones with why); DataError (one line) for a manifest that cannot
    be read or an entry without a path or with a bad offset."""
    path = Path(manifest).expanduser()
    if not path.is_file():
        raise DataError(f"data.manifest '{manifest}' is not a file")
    records, kind = _records(path, _text(path))
    if not records:
        raise DataError(f"data.manifest '{manifest}' lists no entries")
    base = path.parent
    if kind == "audioldm" and root_file:
        base = dataset_root(path, root_file)
    entries, skipped, seen = [], [], {}
    for where, record in records:
        given = next((record[f] for f in PATH_FIELDS if record.get(f) not in (None, "")), None)
        if given is None:
            raise DataError(f"{where}: no audio path (a 'path' or 'wav' field)")
        offset, duration = _seconds(record, "offset_s", where), _seconds(record, "duration_s", where)
        key = entry_key(record, str(given))
        if key in seen:
            skipped.append((where, f"the same entry as {seen[key]} ({key})"))
            continue
        seen[key] = where
        file = Path(os.path.expanduser(str(given)))
        file = file if file.is_absolute() else base / file
        caption = next((str(record[f]) for f in CAPTION_FIELDS if record.get(f) not in (None, "")), "")
        sound = SoundSource(key, str(file), offset_s=offset or 0.0, duration_s=duration)
        entries.append(Entry(key, sound, origin=where, caption=caption))
    return entries, skipped


def write_manifest(entries: list[Entry], out: Path, relative_to: Optional[Path] = None) -> int:
    """Write `entries` as JSON lines (`path` relative to the manifest's folder when under it, `id`, `caption`,
    offsets): the format `read_manifest` reads. Returns the number of lines."""
    folder = (relative_to or out.parent).resolve()
    lines = []
    for e in entries:
        sound = e.sound if isinstance(e.sound, SoundSource) else SoundSource(e.key, str(e.sound))
        file = Path(sound.path).resolve()
        try:
            shown = file.relative_to(folder).as_posix()
        except ValueError:
            shown = str(file)
        record = {"path": shown, "id": e.key}
        if sound.offset_s:
            record["offset_s"] = sound.offset_s
        if sound.duration_s is not None:
            record["duration_s"] = sound.duration_s
        if e.caption:
            record["caption"] = e.caption
        lines.append(json.dumps(record, ensure_ascii=False))
    out.write_text("".join(line + "\n" for line in lines))
    return len(lines)
