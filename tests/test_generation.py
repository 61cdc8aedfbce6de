"""Generation through AudioLDM2's own pipeline: a tiny AudioLDM2Pipeline built offline, its latents decoded by hand
equal its own output, and the bridge generates what decoding through the enhancer by hand gives."""

import numpy as np
import pytest
import torch

from audiovae.enhancers import EnhancerChain, LatentFFTBoost, MelHFShelf
from audiovae.enhancers.wave_fft_boost import WaveFFTBoost
from audiovae.generation import compatible_pipeline, enhanced_pipeline
from audiovae.models.builders import build_tiny_pipeline
from audiovae.models.enhanced_vae import EnhancedVAE

PROMPT, STEPS, SECONDS = "a dog and the rain", 3, 1.0


@pytest.fixture(scope="module")
def pipe(tmp_path_factory):
    from diffusers import AudioLDM2Pipeline

    folder = build_tiny_pipeline(tmp_path_factory.mktemp("tiny_pipeline") / "pipe")
    pipe = AudioLDM2Pipeline.from_pretrained(folder)  # the real loading path, from a local folder
    pipe.set_progress_bar_config(disable=True)
    return pipe


def generate(pipe, seed: int, output_type: str = "np"):
    return pipe(
        PROMPT,
        num_inference_steps=STEPS,
        audio_length_in_s=SECONDS,
        output_type=output_type,
        generator=torch.Generator().manual_seed(seed),
    ).audios


def by_hand(pipe, latents: torch.Tensor, enhancer: EnhancerChain, samples: int) -> np.ndarray:
    """The pipeline's latents decoded as evaluation decodes: EnhancedVAE's decode and vocode."""
    model = EnhancedVAE(pipe.vae, pipe.vocoder, enhancer)
    with torch.no_grad():
        mel = model.decode(latents, enhanced=True)
        return model.vocode(mel, samples, enhanced=True).numpy()


def test_the_tiny_pipeline_is_built_offline_and_generates_deterministically(pipe):
    runnable = compatible_pipeline(pipe)
    a, b = generate(runnable, 0), generate(runnable, 0)
    assert a.shape == (1, 16000) and np.array_equal(a, b) and not np.array_equal(a, generate(runnable, 1))
    assert type(pipe.language_model).__name__ == "GPT2Model"  # as in the real checkpoints; the copy steps it


def test_decoding_the_pipelines_latents_by_hand_equals_its_own_output(pipe):
    runnable = compatible_pipeline(pipe)
    audio, latents = generate(runnable, 0), generate(runnable, 0, output_type="latent")
    mine = by_hand(pipe, latents, EnhancerChain([]), audio.shape[-1])
    np.testing.assert_allclose(mine, audio, rtol=0, atol=1e-6)


def test_the_bridge_generates_what_decoding_through_the_enhancer_by_hand_gives(pipe):
    enhancer = EnhancerChain(
        [LatentFFTBoost(gain=1.6, cutoff=0.2), MelHFShelf(gain=1.3, cutoff_band=40), WaveFFTBoost(gain=1.2, cutoff=0.3)]
    )
    bridged = enhanced_pipeline(pipe, enhancer)
    audio = generate(bridged, 0)
    latents = generate(compatible_pipeline(pipe), 0, output_type="latent")
    mine = by_hand(pipe, latents, enhancer, audio.shape[-1])
    np.testing.assert_allclose(audio, mine, rtol=0, atol=1e-5)  # (x / s) · s ≠ x in float32: within rounding
    plain = generate(compatible_pipeline(pipe), 0)
    assert np.abs(audio - plain).max() > 1e-3  # the enhancer changed the generated audio
    # the original pipeline is untouched: it still decodes with its own VAE
    assert type(pipe.vae).__name__ == "AutoencoderKL" and pipe.config.vae[1] == "AutoencoderKL"


def test_an_exported_enhancer_loads_for_the_bridge(pipe, tmp_path):
    from audiovae.enhancers.registry import load_enhancer
    from audiovae.enhancers.serialization import export_enhancer
    from audiovae.errors import ConfigError

    chain = EnhancerChain([LatentFFTBoost(gain=1.6, cutoff=0.2)])
    path = export_enhancer(
        chain, {"name": "latent_fft_boost", "gain": 1.6, "cutoff": 0.2, "axis": -1}, tmp_path / "enhancer.safetensors"
    )
    loaded = load_enhancer(str(path))
    np.testing.assert_array_equal(
        generate(enhanced_pipeline(pipe, loaded), 0), generate(enhanced_pipeline(pipe, chain), 0)
    )
    with pytest.raises(ConfigError, match="enhancer file: .*does not exist"):
        load_enhancer(str(tmp_path / "missing.safetensors"))
