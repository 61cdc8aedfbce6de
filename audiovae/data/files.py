"""Find the audio files a run works on, name them, and give each a unique name for its outputs.

Any name the file system holds works: names that are not UTF-8 are shown with `\\xNN` escapes (`display_name`) and
opened by their bytes (`open_name`); output names longer than `MAX_STEM_BYTES` are shortened with a hash of the
whole name, so that `<stem>.reference.wav` fits the 255-byte limit of file names.

>>> output_stems(["a/b.wav", "a__b.wav", "same.wav", "same.flac", ".hidden.wav"])["a/b.wav"] != \
output_stems(["a/b.wav", "a__b.wav"])["a__b.wav"]
True
>>> output_stems(["sub/chirp.flac", ".hidden.wav"])
{'sub/chirp.flac': 'sub__chirp.flac', '.hidden.wav': '_.hidden.wav'}
"""

import fnmatch
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

from audiovae.errors import DataError
from audiovae.paths import display_name, not_regular

RUN_MARKERS = (".audiovae-run", "run_hash.txt")  # a folder holding one is an audiovae run folder, never an input
MAX_STEM_BYTES = 200  # an output stem, in UTF-8 bytes: room for ".reference.wav" and a temporary suffix in 255


@dataclass
class Discovery:
    """The files a run evaluates, and the entries it skipped with why."""

    paths: list[Path]
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)

    def line(self) -> str:
        """`found 18 audio files; skipped 2: notes.txt (not matched by data.patterns), …`."""
        text = f"found {len(self.paths)} audio file{'s' if len(self.paths) != 1 else ''}"
        if self.skipped:
            shown = ", ".join(f"{p} ({why})" for p, why in self.skipped[:5])
            text += f"; skipped {len(self.skipped)}: {shown}" + (", …" if len(self.skipped) > 5 else "")
        return text


def _matches(name: str, patterns: Sequence[str]) -> bool:
    """Case-insensitive: `UPPER.WAV` matches `*.wav`."""
    return any(fnmatch.fnmatch(name.lower(), pattern.lower()) for pattern in patterns)


def is_run_folder(folder: Path) -> bool:
    """Whether `folder` is an audiovae run folder (it holds a run marker): never read as input."""
    try:
        return any((folder / marker).exists() for marker in RUN_MARKERS)
    except OSError:  # an unreadable folder: listed as skipped by the walk
        return False


def discover_audio_files(
    directory: Optional[str], patterns: Sequence[str], files: Optional[Sequence[str]] = None
) -> Discovery:
    """The explicit `files` list if given (each once, in order; a missing one stays, to be reported as an error
    row), else every file under `directory` (recursive) whose name matches `patterns` case-insensitively, sorted by
    path so that runs and ranks agree on the order. Broken links, files the patterns do not match, entries that are
    not regular files (FIFOs, devices, sockets: never opened), unreadable folders and anything inside an audiovae
    run folder are skipped and listed."""
    if files:
        seen, paths, skipped = set(), [], []
        for f in files:
            key = str(Path(f).expanduser().absolute())
            if key in seen:
                skipped.append((str(f), "listed twice in data.files"))
                continue
            seen.add(key)
            paths.append(Path(f).expanduser())
        return Discovery(paths, skipped)
    if not directory:
        raise DataError("no input: set data.dir=PATH (a folder of audio) or data.files=[a.wav,b.wav]")
    if not patterns:
        raise DataError("config key 'data.patterns': name at least one file name pattern, e.g. ['*.wav']")
    root = Path(directory).expanduser()
    if not root.is_dir():
        raise DataError(f"data.dir '{directory}' is not a folder")
    if is_run_folder(root):
        raise DataError(f"data.dir '{directory}' is an audiovae run folder (its outputs are not inputs)")
    paths, skipped = [], []

    def unreadable(err: OSError) -> None:
        skipped.append(
            (display_name(Path(err.filename).relative_to(root).as_posix()) + "/", f"unreadable folder ({err.strerror})")
        )

    visited = set()  # real paths of the folders walked: a link back up is not followed twice
    top = os.path.realpath(root)
    for folder, dirs, names in os.walk(root, onerror=unreadable, followlinks=True):
        here = Path(folder)
        visited.add(os.path.realpath(here))
        kept = []
        for d in sorted(dirs):
            shown = display_name((here / d).relative_to(root).as_posix()) + "/"
            why = _not_walked(here / d, top, visited)
            if why:
                skipped.append((shown, why))
            elif why is None:
                kept.append(d)
        dirs[:] = kept
        for name in names:
            p = here / name
            relative = display_name(p.relative_to(root).as_posix())
            try:
                p.exists()
            except OSError as err:
                skipped.append((relative, f"unreadable ({err.strerror})"))
                continue
            if p.is_symlink() and not p.exists():
                skipped.append((relative, "broken link"))
            elif not _matches(display_name(name), patterns):
                skipped.append((relative, "not matched by data.patterns"))
            elif kind := not_regular(p):
                skipped.append((relative, f"not a regular file ({kind})"))
            else:
                paths.append(p)
    paths.sort()
    skipped.sort()
    if not paths:
        raise DataError(
            f"config key 'data.dir': no files matching {list(patterns)} under '{directory}'"
            + (f" ({len(skipped)} other entries skipped)" if skipped else "")
        )
    return Discovery(paths, skipped)


