"""Evaluation data: every entry scanned once (checked, its normalisation measured) and read later block by block
as evaluation needs it, cut or kept whole; bad entries become records. Files and manifest entries are read by
position (`EvalDataset`); shard members stream out of the rank's shards in one pass (`ShardEvalDataset`)."""

import time
from dataclasses import dataclass
from typing import Optional, Sequence, Union

from torch.utils.data import DataLoader, Dataset, IterableDataset, Sampler, get_worker_info

from audiovae.audio.frontend import MelFrontEnd
from audiovae.audio.io import SoundSource, open_sound
from audiovae.audio.stream import PreparedAudio, dropped_input
from audiovae.data.shards import audio_of, digest, rank_shards, sample_key, stream_members
from audiovae.data.sources import Entry, fingerprint
from audiovae.errors import AudioError, DataError


@dataclass
class EvalItem:
    """One entry on its way into evaluation: identity, how its sound is read, its scan (length, rate, channels,
    normalisation) or why it failed, its output stem, its fingerprint at the start and where it was listed."""

    index: int
    key: str  # the entry's identity: a file name relative to data.dir, a manifest id, `shard:key`
    path: Union[str, SoundSource]  # how its sound is read
    audio: Optional[PreparedAudio] = None  # the prepared waveform at the model rate, read on demand; None on error
    duration_s: float = float("nan")
    sample_rate_in: int = 0
    channels_in: int = 0
    error: str = ""
    stem: str = ""  # unique output name (data.files.output_stems)
    fingerprint: str = ""  # its content hash when the run started ("": not checked); see `changed_since_start`
    source: str = ""  # where the entry was listed (`train.jsonl:12`, `shard-000.tar:clip7`; a file: its key)
    open_s: float = 0.0  # seconds spent opening, checking and measuring it (the scan) before evaluation
    notes: tuple[str, ...] = ()  # what of the input is not evaluated (`audio.stream.dropped_input`)


CHANGED = (
    "changed while being read (its content differs from when the run started): nothing was kept for it; "
    "evaluate it again"
)


def changed_since_start(item: EvalItem) -> bool:
    """True when the file's content is no longer what was hashed at the start of the run: its numbers may mix two
    contents, so it becomes an error row and nothing of it is cached."""
    if not item.fingerprint:
        return False
    sound = item.path
    if isinstance(sound, SoundSource) and sound.data is not None:
        return digest(sound.data) != item.fingerprint
    return fingerprint(Entry(item.key, sound)) != item.fingerprint


class EvalDataset(Dataset):
    """Items for the entries at `indices` (positions in the run's full entry list)."""

    def __init__(
        self,
        entries: Sequence[Entry],
        indices: Sequence[int],
        frontend: MelFrontEnd,
        max_samples: Optional[int],
        silence_threshold_db: float,
        stems: Optional[Sequence[str]] = None,
        min_samples: int = 1,
        channels: str = "mix",
        resampler: str = "soxr_hq",
        fingerprints: Optional[dict] = None,
        n_channels: int = 1,
    ):
        self.entries, self.indices = list(entries), list(indices)
        self.keys = [e.key for e in self.entries]
        self.stems = list(stems) if stems is not None else list(self.keys)
        self.min_samples, self.channels, self.resampler = min_samples, channels, resampler
        self.frontend, self.max_samples, self.silence_threshold_db = frontend, max_samples, silence_threshold_db
        self.fingerprints = dict(fingerprints or {})
        self.n_channels = n_channels  # the model's channels (read as such with channels="model")

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> EvalItem:
        index = self.indices[i]
        return self.item(index, self.entries[index].sound)

    def item(self, index: int, path) -> EvalItem:
        """The entry at `index` read from `path` (its sound), scanned: length, rate, channels, normalisation."""
        start = time.perf_counter()
        entry = self.entries[index]
        item = EvalItem(
            index,
            entry.key,
            path,
            stem=self.stems[index],
            fingerprint=self.fingerprints.get(entry.key, ""),
            source=entry.origin,
        )
        try:
            with open_sound(path) as info:
                item.duration_s = info.frames / info.samplerate if info.samplerate else float("nan")
                item.sample_rate_in, item.channels_in = info.samplerate, info.channels
                item.notes = dropped_input(info, self.channels, self.n_channels)
            item.audio = PreparedAudio.scan(
                path,
                self.frontend.sample_rate,
                self.max_samples or None,
                self.silence_threshold_db,
                self.frontend.normalize,
                self.min_samples,
                self.channels,
                self.resampler,
                self.n_channels,
            )
        except AudioError as err:
            item.error = err.reason
        item.open_s = time.perf_counter() - start
        return item


