"""The append-only store of finished files that makes evaluation resumable (one JSON-lines file per rank)."""
import json
from dataclasses import asdict
from pathlib import Path

from audiovae.reporting.records import FileResult


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
