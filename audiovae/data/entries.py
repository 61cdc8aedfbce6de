"""What every data source lists: entries (identity, how to read the sound, where each was listed) and a listing
of them with what was skipped."""

from dataclasses import dataclass, field
from typing import Union

from audiovae.audio.io import SoundSource


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
        """What messages call the entry: its sound's name (a path, or an excerpt's or member's name)."""
        return str(self.sound)


@dataclass
class Listing:
    """A source's entries, and what it skipped with why (`line()` says both in one line)."""

    entries: list[Entry]
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (what, why)
    kind: str = "folder"
    shards: list[str] = field(default_factory=list)  # webdataset: the shard urls, in order

    def line(self) -> str:
        """`found 18 audio files; skipped 2: notes.txt (not matched by data.patterns), …` (a manifest's or shards'
        entries are `manifest entries`, `webdataset entries in 4 shards`)."""
        n = len(self.entries)
        noun = (
            f"audio file{'s' if n != 1 else ''}"
            if self.kind == "folder"
            else f"{self.kind} entr{'ies' if n != 1 else 'y'}"
        )
        text = f"found {n} {noun}"
        if self.shards:
            text += f" in {len(self.shards)} shard{'s' if len(self.shards) != 1 else ''}"
        if self.skipped:
            shown = ", ".join(f"{p} ({why})" for p, why in self.skipped[:5])
            text += f"; skipped {len(self.skipped)}: {shown}" + (", …" if len(self.skipped) > 5 else "")
        return text
