"""Pre-encoded training crops (stable-audio-tools' pre-encoding, done lazily): with the encoder frozen, a crop's
reference log-mel and latent — and, with the decoder frozen too, its base decode — never change, so they are
computed the first time the crop is seen and then read back: the second epoch makes no encode call.

Kept in memory (up to `memory_mb`) and, unless the cache is off, in the cross-run store (`audiovae.cache`) under
a key of the file's content, the crop's offset and length, the front end, data rules, the VAE's weights and
configuration, precisions, device type and torch version, so another run on the same files and model starts warm
and a changed file or model misses.
"""

from typing import Callable, Optional

import torch

from audiovae.cache.keys import tensor_key
from audiovae.cache.store import CacheStore

Encodings = dict[str, torch.Tensor]  # "mel", "latent" [, "base_mel"], batched


class CropEncodings:
    """Pre-encoded training crops kept in memory and in the cross-run store (the module docstring says what decides a
    key)."""

    def __init__(self, run_part: dict, store: Optional[CacheStore], memory_mb: float = 2048.0):
        self.run_part, self.store, self.memory_bytes = run_part, store, memory_mb * 2**20
        self.memory: dict[str, Encodings] = {}
        self.held = 0  # bytes in memory
        self.encoded = 0  # crops this process computed (the rest were read back)

    def key(self, fingerprint: str, offset: int, device_type: str) -> Optional[str]:
        """The cache key of a pre-encoded training crop: the file's fingerprint, the crop's offset, the device type
        and the run's model settings (None without a fingerprint)."""
        if not fingerprint:
            return None  # a file that could not be fingerprinted is never cached
        return tensor_key(
            fingerprint,
            {**self.run_part, "crop_offset": int(offset), "device_type": device_type, "purpose": "training_crop"},
        )

    def _read(self, key: Optional[str]) -> Optional[Encodings]:
        if key is None:
            return None
        if key in self.memory:
            return self.memory[key]
        entry = self.store.get(key) if self.store is not None else None
        if entry is None or entry.segments != 1:
            return None
        row = entry.segment(0)
        self._remember(key, row)
        return row

    def _remember(self, key: str, row: Encodings) -> None:
        size = sum(t.numel() * t.element_size() for t in row.values())
        if self.held + size <= self.memory_bytes:
            self.memory[key] = row
            self.held += size

    def _write(self, key: Optional[str], row: Encodings) -> None:
        if key is None:
            return
        self._remember(key, row)
        if self.store is not None:
            self.store.finish(key, [self.store.put_segment(key, 0, row)], {})

    def fetch(self, batch: dict, compute: Callable[[torch.Tensor], Encodings]) -> Encodings:
        """The batch's encodings (on its waveform's device): read back where known, `compute(waveforms)` for the
        rest (one call for all of them), which are then kept."""
        waveform = batch["waveform"]
        keys = [self.key(f, int(o), waveform.device.type) for f, o in zip(batch["fingerprint"], batch["offset"])]
        rows: list[Optional[Encodings]] = [self._read(k) for k in keys]
        missing = [i for i, row in enumerate(rows) if row is None]
        if missing:
            computed = compute(waveform[missing])
            for j, i in enumerate(missing):
                rows[i] = {name: t[j].detach().cpu().clone() for name, t in computed.items()}
                self._write(keys[i], rows[i])
            self.encoded += len(missing)
        return {name: torch.stack([row[name] for row in rows]).to(waveform.device) for name in rows[0]}
