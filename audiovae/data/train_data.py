"""Training data: clips scanned once (bad files skipped with a warning), a seeded split by file, training crops
(random ones that depend only on (seed, epoch, file), or each file's fixed tiles when they are pre-encoded), and
fixed crops for validation. Folders and manifests are held in memory; shards stream (`data.shard_train`)."""

import itertools
import math
import warnings
from dataclasses import dataclass
from typing import Callable, Mapping, Optional, Sequence

import numpy as np
import pytorch_lightning as pl
from omegaconf import DictConfig, OmegaConf
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from audiovae.audio.frontend import MelFrontEnd
from audiovae.audio.io import check_waveform, load_audio
from audiovae.data.crops import prepared_crop
from audiovae.data.eval_data import ShardSampler
from audiovae.data.sources import Entry, Listing, fingerprint, list_entries
from audiovae.errors import AudioError, DataError


@dataclass
class Clip:
    """A training clip held in memory: its name, its mono waveform at the model rate and its content fingerprint."""

    path: str  # the entry's key (a file's path as listed)
    waveform: np.ndarray  # mono float32 at the model rate, not yet normalised
    fingerprint: str = ""  # sha256 of the file's bytes (its pre-encoded crops are cached under it)


def scan_clips(
    entries: Sequence[Entry],
    sample_rate: int,
    silence_threshold_db: float,
    channels: str = "mix",
    resampler: str = "soxr_hq",
) -> tuple[list[Clip], list[str]]:
    """Load every entry once; returns the good clips and one 'entry: reason' line per bad one. Its content is
    hashed before and after it is read: one that changed in between is bad (its crops would be cached under a hash
    of other bytes)."""
    clips, bad = [], []
    for entry in entries:
        try:
            before = fingerprint(entry)
            clip = load_audio(entry.sound, sample_rate, channels, resampler)
            check_waveform(entry.sound, clip.waveform, silence_threshold_db)
            if fingerprint(entry) != before:
                raise AudioError(entry.sound, "changed while being read: skipped")
            clips.append(Clip(entry.name if isinstance(entry.sound, str) else entry.key, clip.waveform, before))
        except AudioError as err:
            bad.append(str(err))
    return clips, bad


def usable_entries(data: dict, keep: Optional[Callable[[str], bool]] = None) -> tuple[Listing, list[str]]:
    """The entries of a data section (`dir` + `patterns`, `manifest`, `shards`: `sources.list_entries`), and an
    'entry: reason' line for each one that looked usable but cannot be read (a FIFO, a device, an unreadable folder:
    skipped without being opened, as in evaluation; a duplicate manifest entry; a shard sample without audio)."""
    listing = list_entries(OmegaConf.create(data), keep)
    unusable = [
        f"{what}: {why}"
        for what, why in listing.skipped
        if listing.kind != "folder" or why.startswith(("not a regular file", "unreadable folder"))
    ]
    return listing, unusable


def split_shard_entries(
    listing: Listing, val_ratio: float, seed: int, val_elsewhere: bool
) -> tuple[Listing, list[Entry], list[Entry]]:
    """(the training entries as a listing to stream, the same as a list, the validation entries with their bytes
    read): `val_ratio` of the samples, chosen by `val_pick` (a seeded hash of the key, so a stream decides without
    counting; at least one); none with a validation folder."""
    from audiovae.data.shards import val_pick
    from audiovae.data.sources import entry_sounds

    picked = set() if val_elsewhere else {e.key for e in listing.entries if val_pick(e.key, seed, val_ratio)}
    if not val_elsewhere and not picked and len(listing.entries) >= 2:
        picked = {listing.entries[-1].key}
    train = [e for e in listing.entries if e.key not in picked]
    val = [e for e in listing.entries if e.key in picked]
    if any(e.sound.data is None for e in val):  # not kept by the catalogue pass: streamed once more
        sounds = dict(entry_sounds(Listing(val, [], listing.kind, listing.shards)))
        val = [Entry(e.key, sounds[e.key], e.origin, e.caption, e.fingerprint) for e in val if e.key in sounds]
    return Listing(train, [], listing.kind, listing.shards), train, val


def split_by_file(n: int, val_ratio: float, seed: int) -> tuple[list[int], list[int]]:
    """A seeded split of n files: (train positions, val positions), at least one of each when n ≥ 2."""
    order = np.random.default_rng(seed).permutation(n).tolist()
    n_val = min(max(1, round(val_ratio * n)), n - 1) if n >= 2 else 0
    return sorted(order[n_val:]), sorted(order[:n_val])


