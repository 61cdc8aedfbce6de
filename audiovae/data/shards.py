"""WebDataset shards (`data.shards=PATTERN`): tar files whose members `<key>.<audio ext>` (with an optional
`<key>.json` carrying a `caption` or `text`) are one entry each, read with the `webdataset` package's own tar
reader and url opener. A pattern is brace-expanded (`data/train-{000..063}.tar`); a `pipe:` url runs the user's
command and reads its output (`pipe:aws s3 cp s3://bucket/train-000.tar -`, `pipe:curl -s https://…`), so any
storage their command line reaches works.

A catalogue pass streams every shard once, hashes each member's bytes (the entry's fingerprint) and lists the
entries; a run then streams the shards of its rank (`rank_shards`) and takes the members it needs. Samples with no
audio member are skipped with why.

>>> member_key("clips/a.b.flac"), shard_name("pipe:aws s3 cp s3://bucket/train-007.tar -")
(('clips/a', 'b.flac'), 'train-007.tar')
"""

import hashlib
import io
import json
import os
import re
import tarfile
from collections import Counter
from pathlib import Path
from typing import Callable, Iterable, Iterator, Optional, Sequence

from audiovae.audio.io import SoundSource
from audiovae.consent import URL_COMMANDS, url_scheme
from audiovae.data.entries import Entry, Listing
from audiovae.errors import DataError

_META = re.compile(r"__[^/]*__($|/)")  # webdataset's metadata members (`__key__`), not samples
AUDIO_EXTENSIONS = ("flac", "wav", "mp3", "ogg", "oga", "opus", "aiff", "aif", "caf", "w64", "rf64", "au")


MAX_SHARDS = 100_000  # names one pattern may expand to (10^8 names took 6 GB before this bound)
MAX_MEMBER_BYTES = 512 << 20  # a member larger than this is skipped unread (pack a longer recording as excerpts)


_RANGE = re.compile(r"\{(-?\d+|[a-zA-Z])\.\.(-?\d+|[a-zA-Z])(?:\.\.(-?\d+))?\}")


def _sequence(text: str, i: int, stop: str) -> tuple[int, int]:
    """(names the brace pattern `text[i:]` expands to up to a `stop` character at its depth, where it stopped)."""
    count = 1
    while i < len(text) and text[i] not in stop:
        if text[i] == "\\":
            i += 2
        elif text[i] == "{" and (group := _group(text, i))[0] is not None:
            count, i = count * group[0], group[1]
        else:
            i += 1
    return count, i


def _group(text: str, i: int) -> tuple[Optional[int], int]:
    """(names a `{...}` group at `text[i]` expands to, the index after it); (None, i) when it is not a group."""
    match = _RANGE.match(text, i)
    if match:
        low, high, step = match.groups()
        ends = [int(v) if v.lstrip("-").isdigit() else ord(v) for v in (low, high)]
        return abs(ends[1] - ends[0]) // max(1, abs(int(step or 1))) + 1, match.end()
    total, alternatives, j = 0, 0, i + 1
    while True:
        count, j = _sequence(text, j, ",}")
        if j >= len(text):
            return None, i
        total, alternatives = total + count, alternatives + 1
        if text[j] == "}":
            return (total, j + 1) if alternatives > 1 else (None, i)
        j += 1


def brace_count(pattern: str) -> int:
    """How many names a brace pattern expands to, counted without expanding it.

    >>> brace_count("a-{000..063}.tar"), brace_count("{a,b{0..2}}/x-{0..9..2}"), brace_count("plain.tar")
    (64, 20, 1)
    """
    return _sequence(pattern, 0, "")[0]


def expand(pattern: str) -> list[str]:
    """The shard urls of `pattern` (braces expanded after counting them: at most MAX_SHARDS; several patterns
    joined by `::`, as webdataset takes them; environment variables are not substituted, unlike webdataset's
    `expand_urls`)."""
    from braceexpand import braceexpand

    parts = str(pattern).split("::")
    if sum(brace_count(part) for part in parts) > MAX_SHARDS:
        raise DataError(f"data.shards '{pattern}': names more than {MAX_SHARDS} shards")
    urls = []
    for part in parts:
        try:
            urls += list(braceexpand(part))
        except Exception as err:  # braceexpand's UnbalancedBracesError and the like
            raise DataError(f"data.shards '{pattern}': not a brace pattern ({err})") from None
    urls = [u for u in urls if u]
    if not urls:
        raise DataError(f"data.shards '{pattern}': names no shard")
    return urls


