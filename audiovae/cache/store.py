"""A content-addressed store of the enhancer-independent work of evaluated files, shared by every run on this
machine (`cache.dir`, default `$AUDIOVAE_CACHE_DIR` or `$AUDIOVAE_HOME/cache`).

The store owns only what it wrote. Its folder carries a marker (`.audiovae-cache`) and a manifest
(`manifest.txt`, one entry key a line, appended under a lock when an entry folder is created); `clear` and
eviction remove only the manifest's entries, and in them only the file names the store writes, so nothing else in
the folder is ever touched. A folder that holds other things and no marker is refused (`NotACacheError`); an empty
or new one is claimed, and a store of the older layout (only `<2 hex>/<64 hex>/` entry folders) is adopted.

One entry per (file content, everything that decides its model outputs) = a folder `<key[:2]>/<key>/`:
`seg<i>.pt` per segment (its latent, reference and base log-mels, vocoder-ceiling and base waveforms), and
`entry.json`, written last: `{"key", "meta": {segment count, each segment file's sha256, per metric definition key
the file's shared metric values}, "sha256": sha256 of the canonical JSON of meta}`. Every file is written to a
temporary name and renamed (atomic on POSIX), so concurrent runs and DDP ranks never see half a file. An entry is
verified whole when read: `entry.json` against its own digest and key, each segment against its recorded sha256; a
missing, unfinished or damaged entry is a miss and is written again.

Reads refresh the folder's time; when the store exceeds `max_gb`, the least recently used entries are removed. The
store's size is measured by one walk of its entries, then kept up to date with what this process writes.

A write that fails (disk full, a read-only folder) is said once on stderr and the run goes on without writing to
the cache (`CacheStore.broken` holds the reason).
"""

import fcntl
import hashlib
import json
import os
import re
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from audiovae.errors import AudiovaeError, ConfigError
from audiovae.home import audiovae_home

ENTRY = "entry.json"
MARKER = ".audiovae-cache"
MANIFEST = "manifest.txt"
KEY = re.compile(r"[0-9a-f]{64}")
PREFIX = re.compile(r"[0-9a-f]{2}")
ENTRY_FILE = re.compile(r"seg\d+\.pt|entry\.json|\..+\.\d+\.[0-9a-f]{8}\.tmp")  # what the store writes in an entry


class NotACacheError(AudiovaeError, ValueError):
    """A cache folder that holds files the store did not write (and no `.audiovae-cache` marker)."""


def default_cache_dir() -> Path:
    """`$AUDIOVAE_CACHE_DIR`, else `$AUDIOVAE_HOME/cache` (default `~/.cache/audiovae/cache`)."""
    return Path(os.environ.get("AUDIOVAE_CACHE_DIR") or audiovae_home() / "cache").expanduser()


def check_cache(cache) -> None:
    """At a job's start-up, before anything is written: with a `cache` section that is enabled, a `cache.dir` (None:
    the default folder) that is not a cache is refused with one line naming the key."""
    if not cache.enabled:
        return
    try:
        CacheStore(cache.dir, cache.max_gb).check()
    except NotACacheError as err:
        raise ConfigError(f"config key 'cache.dir': {err}") from None


def _sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def _entry_files(folder: Path) -> list[Path]:
    """The files of an entry folder that the store writes (OSError when the folder cannot be listed)."""
    return [f for f in folder.iterdir() if ENTRY_FILE.fullmatch(f.name)]


def _keys(manifest_text: str) -> list[str]:
    """The entry keys a manifest lists, each once, in order."""
    return list(dict.fromkeys(k for k in manifest_text.split() if KEY.fullmatch(k)))


def _meta_digest(meta: dict) -> str:
    return hashlib.sha256(json.dumps(meta, sort_keys=True).encode()).hexdigest()


def _atomic_write(path: Path, write) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


OWN_ROOT_FILE = re.compile(
    rf"{re.escape(MANIFEST)}|\.{re.escape(MARKER)}\.\d+\.[0-9a-f]{{8}}\.tmp"
)  # a claim under way


def _is_legacy_store(folder: Path) -> bool:
    """True for a folder holding only entry folders of the store's layout (`<2 hex>/<64 hex>/` with only the files the
    store writes): a store written before the marker existed, or one another process is claiming right now."""
    try:
        for prefix in folder.iterdir():
            if OWN_ROOT_FILE.fullmatch(prefix.name) and prefix.is_file():
                continue
            if not (prefix.is_dir() and not prefix.is_symlink() and PREFIX.fullmatch(prefix.name)):
                return False
            for entry in prefix.iterdir():
                if not (
                    entry.is_dir()
                    and not entry.is_symlink()
                    and KEY.fullmatch(entry.name)
                    and entry.name.startswith(prefix.name)
                ):
                    return False
                if not all(ENTRY_FILE.fullmatch(f.name) and f.is_file() for f in entry.iterdir()):
                    return False
    except OSError:
        return False
    return True


