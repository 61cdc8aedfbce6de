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
import os
from dataclasses import replace
from pathlib import Path
from typing import Callable, Iterator, Optional, Sequence, Union

from omegaconf import DictConfig, OmegaConf

from audiovae.audio.io import SoundSource
from audiovae.config.keywords import check_keywords
from audiovae.data.entries import Entry, Listing
from audiovae.data.files import discover_audio_files, file_fingerprint, file_key
from audiovae.data.manifests import read_manifest
from audiovae.data.shards import audio_of, catalogue, digest, sample_key, stream_members
from audiovae.errors import ConfigError, debugging, one_line
from audiovae.plugins import check_name_free, labelled

__all__ = [
    "Entry",
    "Listing",
    "SOURCES",
    "register_source",
    "entry_sounds",
    "fingerprint",
    "fingerprints",
    "list_entries",
    "source_kind",
]

SOURCES = ("folder", "manifest", "webdataset")  # data.source (null: the one whose key is set)
LISTERS: dict[str, Callable[..., Listing]] = {}  # data.source -> a plugin's lister (`register_source`)


def register_source(name: str, lister: Callable[..., Listing]) -> None:
    """Add a data source that `data.source` names as `name` (a plugin's, docs "Extending"): `lister(**data.options)`
    returns a `Listing` of `Entry`s whose `sound` is a local path or a `SoundSource` (an excerpt, or bytes with the
    entry's `fingerprint` set). Its keyword arguments are the source's `data.options`, checked against its signature.
    The same function again replaces it; a built-in name or one taken by another lister is a ConfigError."""
    check_name_free("data source", name, lister, LISTERS.get(name), reserved=SOURCES)
    LISTERS[name] = lister


def source_options(name: str, options) -> dict:
    """`data.options` as the keyword arguments of source `name`'s lister: a key it does not take, or a required
    argument left unset, is one line naming the key."""
    given = OmegaConf.to_container(options, resolve=True) if isinstance(options, DictConfig) else dict(options or {})
    return check_keywords(LISTERS[name], given, "data.options", f"{name} source", required=True)


def source_kind(data: DictConfig) -> str:
    """`data.source`, or for null the source whose key is set: `shards` -> webdataset, `manifest` -> manifest,
    else folder. ConfigError when the chosen source's key is missing or another source's key is set too."""
    given = {
        "folder": bool(data.get("dir") or data.get("files")),
        "manifest": bool(data.get("manifest")),
        "webdataset": bool(data.get("shards")),
    }
    kind = data.get("source")
    if kind in LISTERS:  # a plugin's source: data.options are its arguments, no other source's key is set
        others = [KEYS[k] for k, is_set in given.items() if is_set]
        if others:
            raise ConfigError(f"config key '{others[0]}': set, but data.source is {kind}")
        return kind
    if data.get("options"):
        raise ConfigError(
            f"config key 'data.options': options of a plugin's data source; data.source is {kind or 'not set'}"
        )
    if kind is None:
        chosen = [k for k, is_set in given.items() if is_set]
        if len(chosen) > 1:
            raise ConfigError(
                f"config keys {', '.join(KEYS[k] for k in chosen)}: set one data source, not {len(chosen)}"
            )
        return chosen[0] if chosen else "folder"
    if kind not in SOURCES:
        raise ConfigError(
            f"config key 'data.source': one of {', '.join([*SOURCES, *LISTERS])} (or null), got {kind!r}"
            + ("" if LISTERS else "; a plugin's source is registered by a module listed in `plugins`")
        )
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
    if kind in LISTERS:
        return plugin_listing(kind, LISTERS[kind], source_options(kind, data.get("options")))
    if kind == "manifest":
        entries, skipped = read_manifest(data.manifest, data.get("dataset_root"))
        return Listing(entries, skipped, "manifest")
    if kind == "webdataset":
        return catalogue(data.shards, keep)
    found = discover_audio_files(data.get("dir"), data.patterns, data.get("files"))
    entries = [Entry(file_key(p, data.get("dir")), str(p), origin=file_key(p, data.get("dir"))) for p in found.paths]
    return Listing(entries, found.skipped, "folder")


def plugin_listing(kind: str, lister: Callable[..., Listing], options: dict) -> Listing:
    """A plugin source's listing, checked: ConfigError (one line naming the source and its module) when the lister
    raises, returns anything but a Listing, or lists anything but Entries whose sound is a path or a SoundSource."""
    who = f"config key 'data.source': the {labelled(kind + ' source', lister)}"
    try:
        listing = lister(**options)
        if not isinstance(listing, Listing):
            raise ConfigError(f"{who} returned {type(listing).__name__}, not a Listing")
        entries, skipped = list(listing.entries), list(listing.skipped)  # a generator of entries may raise too
    except ConfigError:
        raise
    except Exception as err:
        if debugging():
            raise
        raise ConfigError(f"{who} failed: {one_line(err)}") from None
    for i, entry in enumerate(entries):
        if not isinstance(entry, Entry):
            raise ConfigError(f"{who}: entries[{i}] is a {type(entry).__name__}, not an Entry")
        if not isinstance(entry.sound, (str, os.PathLike, SoundSource)):
            raise ConfigError(
                f"{who}: entry {entry.key!r} has a {type(entry.sound).__name__} as its sound (a path or a SoundSource)"
            )
        data = getattr(entry.sound, "data", None)
        if data is not None and not entry.fingerprint:  # bytes in memory: their content decides resume and cache
            entries[i] = replace(entry, fingerprint=digest(bytes(data)))
    return Listing(entries, skipped, kind)


def excerpt_fingerprint(file_print: str, offset_s: float, duration_s: Optional[float]) -> str:
    """An excerpt's identity by content: its file's fingerprint with its offset and duration (16 hex digits)."""
    return hashlib.sha256(f"{file_print}#{offset_s!r}+{duration_s!r}".encode()).hexdigest()[:16]


def fingerprint(entry: Entry, file_prints: Optional[dict] = None) -> str:
    """The entry's content fingerprint now ("" when it cannot be read): a shard member's as catalogued, a file's
    bytes, an excerpt's file bytes with its offset and duration. `file_prints` (path -> fingerprint) holds the files
    already hashed, so several excerpts of one file read it once."""
    sound = entry.sound
    path = sound if not isinstance(sound, SoundSource) else sound.path
    if path is None:
        return entry.fingerprint
    file_prints = {} if file_prints is None else file_prints
    if str(path) not in file_prints:
        file_prints[str(path)] = file_fingerprint(Path(path))
    whole = file_prints[str(path)]
    if not isinstance(sound, SoundSource) or not whole or (not sound.offset_s and sound.duration_s is None):
        return whole
    return excerpt_fingerprint(whole, sound.offset_s, sound.duration_s)


def fingerprints(entries: Sequence[Entry]) -> dict[str, str]:
    """Entry key -> `fingerprint`, each file hashed once however many entries it holds."""
    file_prints: dict[str, str] = {}
    return {e.key: fingerprint(e, file_prints) for e in entries}


def entry_sounds(listing: Listing) -> Iterator[tuple[str, Union[str, SoundSource]]]:
    """(entry key, sound) of the entries in order, lazily: shard members stream out of their shards as they are
    asked for (so reading the first few reads only the first shard's start; a member no longer in its shard is
    not yielded)."""
    if not listing.shards:
        yield from ((e.key, e.sound) for e in listing.entries)
        return
    wanted = {sample_key(e): e.key for e in listing.entries}
    for key, parts in stream_members(listing.shards, wanted):
        yield key, SoundSource(key, data=audio_of(parts))