class ShardEvalDataset(IterableDataset):
    """The catalogued shard entries at `indices`, streamed: `select_rank` picks the shards this rank reads
    (`shards.rank_shards`; where there are fewer shards than ranks, every rank reads them all and keeps positions
    r, r + w, … of its entries), DataLoader workers split those shards again, and each wanted member's bytes are
    scanned as they arrive. Every entry is yielded once across ranks and workers; a member whose bytes differ from
    the catalogue's (the shard changed since) is an error item, and one missing from its shard too."""

    def __init__(self, urls: Sequence[str], dataset: EvalDataset):
        self.urls, self.dataset = list(urls), dataset
        self.rank, self.world = 0, 1

    def select_rank(self, rank: int, world: int) -> None:
        """Read only the entries of DDP rank `rank` of `world` (set by the evaluation module before iterating)."""
        self.rank, self.world = rank, world

    def _mine(self) -> list[int]:
        """Positions (in the full entry list) of the entries this rank yields."""
        shards = set(rank_shards(self.urls, self.rank, self.world))
        mine = [i for i in self.dataset.indices if self.dataset.entries[i].shard in shards]
        return mine if len(self.urls) >= self.world else mine[self.rank :: self.world]

    def __len__(self) -> int:
        return len(self._mine())

    def __iter__(self):
        mine = self._mine()
        worker = get_worker_info()
        used = {self.dataset.entries[i].shard for i in mine}
        shards = [u for u in self.urls if u in used]
        if worker is not None:
            shards = shards[worker.id :: worker.num_workers]
            kept = set(shards)
            mine = [i for i in mine if self.dataset.entries[i].shard in kept]
        wanted = {sample_key(self.dataset.entries[i]): self.dataset.entries[i].key for i in mine}
        position = {self.dataset.entries[i].key: i for i in mine}
        seen = set()
        try:
            for key, parts in stream_members(shards, wanted):
                index = position[key]
                if index in seen:
                    continue
                seen.add(index)
                yield self.dataset.item(index, SoundSource(key, data=audio_of(parts)))
        except DataError as err:  # a shard that became unreadable: its remaining entries are error rows
            reason = str(err)
        else:
            reason = "no longer in its shard (the shard changed since the run listed it)"
        for index in mine:
            if index not in seen:
                entry = self.dataset.entries[index]
                yield EvalItem(
                    index, entry.key, entry.sound, error=reason, stem=self.dataset.stems[index], source=entry.origin
                )


def collate_items(items: list[EvalItem]) -> list[EvalItem]:
    """Files are kept apart: they are cut into fixed-length segments later, so no padding happens here."""
    return items


class ShardSampler(Sampler):
    """Rank r of w takes positions r, r + w, …: every file exactly once across ranks (no padding repeats)."""

    def __init__(self, length: int, rank: int, world_size: int):
        self.positions = list(range(rank, length, world_size))

    def __iter__(self):
        return iter(self.positions)

    def __len__(self) -> int:
        return len(self.positions)


def eval_loader(
    dataset: Union[EvalDataset, ShardEvalDataset], batch_size: int, num_workers: int, rank: int = 0, world_size: int = 1
) -> DataLoader:
    """Rank `rank` of `world_size`'s share of the entries (`ShardSampler`; shards: `ShardEvalDataset.select_rank`),
    `batch_size` entries at a time."""
    if isinstance(dataset, ShardEvalDataset):
        dataset.select_rank(rank, world_size)
        return DataLoader(dataset, batch_size=batch_size, num_workers=num_workers, collate_fn=collate_items)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=ShardSampler(len(dataset), rank, world_size),
        num_workers=num_workers,
        collate_fn=collate_items,
    )


def rank_items(loader: DataLoader) -> int:
    """How many entries this rank's loader yields."""
    return len(loader.dataset) if isinstance(loader.dataset, IterableDataset) else len(loader.sampler)
