"""Where a run's audio comes from (`data.source`): a folder, a manifest, or WebDataset shards. Each gives a list of
`Entry`s (its identity, how to read its sound, where it came from) and the entries it skipped with why; every job
(evaluation, training, export) reads them the same way.

An entry's content fingerprint decides resume and the cross-run cache, whatever the source: a file's bytes; a
manifest excerpt's file bytes with its offset and duration; a shard member's bytes. The same clip as a file, as a
whole-file manifest entry and as a shard member has the same fingerprint.

>>> Entry("a.wav", "a.wav").shard, excerpt_fingerprint("0123456789abcdef", 1.5, None)
('', '559a7446f7e58665')
"""
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Optional, Sequence, Union

from omegaconf import DictConfig

from audiovae.audio.io import SoundSource
from audiovae.data.files import discover_audio_files, file_fingerprint, file_key
from audiovae.errors import ConfigError

SOURCES = ("folder", "manifest", "webdataset")  # data.source (null: the one whose key is set)


@dataclass(frozen=True)
class Entry:
    """One clip a run works on. `key` is its identity (the rows' `file`): a path relative to data.dir, a manifest
    entry's id (or `path#offset+duration`), or `shard:member key`; `origin` says where it was listed (the rows'
    `source`: `train.jsonl:12`, `shard-000.tar:clip7`)."""

    key: str
    sound: Union[str, SoundSource]  # a local file's path, or how to read an excerpt / a shard member
    origin: str = ""
    caption: str = ""
    fingerprint: str = ""  # known when listed (shard members: hashed as the catalogue streamed them); else ""
    shard: str = ""  # the shard's url (shard members)
    member: str = ""  # the audio member's name inside the shard

    @property
    def name(self) -> str:
        return str(self.sound)


@dataclass
class Listing:
    """A source's entries, and what it skipped with why (`line()` says both in one line)."""

    entries: list[Entry]
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (what, why)
    kind: str = "folder"
    shards: list[str] = field(default_factory=list)  # webdataset: the shard urls, in order

    def line(self) -> str:
        """`found 18 audio files; skipped 2: notes.txt (not matched by data.patterns), …` (entries of a manifest or
        shards are called entries)."""
        noun = "audio file" if self.kind == "folder" else f"{self.kind} entr"
        plural = ("s" if self.kind == "folder" else "ies") if len(self.entries) != 1 else ("" if self.kind ==
                                                                                            "folder" else "y")
        text = f"found {len(self.entries)} {noun}{plural}"
        if self.shards:
            text += f" in {len(self.shards)} shard{'s' if len(self.shards) != 1 else ''}"
        if self.skipped:
            shown = ", ".join(f"{p} ({why})" for p, why in self.skipped[:5])
            text += f"; skipped {len(self.skipped)}: {shown}" + (", …" if len(self.skipped) > 5 else "")
        return text


def source_kind(data: DictConfig) -> str:
    """`data.source`, or for null the source whose key is set: `shards` -> webdataset, `manifest` -> manifest,
    else folder. ConfigError when the chosen source's key is missing or another source's key is set too."""
    given = {"folder": bool(data.get("dir") or data.get("files")), "manifest": bool(data.get("manifest")),
             "webdataset": bool(data.get("shards"))}
    kind = data.get("source")
    if kind is None:
        chosen = [k for k, is_set in given.items() if is_set]
        if len(chosen) > 1:
            raise ConfigError(f"config keys {', '.join(KEYS[k] for k in chosen)}: set one data source, not "
                              f"{len(chosen)}")
        return chosen[0] if chosen else "folder"
    if kind not in SOURCES:
        raise ConfigError(f"config key 'data.source': one of {', '.join(SOURCES)} (or null), got {kind!r}")
    if not given[kind] and kind != "folder":
        raise ConfigError(f"config key '{KEYS[kind]}': data.source={kind} needs it")
    others = [KEYS[k] for k, is_set in given.items() if is_set and k != kind]
    if others:
        raise ConfigError(f"config key '{others[0]}': set, but data.source is {kind}")
    return kind


KEYS = {"folder": "data.dir", "manifest": "data.manifest", "webdataset": "data.shards"}


def list_entries(data: DictConfig, keep=None) -> Listing:
    """The entries of `data` (a data config section: `source`, `dir`/`files`/`patterns`, `manifest`,
    `dataset_root`, `shards`) in a stable order: sorted paths for a folder, the manifest's order, the shards' order
    (a catalogue pass streams each shard once: `audiovae.data.shards`; the members whose key `keep` accepts keep
    their bytes)."""
    kind = source_kind(data)
    if kind == "manifest":
        from audiovae.data.manifests import read_manifest

        entries, skipped = read_manifest(data.manifest, data.get("dataset_root"))
        return Listing(entries, skipped, "manifest")
    if kind == "webdataset":
        from audiovae.data.shards import catalogue

        return catalogue(data.shards, keep)
    found = discover_audio_files(data.get("dir"), data.patterns, data.get("files"))
    entries = [Entry(file_key(p, data.get("dir")), str(p), origin=file_key(p, data.get("dir"))) for p in found.paths]
    return Listing(entries, found.skipped, "folder")


def excerpt_fingerprint(file_print: str, offset_s: float, duration_s: Optional[float]) -> str:
    """An excerpt's identity by content: its file's fingerprint with its offset and duration (16 hex digits)."""
    return hashlib.sha256(f"{file_print}#{offset_s!r}+{duration_s!r}".encode()).hexdigest()[:16]


def fingerprint(entry: Entry) -> str:
    """The entry's content fingerprint now ("" when it cannot be read): a shard member's as catalogued, a file's
    bytes, an excerpt's file bytes with its offset and duration."""
    sound = entry.sound
    if not isinstance(sound, SoundSource):
        return file_fingerprint(Path(sound))
    if sound.path is None:
        return entry.fingerprint
    whole = file_fingerprint(Path(sound.path))
    if not whole or (not sound.offset_s and sound.duration_s is None):
        return whole
    return excerpt_fingerprint(whole, sound.offset_s, sound.duration_s)


def fingerprints(entries: Sequence[Entry]) -> dict[str, str]:
    """Entry key -> `fingerprint`."""
    return {e.key: fingerprint(e) for e in entries}


def entry_sounds(listing: Listing) -> Iterator[Union[str, SoundSource]]:
    """The entries' sounds in order, lazily: shard members stream out of their shards as they are asked for (so
    reading the first few reads only the first shard's start)."""
    if not listing.shards:
        yield from (e.sound for e in listing.entries)
        return
    from audiovae.data.shards import sample_key, stream_members

    wanted = {sample_key(e): e.key for e in listing.entries}
    for key, data in stream_members(listing.shards, wanted):
        yield SoundSource(key, data=data)
