"""`python -m tests.fuzz_table`: run the fuzz suite (`tests/test_fuzz.py`, fast and slow variants) counting every
case's outcome, and rewrite the "Bad input and faults" table of docs/faults.md from those counts (between the
`<!-- fuzz-table -->` markers)."""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "faults.md"  # the page holding the table
START, END = "<!-- fuzz-table -->", "<!-- /fuzz-table -->"
COLUMNS = ("tried", "handled", "clear error", "silently wrong", "crashed", "overwritten", "hung", "memory")
HEADER = (
    "| fuzzed (`tests/test_fuzz.py`) | tried | handled | clear error | silently wrong | crashed | "
    "user files overwritten | hung | memory over bound |"
)


def render_table(counts: dict, kinds: dict) -> str:
    """The markdown table: one row per kind of fuzzed input, then their total."""
    lines = [HEADER, "|" + "---|" * (len(COLUMNS) + 1)]
    total = {c: 0 for c in COLUMNS}
    for kind, title in kinds.items():
        row = counts.get(kind, {})
        lines.append(f"| {title} | " + " | ".join(str(row.get(c, 0)) for c in COLUMNS) + " |")
        for c in COLUMNS:
            total[c] += row.get(c, 0)
    lines.append("| **all** | " + " | ".join(f"**{total[c]}**" for c in COLUMNS) + " |")
    return "\n".join(lines)


def table_in(text: str) -> str:
    """The table between the markers of `text`."""
    return text.split(START, 1)[1].split(END, 1)[0].strip()


def main() -> int:
    from tests.test_fuzz import KINDS

    with tempfile.TemporaryDirectory() as tmp:
        counts_file = Path(tmp) / "counts.json"
        env = {**os.environ, "AUDIOVAE_FUZZ_COUNTS": str(counts_file), "WANDB_MODE": "offline"}
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                "tests/test_fuzz.py",
                "-k",
                "not faults_pages_table",
            ],
            cwd=ROOT,
            env=env,
        )
        if done.returncode != 0:
            print("the fuzz suite failed: the table is left as it is", file=sys.stderr)
            return done.returncode
        counts = json.loads(counts_file.read_text())
    table = render_table(counts, KINDS)
    text = PAGE.read_text()
    PAGE.write_text(text.split(START, 1)[0] + START + "\n" + table + "\n" + END + text.split(END, 1)[1])
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