class RandomCrops(Dataset):
    """Item (position, epoch) -> a prepared crop whose offset is drawn from (seed, epoch, position)."""

    def __init__(self, clips: list[Clip], frontend: MelFrontEnd, crop: int, seed: int):
        self.clips, self.frontend, self.crop, self.seed = clips, frontend, crop, seed

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, key: tuple[int, int]) -> dict:
        position, epoch = key
        wave = self.clips[position].waveform
        room = max(len(wave) - self.crop, 0)
        offset = int(np.random.default_rng([self.seed, epoch, position]).integers(0, room + 1))
        out, length = prepared_crop(self.frontend, wave, self.crop, offset)
        return {"waveform": out, "length": length}


class TiledCrops(Dataset):
    """Every training clip cut into consecutive crops at offsets 0, crop, 2·crop, … (the last one zero-padded):
    the same items every epoch, so their encodings are computed once (`data.pre_encode`). Item (index, epoch) ->
    the crop with its file's fingerprint and offset (its cache key)."""

    def __init__(self, clips: list[Clip], frontend: MelFrontEnd, crop: int):
        self.clips, self.frontend, self.crop = clips, frontend, crop
        self.items = [
            (position, offset)
            for position, clip in enumerate(clips)
            for offset in range(0, max(len(clip.waveform), 1), crop)
        ]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, key: tuple[int, int]) -> dict:
        position, offset = self.items[key[0]]
        clip = self.clips[position]
        out, length = prepared_crop(self.frontend, clip.waveform, self.crop, offset)
        return {"waveform": out, "length": length, "fingerprint": clip.fingerprint, "offset": offset}


class FixedCrops(Dataset):
    """The first `crop` samples of each validation clip, prepared like evaluation prepares a cut file."""

    def __init__(self, clips: list[Clip], frontend: MelFrontEnd, crop: int):
        self.clips, self.frontend, self.crop = clips, frontend, crop

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, position: int) -> dict:
        out, length = prepared_crop(self.frontend, self.clips[position].waveform, self.crop, 0)
        return {"waveform": out, "length": length, "index": position}


class EpochSampler(DistributedSampler):
    """This rank's share of a seeded shuffle per epoch, yielding (position, epoch) pairs.

    With `position_source` set, each pass starts where the run stands: `(epoch, items of this epoch already
    trained on)`, which the run derives from the global step — restored exactly by a resumed run, also from a
    checkpoint written mid-epoch (Lightning itself would restart the epoch's data from its beginning, and its
    epoch counter can run ahead by one after resuming from an end-of-epoch checkpoint).
    """

    position_source: Optional[Callable[[], tuple[int, int]]] = None

    def __iter__(self):
        done = 0
        if self.position_source is not None:
            epoch, done = self.position_source()
            self.set_epoch(epoch)
        epoch = self.epoch
        return ((i, epoch) for i in itertools.islice(super().__iter__(), done, None))