def shard_name(url: str) -> str:
    """The short name rows give a shard: its file name (for `pipe:` the last argument that is not `-`)."""
    text = url[len("pipe:") :] if url.startswith("pipe:") else url
    words = [w for w in text.split() if w != "-"] or [text]
    return os.path.basename(words[-1].rstrip("/")) or url


def shard_names(urls: Sequence[str]) -> dict[str, str]:
    """A unique short name per url: `shard_name`, or the whole url where two would share one."""
    short = {u: shard_name(u) for u in urls}
    counts = Counter(short.values())
    return {u: n if counts[n] == 1 else u for u, n in short.items()}


def member_key(name: str) -> tuple[str, str]:
    """(sample key, extension) of a member name, as webdataset splits them: the key ends at the first dot of the
    file name."""
    from webdataset.tariterators import base_plus_ext

    key, extension = base_plus_ext(name)
    return (key, extension) if key is not None else (name, "")


def open_url(url: str):
    """A readable stream of the shard (a local file, or a `pipe:` command's output), with webdataset's gopen."""
    from webdataset.gopen import gopen

    if url_scheme(url) not in URL_COMMANDS and not Path(url).is_file():
        raise DataError(f"data.shards: '{url}' is not a file")
    try:
        return gopen(url)
    except Exception as err:  # what webdataset raises for a url it cannot open
        raise DataError(f"data.shards: '{url}' cannot be opened ({err})") from None


def _member_kind(info: tarfile.TarInfo) -> str:
    kinds = {
        tarfile.SYMTYPE: "a symbolic link",
        tarfile.LNKTYPE: "a hard link",
        tarfile.CHRTYPE: "a character device",
        tarfile.BLKTYPE: "a block device",
        tarfile.FIFOTYPE: "a FIFO",
    }
    return kinds.get(info.type, f"not a regular file (tar type {info.type!r})")


def members(stream, dropped: Optional[list] = None) -> Iterator[tuple[str, bytes]]:
    """(name, bytes) of a tar stream's regular members in order, each read only when it is at most MAX_MEMBER_BYTES
    (webdataset's `__key__`-style metadata members and folders are passed over); the others are appended to
    `dropped` as (name, why) without being read."""
    tar = tarfile.open(fileobj=stream, mode="r|*")
    for info in tar:
        if info.isdir() or _META.match(info.name):
            continue
        if not info.isreg():
            why = _member_kind(info)
        elif info.size > MAX_MEMBER_BYTES:
            why = f"{info.size} bytes, over the {MAX_MEMBER_BYTES >> 20} MiB a member may hold"
        else:
            yield info.name, tar.extractfile(info).read()
            tar.members = []
            continue
        tar.members = []
        if dropped is not None:
            dropped.append((info.name, f"{why}: not read"))


def samples(url: str, dropped: Optional[list] = None) -> Iterator[tuple[str, dict[str, bytes]]]:
    """(key, {extension: bytes}) of the shard's samples in order, streamed: a sample's members are consecutive,
    as webdataset writes them; members that are not read are appended to `dropped` (`members`). DataError naming the
    shard when it is not a tar or its command fails."""
    stream = open_url(url)
    key, parts = None, {}
    try:
        for name, data in members(stream, dropped):
            k, extension = member_key(name)
            if k != key and key is not None:
                yield key, parts
                parts = {}
            key = k
            parts[extension] = data
        if key is not None:
            yield key, parts
    except (tarfile.TarError, OSError, ValueError, EOFError) as err:
        raise DataError(f"data.shards: '{url}' is not a readable tar ({err})") from None
    finally:
        try:
            stream.close()
        except Exception as err:  # a pipe: command that exited non-zero says so when closed
            raise DataError(f"data.shards: '{url}' failed ({err})") from None


def audio_member(parts: dict[str, bytes]) -> Optional[str]:
    """The sample's audio extension (the first in AUDIO_EXTENSIONS order), None when it has none."""
    return next(
        (e for e in AUDIO_EXTENSIONS if e in parts), next((e for e in parts if e.lower() in AUDIO_EXTENSIONS), None)
    )


