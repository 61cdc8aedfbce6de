"""The append-only store of finished files that makes evaluation resumable (one JSON-lines file per rank), and
the content fingerprints that decide which stored rows still hold."""

import json
from dataclasses import asdict
from pathlib import Path
from typing import Sequence

from audiovae.reporting.records import FileResult


class ResultStore:
    """Finished files, one JSON line each, appended and flushed as each file finishes (one file per rank)."""

    def __init__(self, folder: Path, rank: int = 0, record: type = FileResult):
        self.folder, self.record = folder, record  # record: FileResult or a subclass (a generated item's row)
        self.path = folder / f"rows.rank{rank}.jsonl"

    def append(self, result: FileResult) -> None:
        """Append one file's result as a json line, flushed (what resume reads back)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a") as f:
            f.write(json.dumps(asdict(result)) + "\n")
            f.flush()

    def load_all(self, fingerprints: dict[str, str] | None = None) -> dict[str, FileResult]:
        """Every finished file of every rank, by file key; of several rows of one file, the last whose fingerprint
        matches `fingerprints` (its current content) if any, else the last. A torn or unreadable line (a run
        killed mid-write) is skipped and the rank's file rewritten without it, so the next append starts on a line
        of its own."""
        done = {}
        for path in sorted(self.folder.glob("rows.rank*.jsonl")):
            text = path.read_text(errors="replace")
            good = []
            for line in text.splitlines():
                try:
                    result = self.record(**json.loads(line))
                except (json.JSONDecodeError, TypeError):
                    continue
                current = (fingerprints or {}).get(result.file)
                kept = done.get(result.file)
                if kept is None or current is None or result.fingerprint == current or kept.fingerprint != current:
                    done[result.file] = result
                good.append(line)
            if len(good) != len(text.splitlines()) or (text and not text.endswith("\n")):
                path.write_text("".join(line + "\n" for line in good))
        return done


def still_valid(
    done: dict[str, FileResult], fingerprints: dict[str, str]
) -> tuple[dict[str, FileResult], list[str], list[str]]:
    """(the stored rows that still hold, files no longer in the input, files whose content changed)."""
    removed = sorted(key for key in done if key not in fingerprints)
    changed = sorted(key for key, r in done.items() if key in fingerprints and r.fingerprint != fingerprints[key])
    return {k: r for k, r in done.items() if k in fingerprints and k not in changed}, removed, changed


def resume_note(setting: str, removed: Sequence[str], changed: Sequence[str]) -> str:
    """One line saying which stored rows a resumed run drops ("" when none)."""
    parts = []
    if removed:
        parts.append(
            f"{len(removed)} file(s) no longer in the input dropped ({', '.join(removed[:5])}"
            f"{', …' if len(removed) > 5 else ''})"
        )
    if changed:
        parts.append(
            f"{len(changed)} changed file(s) evaluated again ({', '.join(changed[:5])}"
            f"{', …' if len(changed) > 5 else ''})"
        )
    return f"resume{' of ' + setting if setting else ''}: " + "; ".join(parts) if parts else ""
