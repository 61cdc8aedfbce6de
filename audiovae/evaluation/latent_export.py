"""An evaluation's latents as a pre-encoded set (`audiovae-data latents`; the format: `audiovae.data.latents`)."""

import io
import json
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import soundfile as sf
import torch

from audiovae.audio.stream import PreparedAudio
from audiovae.cache.keys import weights_fingerprint
from audiovae.config.compose import compose
from audiovae.config.schema import EvalConfig
from audiovae.data.entries import Listing
from audiovae.data.latents import INDEX, SHARD_NAME
from audiovae.data.packing import check_shard_outputs, safe_keys
from audiovae.data.padding import pad_wave
from audiovae.data.shards import write_shards
from audiovae.data.sources import entry_sounds
from audiovae.enhancers.registry import build_enhancer
from audiovae.errors import AudioError, ConfigError
from audiovae.evaluation.job import build_setup
from audiovae.reporting.records import read_csv
from audiovae.sections import resolve_sections


def array_bytes(array: np.ndarray) -> bytes:
    """`array` as the bytes of a `.npy` file (no pickling), as a shard member holds it."""
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def latent_sample(audio: PreparedAudio, pipeline, enhancer, seg, meta: dict) -> dict:
    """One entry's shard sample: its segments' audio (`wav`), their latents and enhanced latents (`.npy`) and `meta`
    with where the segments start, as the format says (`audiovae.data.latents`)."""
    reader = audio.reader()
    starts = seg.starts(audio.num_samples)
    pieces = [pad_wave(reader.read(a, min(a + seg.segment, audio.num_samples)), seg.segment, seg.pad) for a in starts]
    with torch.no_grad():
        latent = pipeline.shared(torch.stack(pieces)).latent
        enhanced = enhancer.enhance_latent(latent)
    rate = pipeline.frontend.sample_rate
    meta = {
        **meta,
        "segments": len(starts),
        "segment_samples": seg.segment,
        "segment_starts": starts,
        "sample_rate": rate,
    }
    wave = io.BytesIO()
    sf.write(wave, torch.cat(pieces).numpy(), rate, subtype="FLOAT", format="WAV")
    return {
        "wav": wave.getvalue(),
        "latent.npy": array_bytes(latent.numpy()),
        "enhanced.npy": array_bytes(enhanced.numpy()),
        "json": json.dumps(meta, default=str).encode(),
    }


def export_latents(
    run_dir: Path, out: Path, per_shard: int, force: bool = False, admit: Optional[Callable] = None
) -> tuple[list[Path], int]:
    """Write the run's latents as shards under `out` (the format: `audiovae.data.latents`); returns (shards written,
    entries exported). An entry that can no longer be read is left out and listed in `latents.json`. `admit` is the
    consent check for the code the run's config names (`audiovae.cli.admit_code`), run before anything else."""
    saved, results = run_dir / "config.yaml", run_dir / "results.csv"
    if not saved.is_file() or not results.is_file():
        raise ConfigError(
            f"{run_dir}: not a finished evaluation (no config.yaml and results.csv); a sweep's settings "
            "are its sub-folders"
        )
    ok = {r["file"] for r in read_csv(results) if r["status"] == "ok"}
    validators = [admit] if admit is not None else []
    cfg = compose(str(saved), [], schema=EvalConfig, validators=[*validators, resolve_sections])
    setup = build_setup(cfg)
    entries = [e for e in setup.entries if e.key in ok]
    check_shard_outputs(out, SHARD_NAME, INDEX, len(entries), per_shard, force)
    pipeline, seg = setup.pipeline.eval(), setup.segmenting
    enhancer = build_enhancer(cfg.enhancement).eval()
    fingerprint = weights_fingerprint(pipeline.model.weights()[0])
    frontend = pipeline.frontend
    by_key = {e.key: e for e in entries}
    safe = dict(zip(by_key, safe_keys(list(by_key))))
    left_out, exported, seen = [], [], set()

    def samples():  # streamed into the shards: one entry's audio and latents in memory at a time
        for key, sound in entry_sounds(Listing(entries, [], setup.discovery.kind, setup.discovery.shards)):
            entry = by_key[key]
            seen.add(key)
            try:
                audio = PreparedAudio.scan(
                    sound,
                    frontend.sample_rate,
                    None if cfg.data.chunking else seg.segment,
                    cfg.data.silence_threshold_db,
                    frontend.normalize,
                    channels=cfg.data.channels,
                    resampler=cfg.data.resampler,
                )
            except AudioError as err:
                left_out.append({"id": key, "reason": err.reason})
                continue
            meta = {
                "id": key,
                "source": entry.origin,
                "caption": entry.caption,
                "model": cfg.model.name,
                "weights": fingerprint,
                "enhancement": dict(cfg.enhancement),
                "run": str(run_dir),
            }
            exported.append(key)
            yield safe[key], latent_sample(audio, pipeline, enhancer, seg, meta)

    written = write_shards(samples(), str(out / SHARD_NAME), per_shard)
    left_out += [{"id": e.key, "reason": "no longer in its shard"} for e in entries if e.key not in seen]
    (out / INDEX).write_text(
        json.dumps(
            {"shards": [p.name for p in written], "samples": len(exported), "left_out": left_out, "run": str(run_dir)},
            indent=1,
        )
        + "\n"
    )
    return written, len(exported)
