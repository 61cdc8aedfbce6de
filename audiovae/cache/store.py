"""A content-addressed store of the enhancer-independent work of evaluated files, shared by every run on this
machine (`cache.dir`, default `$AUDIOVAE_CACHE_DIR` or `$AUDIOVAE_HOME/cache`).

One entry per (file content, everything that decides its model outputs) = a folder `<key[:2]>/<key>/`:
`seg<i>.pt` per segment (its latent, reference and base log-mels, vocoder-ceiling and base waveforms), and
`entry.json`, written last, with the segment count and each segment file's sha256 and, per metric definition
key, the file's shared metric values. Every file is written to a temporary name and renamed (atomic on POSIX),
so concurrent runs and DDP ranks never see half a file; an entry whose `entry.json` is missing (a writer that
died) or whose segment files do not match their recorded sha256 (damaged) is a miss and is written again. Reads
refresh the folder's time; when the store exceeds `max_gb`, the least recently used entries are removed. The
store's size is measured by one walk of the folder, then kept up to date with what this process writes; the
folder is walked again only when that total passes `max_gb` (so finishing an entry does not walk the whole
store; another process's writes count from the next walk).
"""
import hashlib
import json
import os
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from audiovae.home import audiovae_home

ENTRY = "entry.json"


def default_cache_dir() -> Path:
    return Path(os.environ.get("AUDIOVAE_CACHE_DIR") or audiovae_home() / "cache").expanduser()


def _sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def _atomic_write(path: Path, write) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@dataclass
class CacheEntry:
    """A complete entry: its folder and `entry.json`."""

    folder: Path
    meta: dict

    @property
    def segments(self) -> int:
        return int(self.meta["segments"])

    def segment(self, i: int) -> dict:
        """Segment `i`'s tensors (on the CPU)."""
        import torch  # here, so `python -m audiovae.cache` starts without torch

        return torch.load(self.folder / f"seg{i}.pt", map_location="cpu", weights_only=True)

    def values(self, metric_key: str) -> Optional[dict]:
        return self.meta.get("values", {}).get(metric_key)


class CacheStore:
    def __init__(self, folder: Optional[Path] = None, max_gb: float = 20.0):
        self.folder = Path(folder).expanduser() if folder else default_cache_dir()
        self.max_bytes = int(max_gb * 1024 ** 3)
        self._bytes: Optional[int] = None  # the store's size as of the last walk, plus this process's writes

    def _folder(self, key: str) -> Path:
        return self.folder / key[:2] / key

    def get(self, key: str) -> Optional[CacheEntry]:
        """The complete entry under `key`, or None (absent, unfinished or damaged: a miss)."""
        folder = self._folder(key)
        try:
            meta = json.loads((folder / ENTRY).read_text())
            digests = meta["sha256"]
            if len(digests) != meta["segments"] or any(_sha256(folder / f"seg{i}.pt") != digest
                                                       for i, digest in enumerate(digests)):
                return None
        except (OSError, ValueError, KeyError, TypeError):
            return None
        try:
            os.utime(folder)  # recently used
        except OSError:
            pass
        return CacheEntry(folder, meta)

    def put_segment(self, key: str, i: int, tensors: dict) -> str:
        """Segment `i` of the entry under `key` (name -> tensor); returns its sha256. The bytes depend only on the
        tensors (serialised in memory, not under the temporary file's name), so concurrent writers of one entry
        write identical files."""
        import io

        import torch

        folder = self._folder(key)
        folder.mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()
        torch.save({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, buffer)
        data = buffer.getvalue()
        _atomic_write(folder / f"seg{i}.pt", lambda tmp: tmp.write_bytes(data))
        self._count(len(data))
        return hashlib.sha256(data).hexdigest()

    def finish(self, key: str, digests: list[str], values: dict) -> None:
        """Complete the entry: its segments' sha256 and `{metric key: shared values}`; then keep the store in
        size."""
        meta = {"segments": len(digests), "sha256": digests, "values": values, "written": time.time()}
        text = json.dumps(meta)
        _atomic_write(self._folder(key) / ENTRY, lambda tmp: tmp.write_text(text))
        self._count(len(text))
        if self._bytes > self.max_bytes:
            self.evict()

    def _count(self, written: int) -> None:
        if self._bytes is None:
            self._bytes = sum(size for _, size, _ in self.entries())  # the walk includes what was just written
        else:
            self._bytes += written

    def discard(self, key: str) -> None:
        """Remove the entry under `key` (unfinished or damaged)."""
        shutil.rmtree(self._folder(key), ignore_errors=True)

    def add_values(self, entry: CacheEntry, metric_key: str, values: dict) -> None:
        """Shared metric values for another metric definition, added to an existing entry."""
        meta = {**entry.meta, "values": {**entry.meta.get("values", {}), metric_key: values}}
        _atomic_write(entry.folder / ENTRY, lambda tmp: tmp.write_text(json.dumps(meta)))
        entry.meta = meta

    def entries(self) -> list[tuple[Path, int, float]]:
        """(folder, bytes, last use) of every entry folder, complete or not."""
        out = []
        if not self.folder.is_dir():
            return out
        for prefix in self.folder.iterdir():
            if not prefix.is_dir():
                continue
            for folder in prefix.iterdir():
                try:
                    size = sum(f.stat().st_size for f in folder.iterdir())
                    out.append((folder, size, folder.stat().st_mtime))
                except OSError:  # removed meanwhile by another run's eviction
                    continue
        return out

    def evict(self) -> list[Path]:
        """Remove the least recently used entries until the store is within `max_bytes`; returns what went."""
        entries = sorted(self.entries(), key=lambda e: e[2])
        total, removed = sum(size for _, size, _ in entries), []
        for folder, size, _ in entries:
            if total <= self.max_bytes:
                break
            shutil.rmtree(folder, ignore_errors=True)
            total -= size
            removed.append(folder)
        self._bytes = total
        return removed

    def info(self) -> dict:
        entries = self.entries()
        complete = sum(1 for folder, _, _ in entries if (folder / ENTRY).is_file())
        return {"dir": str(self.folder), "entries": complete, "unfinished": len(entries) - complete,
                "bytes": sum(size for _, size, _ in entries), "max_bytes": self.max_bytes}

    def clear(self) -> int:
        """Remove every entry; returns how many folders went."""
        entries = self.entries()
        for folder, _, _ in entries:
            shutil.rmtree(folder, ignore_errors=True)
        return len(entries)
