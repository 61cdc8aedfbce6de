"""Training data: clips scanned once (bad files skipped with a warning), a seeded split by file, training crops
(random ones that depend only on (seed, epoch, file), or each file's fixed tiles when they are pre-encoded), and
fixed crops for validation."""
import itertools
import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from audiovae.audio.frontend import MelFrontEnd
from audiovae.audio.io import check_waveform, load_audio
from audiovae.data.eval_data import ShardSampler
from audiovae.data.files import discover_audio_files, file_fingerprint
from audiovae.errors import AudioError, DataError


@dataclass
class Clip:
    path: str
    waveform: np.ndarray  # mono float32 at the model rate, not yet normalised
    fingerprint: str = ""  # sha256 of the file's bytes (its pre-encoded crops are cached under it)


def scan_clips(paths: list[Path], sample_rate: int, silence_threshold_db: float,
               channels: str = "mix", resampler: str = "soxr_hq") -> tuple[list[Clip], list[str]]:
    """Load every file once; returns the good clips and one 'file: reason' line per bad file. A file's content is
    hashed before and after it is read: one that changed in between is bad (its crops would be cached under a hash
    of other bytes)."""
    clips, bad = [], []
    for path in paths:
        try:
            before = file_fingerprint(path)
            clip = load_audio(path, sample_rate, channels, resampler)
            check_waveform(path, clip.waveform, silence_threshold_db)
            if file_fingerprint(path) != before:
                raise AudioError(path, "changed while being read: skipped")
            clips.append(Clip(str(path), clip.waveform, before))
        except AudioError as err:
            bad.append(str(err))
    return clips, bad


def usable_paths(directory: Optional[str], patterns: list[str]) -> tuple[list[Path], list[str]]:
    """The audio files under `directory`, and a 'path: reason' line for each entry that looked like one but cannot be
    read (a FIFO, a device, an unreadable folder: skipped without being opened, as in evaluation)."""
    found = discover_audio_files(directory, patterns)
    unusable = [f"{path}: {why}" for path, why in found.skipped
                if why.startswith(("not a regular file", "unreadable folder"))]
    return found.paths, unusable


def split_by_file(n: int, val_ratio: float, seed: int) -> tuple[list[int], list[int]]:
    """A seeded split of n files: (train positions, val positions), at least one of each when n ≥ 2."""
    order = np.random.default_rng(seed).permutation(n).tolist()
    n_val = min(max(1, round(val_ratio * n)), n - 1) if n >= 2 else 0
    return sorted(order[n_val:]), sorted(order[:n_val])


def prepared_crop(frontend: MelFrontEnd, wave: np.ndarray, crop: int, offset: int) -> tuple[torch.Tensor, int]:
    """(`crop` samples from `offset`, prepared by the front end and zero-padded, the number of real samples)."""
    length = max(0, min(crop, len(wave) - offset))
    out = torch.zeros(crop)
    if length:
        out[:length] = frontend.prepare(torch.from_numpy(np.ascontiguousarray(wave[offset : offset + length])))
    return out, length


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
        self.items = [(position, offset) for position, clip in enumerate(clips)
                      for offset in range(0, max(len(clip.waveform), 1), crop)]

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
    def __init__(self, dir: Optional[str], val_dir: Optional[str], patterns: list[str], val_ratio: float,
                 crop_samples: int, silence_threshold_db: float, batch_size: int, val_batch_size: int,
                 num_workers: int, frontend: MelFrontEnd, seed: int, channels: str = "mix",
                 resampler: str = "soxr_hq", pre_encode: bool = False, accumulate_grad_batches: int = 1):
        super().__init__()
        self.frontend, self.crop, self.seed, self.pre_encode = frontend, crop_samples, seed, pre_encode
        self.accumulate = accumulate_grad_batches
        self.batch_size, self.val_batch_size, self.num_workers = batch_size, val_batch_size, num_workers
        train_paths, bad = usable_paths(dir, patterns)
        clips, bad_train = scan_clips(train_paths, frontend.sample_rate, silence_threshold_db, channels, resampler)
        bad += bad_train
        if val_dir:
            self.train_clips = clips
            val_paths, bad_val = usable_paths(val_dir, patterns)
            self.val_clips, bad_scan = scan_clips(val_paths, frontend.sample_rate, silence_threshold_db, channels,
                                                  resampler)
            bad += bad_val + bad_scan
        else:
            train_pos, val_pos = split_by_file(len(clips), val_ratio, seed)
            self.train_clips = [clips[i] for i in train_pos]
            self.val_clips = [clips[i] for i in val_pos]
        self.skipped = bad
        if bad:
            warnings.warn(f"skipping {len(bad)} unusable file(s):\n  " + "\n  ".join(bad), stacklevel=2)
        if not self.train_clips or not self.val_clips:
            raise DataError(f"need at least one training and one validation file with usable audio; found "
                            f"{len(self.train_clips)} and {len(self.val_clips)} (data.dir '{dir}')")

    def _rank_world(self) -> tuple[int, int]:
        return (self.trainer.global_rank, self.trainer.world_size) if self.trainer else (0, 1)

    def train_dataloader(self) -> DataLoader:
        rank, world = self._rank_world()
        dataset = (TiledCrops(self.train_clips, self.frontend, self.crop) if self.pre_encode
                   else RandomCrops(self.train_clips, self.frontend, self.crop, self.seed))
        sampler = EpochSampler(dataset, num_replicas=world, rank=rank, shuffle=True, seed=self.seed, drop_last=False)
        if self.trainer is not None:  # optimizer steps per epoch (the last partial accumulation steps too)
            steps_per_epoch = math.ceil(math.ceil(len(sampler) / self.batch_size) / self.accumulate)

            def position() -> tuple[int, int]:
                step = self.trainer.global_step
                return step // steps_per_epoch, (step % steps_per_epoch) * self.batch_size * self.accumulate

            sampler.position_source = position
        return DataLoader(sampler.dataset, batch_size=self.batch_size, sampler=sampler, num_workers=self.num_workers,
                          drop_last=False)

    def val_dataloader(self) -> DataLoader:
        rank, world = self._rank_world()
        dataset = FixedCrops(self.val_clips, self.frontend, self.crop)
        return DataLoader(dataset, batch_size=self.val_batch_size, sampler=ShardSampler(len(dataset), rank, world),
                          num_workers=self.num_workers)
