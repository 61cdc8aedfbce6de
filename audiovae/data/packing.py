"""Pack a folder or a manifest into WebDataset shards (`audiovae-data pack`): each entry one sample, its audio member
the file's own bytes (an excerpt: its samples as a 32-bit float wav at the file's rate, so it reads back equal) and
a json member with its `id`, `source` and `caption`. Sample keys are the entries' keys made safe for webdataset
(no dots: the key ends at the first one); `shards.json` lists what was written.

>>> safe_keys(["a/b.wav", "a/b.flac", "x#0.5+1"])
['a/b_wav', 'a/b_flac', 'x_0_5_1']
"""

import io
import json
import math
import re
from pathlib import Path
from typing import Sequence

import soundfile as sf
from omegaconf import OmegaConf

from audiovae.audio.io import open_sound
from audiovae.data.shards import write_shards
from audiovae.data.sources import Entry, Listing, list_entries
from audiovae.errors import AudioError
from audiovae.written import check_single_output

SHARD_NAME = "shard-%06d.tar"
INDEX = "shards.json"


def read_source(source: str, patterns: Sequence[str]) -> Listing:
    """A folder's or a manifest's entries."""
    path = Path(source).expanduser()
    data = {"dir": str(path), "patterns": list(patterns)} if path.is_dir() else {"manifest": str(path)}
    return list_entries(OmegaConf.create(data))


def safe_keys(keys: Sequence[str]) -> list[str]:
    """Webdataset sample keys: characters other than letters, digits, `-`, `_` and `/` become `_`; a key two entries
    would share gets `_<n>`."""
    out, seen = [], set()
    for key in keys:
        safe = re.sub(r"[^\w\-/]", "_", key).strip("/") or "_"
        candidate, n = safe, 1
        while candidate in seen:
            n += 1
            candidate = f"{safe}_{n}"
        seen.add(candidate)
        out.append(candidate)
    return out


def audio_bytes(entry: Entry) -> tuple[bytes, str]:
    """(bytes, extension) of an entry's audio: a whole file's own bytes, an excerpt's samples as a float wav."""
    sound = entry.sound
    if isinstance(sound, str) or (not sound.offset_s and sound.duration_s is None and sound.path):
        path = sound if isinstance(sound, str) else sound.path
        with open_sound(sound) as f:  # readable audio (else AudioError: left out with its reason)
            extension = Path(path).suffix.lstrip(".").lower() or f.format.lower()
        try:
            return Path(path).read_bytes(), extension
        except OSError as err:
            raise AudioError(sound, f"cannot be read ({err.strerror})") from None
    with open_sound(sound) as f:
        frames, rate = f.read(dtype="float32", always_2d=True), f.samplerate
    buffer = io.BytesIO()
    sf.write(buffer, frames, rate, subtype="FLOAT", format="WAV")
    return buffer.getvalue(), "wav"


def check_shard_outputs(
    out: Path, shard_name: str, index: str, count: int, per_shard: int, force: bool, inputs: Sequence[Path] = ()
) -> None:
    """Before `count` samples are packed into `out/<shard_name % i>` (`per_shard` each) and `out/<index>`: refuse,
    with `written.check_single_output`, any of those files that exists (unless `force`), is a link or a folder, or is
    one of the `inputs`."""
    shards = max(1, math.ceil(count / per_shard))
    for path in [out / (shard_name % i) for i in range(shards)] + [out / index]:
        check_single_output(path, inputs, force)


def pack_entries(entries: Sequence[Entry], out: Path, per_shard: int, force: bool = False) -> list[Path]:
    """Write `entries` as shards `out/shard-NNNNNN.tar` (`per_shard` samples each, streamed: one sample in memory at
    a time) and `out/shards.json`; an entry that cannot be read is left out and listed there. Refuses to replace
    existing files without `force`."""
    inputs = [getattr(e.sound, "path", e.sound) for e in entries]  # a file, an excerpt's file; None: bytes
    check_shard_outputs(out, SHARD_NAME, INDEX, len(entries), per_shard, force, [Path(p) for p in inputs if p])
    left_out, packed = [], []

    def samples():
        for entry, key in zip(entries, safe_keys([e.key for e in entries])):
            try:
                data, extension = audio_bytes(entry)
            except AudioError as err:
                left_out.append({"id": entry.key, "reason": err.reason})
                continue
            meta = {"id": entry.key, "source": entry.origin, **({"caption": entry.caption} if entry.caption else {})}
            packed.append(entry.key)
            yield key, {extension: data, "json": json.dumps(meta, ensure_ascii=False).encode()}

    written = write_shards(samples(), str(out / SHARD_NAME), per_shard)
    (out / INDEX).write_text(
        json.dumps({"shards": [p.name for p in written], "samples": len(packed), "left_out": left_out}, indent=1) + "\n"
    )
    return written
