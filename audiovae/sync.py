"""Upload offline runs, also after their `out_dir` was copied to another path or machine.

    audiovae-sync OUT_DIR [OUT_DIR ...] [--dry-run]      (or python -m audiovae.sync ...)

For every offline W&B run under each OUT_DIR (an evaluation, sweep, training or compare folder), the staged
artifact files (table audio and images, exported enhancers) are pointed at their place in the copy, then
`wandb sync` uploads the run. `--dry-run` relocates and lists the runs without uploading.
"""

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

from audiovae.errors import DataError, exit_status
from audiovae.reporting.wandb_records import relocate


def offline_runs(folder: Path) -> list[Path]:
    """Every offline run folder below `folder` (a sweep holds one per setting and one for its summary)."""
    return sorted(p.parent for p in Path(folder).rglob("offline-run-*/run-*.wandb"))


def main(argv: list[str]) -> int:
    """`audiovae-sync RUN [...]`: relocate moved offline W&B runs to their folder, then `wandb sync` them."""
    parser = argparse.ArgumentParser(prog="audiovae-sync", description=__doc__.splitlines()[0])
    parser.add_argument("out_dirs", nargs="+", type=Path)
    parser.add_argument("--dry-run", action="store_true", help="relocate and list, do not upload")
    args = parser.parse_args(argv)

    def upload() -> int:
        runs = [run for folder in args.out_dirs for run in offline_runs(folder)]
        if not runs:
            raise DataError(f"no offline W&B run under {', '.join(map(str, args.out_dirs))}")
        for run in runs:
            moved = relocate(next(run.glob("run-*.wandb")))
            print(f"{run}: {moved} staged file path(s) pointed at this copy" if moved else f"{run}: in place")
        if args.dry_run:
            return 0
        wandb_cli = shutil.which("wandb") or str(Path(sys.executable).parent / "wandb")
        return subprocess.call([wandb_cli, "sync", *map(str, runs)])

    return exit_status(upload)


def cli() -> int:
    """The `audiovae-sync` console entry point."""
    return main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