class TrainDataModule(pl.LightningDataModule):
    """Training and validation crops of the `data` config section (`TrainDataConfig`), listed and scanned in
    `setup` (on every process Lightning starts): a folder or a manifest is scanned into memory; shards stream their
    training crops (`ShardCrops`), their validation entries (`val_ratio` of each shard's samples, chosen by a seeded
    hash of their keys) held in memory. `crop_samples`: the crop length; `pre_encode`: tiled crops whose encodings
    are kept; `accumulate_grad_batches`: where a resumed epoch starts."""

    def __init__(
        self,
        data: Mapping,
        frontend: MelFrontEnd,
        crop_samples: int,
        seed: int,
        pre_encode: bool = False,
        accumulate_grad_batches: int = 1,
    ):
        super().__init__()
        self.data = dict(OmegaConf.to_container(data, resolve=True) if isinstance(data, DictConfig) else data)
        self.frontend, self.crop, self.seed, self.pre_encode = frontend, crop_samples, seed, pre_encode
        self.accumulate = accumulate_grad_batches
        self.batch_size, self.val_batch_size = self.data["batch_size"], self.data["val_batch_size"]
        self.num_workers = self.data["num_workers"]
        self.read = dict(
            sample_rate=frontend.sample_rate,
            silence_threshold_db=self.data["silence_threshold_db"],
            channels=self.data.get("channels", "mix"),
            resampler=self.data.get("resampler", "soxr_hq"),
        )
        self.shards: Optional[Listing] = None  # set when training crops stream from shards
        self.train_clips: list[Clip] = []
        self.val_clips: list[Clip] = []
        self.skipped: list[str] = []
        self._listed = False

    def setup(self, stage: Optional[str] = None) -> None:
        """List and scan the files once: the training and validation clips (or shard entries); DataError when either
        set is empty; a warning naming each unusable file."""
        if self._listed:
            return
        self._listed = True
        data, val_dir = self.data, self.data.get("val_dir")
        from audiovae.data.shards import val_pick

        keep = None if val_dir else (lambda key: val_pick(key, self.seed, data["val_ratio"]))  # validation bytes
        section = {k: data.get(k) for k in ("source", "dir", "patterns", "manifest", "dataset_root", "shards")}
        listing, bad = usable_entries({**section, "options": data.get("options") or {}}, keep)
        if listing.shards:
            self.shards, _, val_entries = split_shard_entries(listing, data["val_ratio"], self.seed, bool(val_dir))
            clips, bad_scan = scan_clips(val_entries, **self.read)
        else:
            clips, bad_scan = scan_clips(listing.entries, **self.read)
        bad += bad_scan
        if val_dir:
            self.train_clips = [] if listing.shards else clips
            val_listing, bad_val = usable_entries(dict(dir=val_dir, patterns=data["patterns"]))
            self.val_clips, bad_scan = scan_clips(val_listing.entries, **self.read)
            bad += bad_val + bad_scan
        elif listing.shards:
            self.val_clips = clips
        else:
            train_pos, val_pos = split_by_file(len(clips), data["val_ratio"], self.seed)
            self.train_clips, self.val_clips = [clips[i] for i in train_pos], [clips[i] for i in val_pos]
        self.skipped = bad
        if bad:
            warnings.warn(f"skipping {len(bad)} unusable file(s):\n  " + "\n  ".join(bad), stacklevel=2)
        self._check_not_empty()

    def _check_not_empty(self) -> None:
        n_train = len(self.shards.entries) if self.shards else len(self.train_clips)
        if not n_train or not self.val_clips:
            data = self.data
            where = next(
                f"data.{key} '{data[key]}'" for key in ("shards", "manifest", "dir") if data.get(key) or key == "dir"
            )
            raise DataError(
                f"need at least one training and one validation file with usable audio; found "
                f"{n_train} and {len(self.val_clips)} ({where})"
            )

    def _rank_world(self) -> tuple[int, int]:
        return (self.trainer.global_rank, self.trainer.world_size) if self.trainer else (0, 1)

    def train_dataloader(self) -> DataLoader:
        rank, world = self._rank_world()
        if self.shards is not None:
            return self._shard_loader(rank, world)
        dataset = (
            TiledCrops(self.train_clips, self.frontend, self.crop)
            if self.pre_encode
            else RandomCrops(self.train_clips, self.frontend, self.crop, self.seed)
        )
        sampler = EpochSampler(dataset, num_replicas=world, rank=rank, shuffle=True, seed=self.seed, drop_last=False)
        sampler.position_source = self._position_source(len(sampler))
        return DataLoader(
            sampler.dataset, batch_size=self.batch_size, sampler=sampler, num_workers=self.num_workers, drop_last=False
        )

    def _position_source(self, items: int) -> Optional[Callable[[], tuple[int, int]]]:
        """Where a pass over this rank's `items` per epoch starts: (epoch, items of it already trained on), derived
        from the trainer's global step (optimizer steps per epoch count the last partial accumulation too); None
        without a trainer."""
        if self.trainer is None:
            return None
        steps_per_epoch = math.ceil(math.ceil(items / self.batch_size) / self.accumulate)

        def position() -> tuple[int, int]:
            step = self.trainer.global_step
            return step // steps_per_epoch, (step % steps_per_epoch) * self.batch_size * self.accumulate

        return position

    def _shard_loader(self, rank: int, world: int) -> DataLoader:
        from audiovae.data.shard_crops import ShardCrops

        dataset = ShardCrops(
            self.shards, self.frontend, self.crop, self.seed, rank, world, self.batch_size, **self.read
        )
        dataset.position_source = self._position_source(len(dataset))
        warnings.filterwarnings("ignore", ".*IterableDataset.*has .__len__. defined.*")  # each worker takes its own
        return DataLoader(dataset, batch_size=self.batch_size, num_workers=self.num_workers, drop_last=False)

    def val_dataloader(self) -> DataLoader:
        rank, world = self._rank_world()
        dataset = FixedCrops(self.val_clips, self.frontend, self.crop)
        return DataLoader(
            dataset,
            batch_size=self.val_batch_size,
            sampler=ShardSampler(len(dataset), rank, world),
            num_workers=self.num_workers,
        )