def caption_of(parts: dict[str, bytes]) -> str:
    """`caption` (or `text`) of the sample's json member, or its txt member; "" when none."""
    if "json" in parts:
        try:
            meta = json.loads(parts["json"])
        except (json.JSONDecodeError, UnicodeDecodeError):
            return ""
        if isinstance(meta, dict):
            return str(meta.get("caption") or meta.get("text") or "")
    for extension in ("txt", "caption.txt"):
        if extension in parts:
            return parts[extension].decode("utf-8", "replace").strip()
    return ""


def val_pick(key: str, seed: int, ratio: float) -> bool:
    """Whether entry `key` is a validation entry: a seeded hash of the key, uniform in [0, 1), below `ratio` (so a
    stream decides alone, and the choice does not depend on the order or number of shards).

    >>> sum(val_pick(f"s.tar:{i}", 0, 0.1) for i in range(1000))
    85
    """
    return int(hashlib.sha256(f"{seed}:{key}".encode()).hexdigest()[:12], 16) / 16**12 < ratio


def digest(data: bytes) -> str:
    """A member's fingerprint: sha256 of its bytes (16 hex digits), as `file_fingerprint` of the same file."""
    return hashlib.sha256(data).hexdigest()[:16]


def catalogue(pattern: str, keep: Optional[Callable[[str], bool]] = None) -> Listing:
    """Every shard streamed once: an Entry per sample with audio (`<shard>:<key>`, fingerprint of its bytes,
    caption), the samples without audio skipped with why. Entries whose name `keep` accepts hold their bytes."""
    urls = expand(pattern)
    names = shard_names(urls)
    entries, skipped, seen = [], [], set()
    for url in urls:
        dropped = []
        for key, parts in samples(url, dropped):
            name = f"{names[url]}:{key}"
            extension = audio_member(parts)
            if extension is None:
                skipped.append((name, f"no audio member (has {', '.join(sorted(parts))})"))
                continue
            if name in seen:
                skipped.append((name, "a second sample of this key"))
                continue
            seen.add(name)
            data = parts[extension] if keep is not None and keep(name) else None
            entries.append(
                Entry(
                    name,
                    SoundSource(name, data=data),
                    origin=name,
                    caption=caption_of(parts),
                    fingerprint=digest(parts[extension]),
                    shard=url,
                    member=f"{key}.{extension}",
                )
            )
        skipped += [(f"{names[url]}:{member}", why) for member, why in dropped]
    return Listing(entries, skipped, "webdataset", urls)


def rank_shards(urls: Sequence[str], rank: int, world: int) -> list[str]:
    """The shards rank `rank` of `world` streams: r, r + w, … when there are at least `world` shards (each is read
    by one rank), else all of them (each rank then keeps its own entries)."""
    return list(urls[rank::world]) if len(urls) >= world else list(urls)


def stream_members(urls: Sequence[str], wanted: dict[tuple[str, str], str]) -> Iterator[tuple[str, dict[str, bytes]]]:
    """(entry key, members by extension) of the samples with audio that `wanted` names by (shard url, sample key),
    streaming the shards `urls` in order, one pass (`audio_of` picks the audio)."""
    for url in urls:
        for key, parts in samples(url):
            name = wanted.get((url, key))
            if name is not None and audio_member(parts) is not None:
                yield name, parts


def audio_of(parts: dict[str, bytes]) -> bytes:
    """The bytes of a sample's audio member (`audio_member`)."""
    return parts[audio_member(parts)]


def sample_key(entry: Entry) -> tuple[str, str]:
    """(shard url, sample key) of a catalogued shard entry."""
    return entry.shard, member_key(entry.member)[0]


def write_shards(items: Iterable[tuple[str, dict[str, bytes]]], pattern: str, per_shard: int) -> list[Path]:
    """Pack (key, {extension: bytes}) samples into tars named by `pattern` (`out/shard-%06d.tar`), `per_shard`
    samples each, members in sample order (as webdataset's ShardWriter writes them). Returns the tars written."""
    written, tar, count = [], None, 0
    for key, parts in items:
        if tar is None or count == per_shard:
            if tar is not None:
                tar.close()
            path = Path(pattern % len(written))
            path.parent.mkdir(parents=True, exist_ok=True)
            tar, count = tarfile.open(path, "w"), 0
            written.append(path)
        for extension, data in parts.items():
            info = tarfile.TarInfo(f"{key}.{extension}")
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            tar.addfile(info, io.BytesIO(data))
        count += 1
    if tar is not None:
        tar.close()
    return written