SYSTEM_FOLDERS = ("/proc", "/sys", "/dev")  # pseudo file systems: never audio, endless or unreadable to walk


def _not_walked(folder: Path, top: str, visited: set) -> Optional[str]:
    """Why a sub-folder is not walked (listed as skipped), "" to pass over it silently (walked already), None to walk
    it: an audiovae run folder, a link to a folder above data.dir or into /proc, /sys, /dev, an unreadable one."""
    try:
        real = os.path.realpath(folder)
        if is_run_folder(folder):
            return "an audiovae run folder"
    except OSError as err:
        return f"unreadable folder ({err.strerror})"
    if real in visited:
        return ""
    if folder.is_symlink() and (top == real or top.startswith(real.rstrip(os.sep) + os.sep)):
        return f"a link to {display_name(real)}, a folder above data.dir: not followed"
    if any(real == s or real.startswith(s + os.sep) for s in SYSTEM_FOLDERS):
        return f"a link into {display_name(real)}: not followed"
    return None


def file_key(path: Path, root: Optional[str]) -> str:
    """A stable name for outputs: the path relative to data.dir (or as given), '/' kept."""
    if root:
        try:
            return display_name(Path(path).resolve().relative_to(Path(root).expanduser().resolve()).as_posix())
        except ValueError:
            pass
    return display_name(Path(path).as_posix())


def output_stem(key: str) -> str:
    """A flat file name for a file key, extension kept: 'a/b/c.wav' -> 'a__b__c.wav', '.x.wav' -> '_.x.wav'; past
    MAX_STEM_BYTES, its start cut at a character boundary and `-<8 hex of sha1(key)>` added before the extension.

    >>> len(output_stem("d/" + "é" * 300 + ".wav").encode()) <= MAX_STEM_BYTES
    True
    """
    stem = key.replace("/", "__")
    stem = "_" + stem if stem.startswith(".") else stem
    if len(stem.encode()) <= MAX_STEM_BYTES:
        return stem
    base, dot, extension = stem.rpartition(".")
    extension = "." + extension if dot and len(extension.encode()) <= 16 else ""
    base = stem[: len(stem) - len(extension)] if extension else stem
    tag = "-" + hashlib.sha1(key.encode(errors="backslashreplace")).hexdigest()[:8]
    room = MAX_STEM_BYTES - len(tag.encode()) - len(extension.encode())
    return base.encode()[:room].decode(errors="ignore") + tag + extension


def output_stems(keys: Sequence[str]) -> dict[str, str]:
    """A unique output name per file key: `output_stem`, and where two keys would share one (also differing only in
    case, for case-insensitive file systems) each of them gets `-<6 hex of sha1(key)>` appended."""
    plain = {key: output_stem(key) for key in keys}
    counts: dict[str, int] = {}
    for stem in plain.values():
        counts[stem.lower()] = counts.get(stem.lower(), 0) + 1
    return {
        key: stem if counts[stem.lower()] == 1 else f"{stem}-{hashlib.sha1(key.encode()).hexdigest()[:6]}"
        for key, stem in plain.items()
    }


def file_fingerprint(path: Path) -> str:
    """sha256 of the file's bytes (first 16 hex digits); "" when it cannot be read or is not a regular file (a FIFO
    or a device is never opened)."""
    digest = hashlib.sha256()
    if not_regular(path):
        return ""
    try:
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
    except OSError:
        return ""
    return digest.hexdigest()[:16]
