"""Random training crops streamed from WebDataset shards, reproducible and resumable without holding the data.

Rank r of w streams shards r, r + w, … (all of them, keeping every w-th sample, when there are fewer shards than
ranks), in an order drawn from (seed, epoch), through a seeded shuffle buffer; every rank yields the same number of
items per epoch (the smallest rank's), so DDP ranks take equal steps. A crop's offset depends on (seed, epoch, key)
alone. `position_source` gives (epoch, items of this epoch already trained on): a resumed run skips those without
decoding them, so it continues with the items and crops an uninterrupted run would have seen. DataLoader workers take
whole batches in turn (batch b to worker b mod workers), so the order of items does not depend on the number of
workers.
"""

import hashlib
import io
import warnings
from typing import Callable, Iterator, Optional

import numpy as np
import soundfile as sf
import torch
from torch.utils.data import IterableDataset, get_worker_info

from audiovae.audio.frontend import MelFrontEnd
from audiovae.audio.io import SoundSource, check_waveform, load_audio
from audiovae.data.crops import prepared_crop
from audiovae.data.shards import audio_of, rank_shards, sample_key, stream_members
from audiovae.data.sources import Listing
from audiovae.errors import AudioError, DataError

SHUFFLE_BUFFER = 64  # samples a rank's stream shuffles among (their encoded bytes are held)


def key_seed(key: str) -> int:
    """A 32-bit seed from a sample key (sha256), so a crop's offset depends on the key, not on its position."""
    return int(hashlib.sha256(key.encode()).hexdigest()[:8], 16)


class ShardCrops(IterableDataset):
    """Rank `rank` of `world`'s training items streamed from `listing`'s shards (the module docstring says how they
    are ordered, split and resumed): `{"waveform": [crop], "length": n}`, and `"latent"` for a pre-encoded set."""

    position_source: Optional[Callable[[], tuple[int, int]]] = None

    def __init__(
        self,
        listing: Listing,
        frontend: MelFrontEnd,
        crop: int,
        seed: int,
        rank: int,
        world: int,
        batch_size: int,
        sample_rate: int,
        silence_threshold_db: float,
        channels: str = "mix",
        resampler: str = "soxr_hq",
    ):
        self.listing, self.frontend, self.crop, self.seed = listing, frontend, crop, seed
        self.rank, self.world, self.batch_size = rank, world, batch_size
        self.read = dict(sample_rate=sample_rate, channels=channels, resampler=resampler)
        self.silence_threshold_db = silence_threshold_db
        self.train = {sample_key(e): e.key for e in listing.entries}
        counts = [len(self._entries_of(r)) for r in range(world)]
        self.per_rank = min(counts)
        self.warned: set[str] = set()

    def _entries_of(self, rank: int) -> list[str]:
        if len(self.listing.shards) >= self.world:
            shards = set(rank_shards(self.listing.shards, rank, self.world))
            return [e.key for e in self.listing.entries if e.shard in shards]
        return [e.key for e in self.listing.entries][rank :: self.world]

    def __len__(self) -> int:
        return self.per_rank

    def _stream(self, epoch: int) -> Iterator[tuple[str, dict[str, bytes]]]:
        """(key, members) of this rank's training samples in this epoch's order, `per_rank` of them."""
        rng = np.random.default_rng([self.seed, epoch, self.rank])
        few = len(self.listing.shards) < self.world
        shards = rank_shards(self.listing.shards, self.rank, self.world)
        shards = [shards[i] for i in rng.permutation(len(shards))] if not few else shards

        def members() -> Iterator[tuple[str, dict[str, bytes]]]:
            for position, member in enumerate(stream_members(shards, self.train)):
                if not few or position % self.world == self.rank:
                    yield member

        buffer, produced = [], 0
        for member in members():
            buffer.append(member)
            if len(buffer) >= SHUFFLE_BUFFER:
                yield buffer.pop(int(rng.integers(len(buffer))))
                produced += 1
                if produced == self.per_rank:
                    return
        while buffer and produced < self.per_rank:
            yield buffer.pop(int(rng.integers(len(buffer))))
            produced += 1

    def crop_of(self, key: str, parts: dict[str, bytes], epoch: int) -> dict:
        """The prepared random crop of a sample: offset drawn from (seed, epoch, key); of a pre-encoded sample
        (`latent.npy`, `audiovae-data latents`) a random whole segment with its latent. A sample that cannot be
        decoded (or is silent, or not finite) trains as silence, with a warning once."""
        rng = np.random.default_rng([self.seed, epoch, key_seed(key)])
        if "latent.npy" in parts:
            return self.segment_of(key, parts, rng)
        try:
            sound = SoundSource(key, data=audio_of(parts))
            wave = load_audio(sound, **self.read).waveform
            check_waveform(sound, wave, self.silence_threshold_db)
        except AudioError as err:
            if key not in self.warned:
                self.warned.add(key)
                warnings.warn(f"{err}: trained on as silence", stacklevel=2)
            return {"waveform": torch.zeros(self.crop), "length": 0}
        room = max(len(wave) - self.crop, 0)
        offset = int(rng.integers(0, room + 1))
        out, length = prepared_crop(self.frontend, wave, self.crop, offset)
        return {"waveform": out, "length": length}

    def segment_of(self, key: str, parts: dict[str, bytes], rng: np.random.Generator) -> dict:
        """A pre-encoded sample's segment k (drawn by `rng`): its prepared waveform as exported and its latent."""
        latent = np.load(io.BytesIO(parts["latent.npy"]), allow_pickle=False)
        k = int(rng.integers(0, latent.shape[0]))
        wave, _ = sf.read(io.BytesIO(parts["wav"]), dtype="float32")
        segment = wave[k * self.crop : (k + 1) * self.crop]
        if latent.shape[0] * self.crop != len(wave):
            raise DataError(
                f"{key}: its segments are {len(wave) // max(latent.shape[0], 1)} samples, the training "
                f"crop {self.crop}: set data.crop_seconds to the exporting run's data.max_seconds"
            )
        return {
            "waveform": torch.from_numpy(np.ascontiguousarray(segment)),
            "length": len(segment),
            "latent": torch.from_numpy(latent[k]),
        }

    def __iter__(self):
        epoch, done = self.position_source() if self.position_source is not None else (0, 0)
        worker = get_worker_info()
        workers, me = (worker.num_workers, worker.id) if worker is not None else (1, 0)
        first_batch = done // self.batch_size
        try:
            for i, (key, parts) in enumerate(self._stream(epoch)):
                if i < done:
                    continue
                if (i // self.batch_size - first_batch) % workers == me:
                    yield self.crop_of(key, parts, epoch)
        except DataError as err:
            raise DataError(f"training stream: {err}") from None
