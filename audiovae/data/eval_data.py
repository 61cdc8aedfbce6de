"""Evaluation data: every file scanned once (checked, its normalisation measured) and read later block by block
as evaluation needs it, cut or kept whole; bad files become records."""
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

from torch.utils.data import DataLoader, Dataset, Sampler

from audiovae.audio.frontend import MelFrontEnd
from audiovae.audio.io import open_sound
from audiovae.data.files import file_fingerprint
from audiovae.errors import AudioError
from audiovae.audio.stream import PreparedAudio


@dataclass
class EvalItem:
    index: int
    key: str  # file name relative to data.dir
    path: str
    audio: Optional[PreparedAudio] = None  # the prepared waveform at the model rate, read on demand; None on error
    duration_s: float = float("nan")
    sample_rate_in: int = 0
    channels_in: int = 0
    error: str = ""
    stem: str = ""  # unique output name (data.files.output_stems)
    fingerprint: str = ""  # its content hash when the run started ("": not checked); see `changed_since_start`


CHANGED = ("changed while being read (its content differs from when the run started): nothing was kept for it; "
           "evaluate it again")


def changed_since_start(item: EvalItem) -> bool:
    """True when the file's content is no longer what was hashed at the start of the run: its numbers may mix two
    contents, so it becomes an error row and nothing of it is cached."""
    return bool(item.fingerprint) and file_fingerprint(Path(item.path)) != item.fingerprint


class EvalDataset(Dataset):
    """Items for the files at `indices` (positions in the run's full file list)."""

    def __init__(self, paths: Sequence[Path], keys: Sequence[str], indices: Sequence[int], frontend: MelFrontEnd,
                 max_samples: Optional[int], silence_threshold_db: float, stems: Optional[Sequence[str]] = None,
                 min_samples: int = 1, channels: str = "mix", resampler: str = "soxr_hq",
                 fingerprints: Optional[dict] = None, n_channels: int = 1):
        self.paths, self.keys, self.indices = list(paths), list(keys), list(indices)
        self.stems = list(stems) if stems is not None else list(keys)
        self.min_samples, self.channels, self.resampler = min_samples, channels, resampler
        self.frontend, self.max_samples, self.silence_threshold_db = frontend, max_samples, silence_threshold_db
        self.fingerprints = dict(fingerprints or {})
        self.n_channels = n_channels  # the model's channels (read as such with channels="model")

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> EvalItem:
        index = self.indices[i]
        path, key = self.paths[index], self.keys[index]
        item = EvalItem(index, key, str(path), stem=self.stems[index], fingerprint=self.fingerprints.get(key, ""))
        try:
            with open_sound(path) as info:
                item.duration_s = info.frames / info.samplerate if info.samplerate else float("nan")
                item.sample_rate_in, item.channels_in = info.samplerate, info.channels
            item.audio = PreparedAudio.scan(path, self.frontend.sample_rate, self.max_samples or None,
                                            self.silence_threshold_db, self.frontend.normalize, self.min_samples,
                                            self.channels, self.resampler, self.n_channels)
        except AudioError as err:
            item.error = err.reason
        return item


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


def eval_loader(dataset: EvalDataset, batch_size: int, num_workers: int, rank: int = 0,
                world_size: int = 1) -> DataLoader:
    """Rank `rank` of `world_size`'s share of the files (`ShardSampler`), `batch_size` files at a time."""
    return DataLoader(dataset, batch_size=batch_size, sampler=ShardSampler(len(dataset), rank, world_size),
                      num_workers=num_workers, collate_fn=collate_items)