@dataclass
class CacheEntry:
    """A complete, verified entry: its folder and `entry.json`'s meta."""

    folder: Path
    meta: dict

    @property
    def segments(self) -> int:
        """How many segments the entry holds."""
        return int(self.meta["segments"])

    def segment(self, i: int) -> dict:
        """Segment `i`'s tensors (on the CPU)."""
        import torch  # here, so `python -m audiovae.cache` starts without torch

        return torch.load(self.folder / f"seg{i}.pt", map_location="cpu", weights_only=True)

    def values(self, metric_key: str) -> Optional[dict]:
        """The shared metric values stored under `metric_key` (None: not measured with these definitions)."""
        return self.meta.get("values", {}).get(metric_key)


class CacheStore:
    """The cross-run cache on disk: owned, verified entries of segment tensors and shared values, the least recently
    used evicted past `max_gb`; it never removes what it did not write."""

    def __init__(self, folder: Optional[Path] = None, max_gb: float = 20.0):
        self.folder = Path(folder).expanduser() if folder else default_cache_dir()
        self.max_bytes = int(max_gb * 1024**3)
        self._bytes: Optional[int] = None  # the store's size as of the last walk, plus this process's writes
        self._claimed = False
        self.broken: Optional[str] = None  # why writing stopped (a failed write), None while it works

    # ownership
    def is_cache(self) -> bool:
        """True when the folder carries the store's marker."""
        return (self.folder / MARKER).is_file()

    def check(self) -> None:
        """NotACacheError (one line) unless the folder is a store, absent, empty, or a store of the older layout."""
        folder = self.folder
        if self.is_cache():
            return
        if folder.exists() and not folder.is_dir():
            raise NotACacheError(f"cache folder '{folder}' is a file, not a folder: choose another cache.dir")
        if (
            folder.is_dir()
            and any(True for _ in folder.iterdir())
            and not _is_legacy_store(folder)
            and not self.is_cache()
        ):  # (a marker that landed meanwhile: another process claimed the folder)
            raise NotACacheError(
                f"'{folder}' is not an audiovae cache (no {MARKER} marker, and it holds other "
                f"files): nothing there is touched; choose an empty or new cache folder"
            )

    def claim(self) -> bool:
        """Make the folder a store (marker, manifest of any older-layout entries) before the first write; False, with
        `broken` set and one line on stderr, when it cannot be written."""
        if self._claimed:
            return self.broken is None
        self._claimed = True
        if self.is_cache():
            return True
        self.check()
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            legacy = [f"{e.name}\n" for p in sorted(self.folder.iterdir()) if p.is_dir() for e in sorted(p.iterdir())]
            if legacy:
                (self.folder / MANIFEST).write_text("".join(legacy))
            _atomic_write(self.folder / MARKER, lambda tmp: tmp.write_text(json.dumps({"audiovae_cache": 1}) + "\n"))
        except OSError as err:
            self._fail(err)
            return False
        return True

    def _fail(self, err: OSError) -> None:
        if self.broken is None:
            self.broken = err.strerror or type(err).__name__
            print(
                f"warning: the cache at {self.folder} cannot be written ({self.broken}): this run goes on without "
                f"writing to it",
                file=sys.stderr,
            )

    def _manifest_keys(self) -> list[str]:
        try:
            return _keys((self.folder / MANIFEST).read_text(errors="replace"))
        except OSError:
            return []

    def _add_to_manifest(self, key: str) -> None:
        with open(self.folder / MANIFEST, "a") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            f.write(key + "\n")

    def _folder(self, key: str) -> Path:
        return self.folder / key[:2] / key

    # reading
    def get(self, key: str) -> Optional[CacheEntry]:
        """The complete, verified entry under `key`, or None (absent, unfinished or damaged: a miss)."""
        folder = self._folder(key)
        try:
            record = json.loads((folder / ENTRY).read_text())
            meta = record["meta"]
            if record["key"] != key or record["sha256"] != _meta_digest(meta):
                return None
            digests = meta["sha256"]
            if len(digests) != meta["segments"] or any(
                _sha256(folder / f"seg{i}.pt") != digest for i, digest in enumerate(digests)
            ):
                return None
        except (OSError, ValueError, KeyError, TypeError):
            return None
        try:
            os.utime(folder)  # recently used
        except OSError:
            pass
        return CacheEntry(folder, meta)

    # writing: each returns quietly once a write has failed (`broken`)
    def put_segment(self, key: str, i: int, tensors: dict) -> Optional[str]:
        """Segment `i` of the entry under `key` (name -> tensor); returns its sha256 (None when the store cannot be
        written). The bytes depend only on the tensors (serialised in memory, not under the temporary file's name),
        so concurrent writers of one entry write identical files."""
        import io

        import torch

        if not self.claim():
            return None
        folder = self._folder(key)
        buffer = io.BytesIO()
        torch.save({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, buffer)
        data = buffer.getvalue()
        try:
            if not folder.is_dir():
                folder.mkdir(parents=True, exist_ok=True)
                self._add_to_manifest(key)
            _atomic_write(folder / f"seg{i}.pt", lambda tmp: tmp.write_bytes(data))
        except OSError as err:
            self._fail(err)
            return None
        self._count(len(data))
        return hashlib.sha256(data).hexdigest()

    def _write_entry(self, key: str, meta: dict) -> int:
        text = json.dumps({"key": key, "meta": meta, "sha256": _meta_digest(meta)})
        _atomic_write(self._folder(key) / ENTRY, lambda tmp: tmp.write_text(text))
        return len(text)

    def finish(self, key: str, digests: list[Optional[str]], values: dict) -> None:
        """Complete the entry: its segments' sha256 and `{metric key: shared values}`; then keep the store in
        size. Nothing is written when a segment could not be (a None digest)."""
        if any(d is None for d in digests) or not self.claim():  # (claim() is False once a write has failed)
            return
        meta = {"segments": len(digests), "sha256": digests, "values": values, "written": time.time()}
        try:
            self._count(self._write_entry(key, meta))
            if self._bytes > self.max_bytes:
                self.evict()
        except OSError as err:
            self._fail(err)

    def add_values(self, entry: CacheEntry, metric_key: str, values: dict) -> None:
        """Shared metric values for another metric definition, added to an existing entry."""
        if self.broken is not None:
            return
        meta = {**entry.meta, "values": {**entry.meta.get("values", {}), metric_key: values}}
        try:
            self._write_entry(entry.folder.name, meta)
        except OSError as err:
            self._fail(err)
            return
        entry.meta = meta

    def _count(self, written: int) -> None:
        if self._bytes is None:
            self._bytes = sum(size for _, size, _ in self.entries())  # the walk includes what was just written
        else:
            self._bytes += written

    # removing: only the manifest's entries, and in them only the store's own file names
    def _remove(self, folder: Path) -> None:
        try:
            for f in _entry_files(folder):
                if f.is_file() and not f.is_symlink():
                    f.unlink(missing_ok=True)
            folder.rmdir()  # fails, and so keeps it, if anything else is inside
            folder.parent.rmdir()  # the prefix folder, when it is empty now
        except OSError:
            pass

    def discard(self, key: str) -> None:
        """Remove the entry under `key` (unfinished or damaged), if the store wrote it."""
        if self.is_cache() and key in self._manifest_keys():
            self._remove(self._folder(key))

    def entries(self) -> list[tuple[Path, int, float]]:
        """(folder, bytes, last use) of every entry folder the store wrote, complete or not."""
        out = []
        if not self.is_cache():
            return out
        for key in self._manifest_keys():
            folder = self._folder(key)
            try:
                files = _entry_files(folder)
                if files:  # (a folder left holding only what someone else put there is no entry any more)
                    out.append((folder, sum(f.stat().st_size for f in files), folder.stat().st_mtime))
            except OSError:  # removed meanwhile by another run's eviction
                continue
        return out

    def _rewrite_manifest(self) -> None:
        """Drop the keys whose folders are gone (under the manifest's lock, so a concurrent append is kept)."""
        try:
            with open(self.folder / MANIFEST, "r+") as f:
                fcntl.flock(f, fcntl.LOCK_EX)
                keys = _keys(f.read())
                f.seek(0)
                f.truncate()
                f.write("".join(f"{k}\n" for k in keys if self._holds_entry_files(k)))
        except OSError:
            pass

    def _holds_entry_files(self, key: str) -> bool:
        try:
            return bool(_entry_files(self._folder(key)))
        except OSError:
            return False

    def evict(self) -> list[Path]:
        """Remove the least recently used entries until the store is within `max_bytes`; returns what went."""
        entries = sorted(self.entries(), key=lambda e: e[2])
        total, removed = sum(size for _, size, _ in entries), []
        for folder, size, _ in entries:
            if total <= self.max_bytes:
                break
            self._remove(folder)
            total -= size
            removed.append(folder)
        if removed:
            self._rewrite_manifest()
        self._bytes = total
        return removed

    def info(self) -> dict:
        """What `python -m audiovae.cache info` prints: the folder, complete and unfinished entries, bytes and
        max_bytes."""
        entries = self.entries()
        complete = sum(1 for folder, _, _ in entries if (folder / ENTRY).is_file())
        return {
            "dir": str(self.folder),
            "entries": complete,
            "unfinished": len(entries) - complete,
            "bytes": sum(size for _, size, _ in entries),
            "max_bytes": self.max_bytes,
        }

    def clear(self) -> int:
        """Remove every entry the store wrote; returns how many folders went. NotACacheError for a folder that is
        not a store (nothing is removed)."""
        if not self.is_cache():
            if not self.folder.exists():
                return 0
            self.check()  # a foreign folder: refused
            if not self.claim():  # an older-layout store: adopted, then cleared
                return 0
        entries = self.entries()
        for folder, _, _ in entries:
            self._remove(folder)
        self._rewrite_manifest()
        self._bytes = None
        return len(entries)
