"""Pre-encoded latent sets (`audiovae-data latents RUN_DIR OUT_DIR`, written by
`audiovae.evaluation.latent_export`): for every entry an evaluation evaluated without error, its segments as
evaluation cut them, read and prepared as evaluation read them, through the run's own model and enhancer:

    <key>.wav           the prepared reference segments, end to end (float32, the model's rate) [S · N]
    <key>.latent.npy    the encoder's latents, one per segment [S, C, T, F] (what the decoder's base decode takes)
    <key>.enhanced.npy  the latents after the enhancer's latent stages (equal to latent.npy for a mel-only enhancer)
    <key>.json          id, source, caption, segment_samples, sample_rate, model, weights fingerprint, enhancement

in shards `latents-NNNNNN.tar` with `latents.json` listing them. A diffusion model trains on `latent.npy` or
`enhanced.npy`; audiovae's training takes such shards as `data.shards` and uses `latent.npy` as the frozen encoder's
output (no encode), for models of the same weights (`check_latent_set`).
"""

import json

from audiovae.errors import ConfigError

SHARD_NAME = "latents-%06d.tar"
INDEX = "latents.json"


def check_latent_set(pattern: str, weights: str, crop: int, trains_encoder: bool) -> bool:
    """Whether the shards of `pattern` are a pre-encoded set (their first sample has `latent.npy`); ConfigError
    (one line) when its latents cannot stand for this training's encoder: other weights, another segment length
    than the crop, or an encoder that trains."""
    from audiovae.data.shards import expand, samples

    first = next(samples(expand(pattern)[0]), None)
    if first is None or "latent.npy" not in first[1]:
        return False
    meta = json.loads(first[1].get("json", b"{}"))
    if trains_encoder:
        raise ConfigError(
            "config key 'trainable': the encoder trains, so the pre-encoded latents of data.shards "
            "cannot stand for it; train the enhancer alone or use audio shards"
        )
    if meta.get("weights") != weights:
        raise ConfigError(
            f"config key 'data.shards': its latents were encoded by other weights ({meta.get('model')}, "
            f"{str(meta.get('weights'))[:12]}) than this model's ({weights[:12]})"
        )
    if meta.get("segment_samples") != crop:
        raise ConfigError(
            f"config key 'data.crop_seconds': the pre-encoded segments are "
            f"{meta.get('segment_samples')} samples, the crop {crop}; set it to the exporting run's "
            "data.max_seconds"
        )
    return True
