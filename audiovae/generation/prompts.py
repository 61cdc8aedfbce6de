"""The prompts of a generation run (`prompts=FILE`) and its items, one per (prompt, seed).

Formats, by extension: `.txt` one prompt a line (blank lines and lines starting with `#` skipped); `.jsonl` one
object a line and `.csv` / `.tsv` a header row, each with a `prompt` or `caption` field (a data manifest with
captions is such a file), optionally `id` (default p000, p001, ...) and `audio`: the prompt's reference recording
(relative to the prompts file's folder), which kl_softmax compares with.

>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "p.txt"; _ = path.write_text("a dog barks\\n\\n# note\\nrain\\n")
>>> [(p.id, p.text) for p in read_prompts(path)]
[('p000', 'a dog barks'), ('p001', 'rain')]
>>> [i.key for i in plan_items(read_prompts(path), [0, 1])][:3]
['p000_s0', 'p000_s1', 'p001_s0']
"""

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

from audiovae.errors import ConfigError

TEXT_FIELDS = ("prompt", "caption")
FORMATS = (".txt", ".jsonl", ".csv", ".tsv")


@dataclass(frozen=True)
class Prompt:
    """One prompt: its id, text and (optional) reference recording."""

    id: str
    text: str
    audio: Optional[str] = None  # the reference recording's path, resolved


@dataclass(frozen=True)
class Item:
    """One diffusion: a prompt and a seed; `key` names its row and outputs."""

    prompt: Prompt
    seed: int

    @property
    def key(self) -> str:
        """`<prompt id>_s<seed>`: the item's name in rows and files."""
        return f"{self.prompt.id}_s{self.seed}"


def _fail(path: Path, where: str, reason: str, key: str = "prompts") -> ConfigError:
    return ConfigError(f"config key '{key}': {path}{where}: {reason}")


MAX_PROMPT_FILE_BYTES = 64 << 20  # a prompts or reference file is text: ~500k prompts


def _text(path: Path, key: str) -> str:
    """The file's text (a leading UTF-8 byte-order mark dropped); a folder, FIFO or device is refused unread (a FIFO
    would block), and so is a file over MAX_PROMPT_FILE_BYTES."""
    if not path.is_file():
        reason = "does not exist" if not path.exists() else "not a regular file (a folder, FIFO or device)"
        raise _fail(path, "", reason, key)
    if path.stat().st_size > MAX_PROMPT_FILE_BYTES:
        raise _fail(path, "", f"{path.stat().st_size} bytes, over the {MAX_PROMPT_FILE_BYTES >> 20} MiB of text", key)
    try:
        return path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise _fail(path, "", getattr(err, "strerror", None) or str(err), key) from None


def _records(path: Path, text: str, key: str) -> tuple[list[tuple[str, object]], Optional[list[str]]]:
    """The records of a `.jsonl` (one JSON value a line, blank lines skipped) or `.csv` / `.tsv` file, each with
    where it is (" line N"), and the columns of a table (None for jsonl); a line that is not JSON is a ConfigError
    naming it."""
    if path.suffix.lower() == ".jsonl":
        records = []
        for number, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    records.append((f" line {number}", json.loads(line)))
                except json.JSONDecodeError as err:
                    raise _fail(path, f" line {number}", f"not JSON ({err.msg})", key) from None
        return records, None
    reader = csv.DictReader(text.splitlines(), delimiter="\t" if path.suffix.lower() == ".tsv" else ",")
    return [(f" line {number}", record) for number, record in enumerate(reader, 2)], list(reader.fieldnames or [])


def _from_record(path: Path, where: str, record: dict, index: int) -> Prompt:
    text = next((record[f] for f in TEXT_FIELDS if record.get(f) not in (None, "")), None)
    if not isinstance(text, str) or not text.strip():
        raise _fail(path, where, f"no {' or '.join(TEXT_FIELDS)} text")
    audio = record.get("audio") or None
    if audio is not None:
        audio = str((path.parent / str(audio)).expanduser())
    return Prompt(str(record.get("id") or f"p{index:03d}"), text.strip(), audio)


def read_prompts(path) -> list[Prompt]:
    """The prompts of `path` in file order; ConfigError (one line naming the file and line) for a missing or
    unreadable file, an unknown format, a record without text or a repeated id."""
    path = Path(str(path)).expanduser()
    if path.suffix.lower() not in FORMATS:
        raise _fail(path, "", f"unknown format; use one of {', '.join(FORMATS)}")
    text, prompts = _text(path, "prompts"), []
    if path.suffix.lower() == ".txt":
        lines = [line.strip() for line in text.splitlines()]
        prompts = [Prompt(f"p{i:03d}", line) for i, line in enumerate(t for t in lines if t and not t.startswith("#"))]
    else:
        records, columns = _records(path, text, "prompts")
        if columns is not None and not set(TEXT_FIELDS) & set(columns):
            raise _fail(path, " header", f"no {' or '.join(TEXT_FIELDS)} column (columns: {columns})")
        for where, record in records:
            if not isinstance(record, dict):
                raise _fail(path, where, "not a JSON object")
            prompts.append(_from_record(path, where, record, len(prompts)))
    if not prompts:
        raise _fail(path, "", "no prompts")
    seen = set()
    for p in prompts:
        if p.id in seen:
            raise _fail(path, "", f"id '{p.id}' appears twice")
        seen.add(p.id)
    return prompts


def read_reference_manifest(path) -> list[str]:
    """The recordings a manifest lists (`.jsonl` / `.csv` / `.tsv` records with an `audio` field, relative to the
    manifest; records without one are skipped): fad's reference set (`reference=FILE`)."""
    path = Path(str(path)).expanduser()
    if path.suffix.lower() not in FORMATS[1:]:
        raise ConfigError(
            f"config key 'reference': {path}: a folder or a .jsonl / .csv / .tsv manifest with an audio column"
        )
    records, _ = _records(path, _text(path, "reference"), "reference")
    return [str(path.parent / str(r["audio"])) for _, r in records if isinstance(r, dict) and r.get("audio")]


def plan_items(prompts: Sequence[Prompt], seeds: Sequence[int]) -> list[Item]:
    """Every (prompt, seed), prompts in file order, seeds in the given order."""
    if not seeds:
        raise ConfigError("config key 'seeds': give at least one seed, e.g. seeds=[0,1]")
    if len(set(seeds)) < len(seeds):
        raise ConfigError(f"config key 'seeds': {list(seeds)} repeats a seed")
    return [Item(p, int(s)) for p in prompts for s in seeds]
