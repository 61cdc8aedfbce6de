"""Writers that never overwrite what audiovae did not write. A folder a command writes into keeps a manifest of the
files audiovae wrote there (`.audiovae-written`, one relative path a line); a file that exists and is not listed is
refused with one line unless the command's `--force` is given. A single output file (an export) is refused when it
exists, and never written onto the command's own input, `--force` or not.

>>> import tempfile; folder = Path(tempfile.mkdtemp())
>>> claim_outputs(folder, ["a.csv"]); (folder / "a.csv").write_text("ours"); claim_outputs(folder, ["a.csv"])
4
>>> (folder / "b.csv").write_text("a user's"); claim_outputs(folder, ["b.csv"])  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
audiovae.written.OverwriteError: .../b.csv exists and was not written by audiovae: nothing was written; ...
"""

import os
from pathlib import Path
from typing import Iterable

from audiovae.errors import AudiovaeError

MANIFEST = ".audiovae-written"


class OverwriteError(AudiovaeError, ValueError):
    """An output that would replace a file audiovae did not write (or the command's own input)."""


def _listed(folder: Path) -> set[str]:
    try:
        return set((folder / MANIFEST).read_text().splitlines())
    except OSError:
        return set()


def claim_outputs(folder: Path, names: Iterable[str], force: bool = False) -> None:
    """Before a command writes `names` (paths relative to `folder`): OverwriteError for the first one that exists and
    is not in the folder's manifest (unless `force`); then the names are added to the manifest."""
    folder, names = Path(folder), list(names)
    listed = _listed(folder)
    for name in names:
        target = folder / name
        if target.is_symlink():
            raise OverwriteError(
                f"{target} is a symbolic link: audiovae never writes through one (it would replace the file it "
                f"points to); nothing was written"
            )
        if not force and name not in listed and target.exists():
            raise OverwriteError(
                f"{target} exists and was not written by audiovae: nothing was written; choose "
                f"another --out, or add --force to overwrite it"
            )
    new = [name for name in names if name not in listed]
    if new:
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / MANIFEST, "a") as f:
            f.write("".join(f"{name}\n" for name in new))


def check_single_output(out: Path, inputs: Iterable[Path], force: bool = False) -> None:
    """Before a command writes the single file `out`: OverwriteError when it is one of `inputs`, a symbolic link or a
    folder (always), or exists (unless `force`)."""
    out = Path(out)
    if out.is_symlink():
        raise OverwriteError(
            f"{out} is a symbolic link: audiovae never writes through one (it would replace the file it points to); "
            f"name another output file"
        )
    if out.is_dir():
        raise OverwriteError(f"{out} is a folder: name an output file")
    for source in inputs:
        if (
            out.exists()
            and Path(source).exists()
            and os.path.samefile(out, source)
            or Path(os.path.abspath(out)) == Path(os.path.abspath(source))
        ):
            raise OverwriteError(
                f"{out} is the input {source}: an export never replaces its input; name another output file"
            )
    if not force and (out.exists() or out.is_symlink()):
        raise OverwriteError(
            f"{out} exists: nothing was written; name another output file, or add --force to overwrite it"
        )
