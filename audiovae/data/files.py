"""Find the audio files a run works on."""
from pathlib import Path
from typing import Optional, Sequence

from audiovae.errors import DataError


def find_audio_files(directory: Optional[str], patterns: Sequence[str],
                     files: Optional[Sequence[str]] = None) -> list[Path]:
    """The explicit `files` list if given, else every file under `directory` (recursive) matching `patterns`,
    sorted by path so that runs and ranks agree on the order."""
    if files:
        return [Path(f) for f in files]
    if not directory:
        raise DataError("no input: set data.dir=PATH (a folder of audio) or data.files=[a.wav,b.wav]")
    root = Path(directory).expanduser()
    if not root.is_dir():
        raise DataError(f"data.dir '{directory}' is not a folder")
    found = sorted({p for pattern in patterns for p in root.rglob(pattern) if p.is_file()})
    if not found:
        raise DataError(f"no files matching {list(patterns)} under data.dir '{directory}'")
    return found


def file_key(path: Path, root: Optional[str]) -> str:
    """A stable name for outputs: the path relative to data.dir (or as given), '/' kept."""
    if root:
        try:
            return Path(path).resolve().relative_to(Path(root).expanduser().resolve()).as_posix()
        except ValueError:
            pass
    return Path(path).as_posix()


def output_stem(key: str) -> str:
    """A flat, unique file stem for a file key: 'a/b/c.wav' -> 'a__b__c'."""
    return str(Path(key).with_suffix("")).replace("/", "__").lstrip(".")
