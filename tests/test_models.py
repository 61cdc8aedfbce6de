import time

import pytest
import torch
from omegaconf import OmegaConf

from audiovae.config import ConfigError, EvalConfig, compose
from audiovae.demo import demo_clips
from audiovae.enhancers import EnhancerChain, LatentFFTBoost, MelHFShelf
from audiovae.models import EnhancedVAE, ModelUnavailableError, build_tiny_model
from audiovae.models.builders import build_demo_untrained
from audiovae.models.factory import build_frontend, build_model
from audiovae.models.griffin_lim import GriffinLimVocoder
from audiovae.models.loading import load_pretrained
from audiovae.sections import resolve_sections


def load_models(name, path, vae_subfolder, vocoder_subfolder, cache_dir=None):
    """The VAE and HiFi-GAN of a mel model at `path` (a hub id or folder), through the loader every run uses."""
    from diffusers import AutoencoderKL
    from transformers import SpeechT5HifiGan

    model = OmegaConf.create(
        {
            "name": name,
            "path": path,
            "vae_subfolder": vae_subfolder,
            "build": None,
            "cache_dir": cache_dir,
            "family": "audioldm",
        }
    )
    return load_pretrained(model, AutoencoderKL, vae_subfolder), load_pretrained(
        model, SpeechT5HifiGan, vocoder_subfolder
    )


def tiny_cfg(*overrides):
    return compose("eval", ["model=tiny", *overrides], schema=EvalConfig, validators=[resolve_sections])


@pytest.fixture(scope="module")
def tiny():
    cfg = tiny_cfg()
    return build_model(cfg.model, cfg.enhancement, cfg.frontend), cfg


def test_tiny_model_is_deterministic_and_loads_through_from_pretrained(tmp_path):
    a, b = build_tiny_model(tmp_path / "a"), build_tiny_model(tmp_path / "b")
    for sub in ("vae", "vocoder"):
        assert (a / sub / "config.json").is_file() and list((a / sub).glob("*.safetensors"))
    vae_a, voc_a = load_models("tiny", str(a), "vae", "vocoder")
    vae_b, voc_b = load_models("tiny", str(b), "vae", "vocoder")
    for m, n in ((vae_a, vae_b), (voc_a, voc_b)):
        for (ka, va), (kb, vb) in zip(m.state_dict().items(), n.state_dict().items()):
            assert ka == kb and torch.equal(va, vb)
    assert not vae_a.training and vae_a.config.latent_channels == 8


def test_model_tiny_config_builds_into_the_cache_on_first_use_without_touching_the_random_state(audiovae_home):
    cfg = tiny_cfg()
    torch.manual_seed(7)
    build_model(cfg.model, cfg.enhancement, cfg.frontend)  # builds the model
    assert (audiovae_home / "models" / "tiny-v2" / "vae" / "config.json").is_file()
    after_building = torch.rand(3)
    torch.manual_seed(7)
    build_model(cfg.model, cfg.enhancement, cfg.frontend)  # loads it
    assert torch.equal(torch.rand(3), after_building)  # a seeded run draws the same either way


def test_offline_hub_id_fails_fast_with_instructions(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("HF_ENDPOINT", "https://127.0.0.1:9")
    start = time.monotonic()
    with pytest.raises(ModelUnavailableError) as err:
        load_models("audioldm2", "cvssp/audioldm2", "vae", "vocoder", cache_dir=str(tmp_path))
    assert time.monotonic() - start < 10
    message = str(err.value)
    assert "audioldm2" in message and "huggingface-cli download cvssp/audioldm2" in message
    assert "model.path" in message


def test_missing_local_folder_error_names_the_folder(tmp_path):
    (tmp_path / "vae").mkdir()
    with pytest.raises(ModelUnavailableError, match=str(tmp_path)):
        load_models("mine", str(tmp_path), "vae", "vocoder")


def test_one_encode_gives_base_and_enhanced(tiny, monkeypatch):
    evae, cfg = tiny
    fe = build_frontend(cfg.frontend, evae.downsampling)
    mel = fe(torch.randn(2, 16000))
    calls = []
    original = evae.vae.encode
    monkeypatch.setattr(evae.vae, "encode", lambda x: calls.append(1) or original(x))
    latent = evae.encode(mel)
    base_mel, enhanced_mel = evae.decode(latent, enhanced=False), evae.decode(latent, enhanced=True)
    assert len(calls) == 1
    assert base_mel.shape == enhanced_mel.shape == mel.shape
    assert not torch.allclose(base_mel, enhanced_mel)


def test_latent_is_scaled_by_the_vae_config_and_encode_is_deterministic(tiny):
    evae, cfg = tiny
    mel = build_frontend(cfg.frontend, evae.downsampling)(torch.randn(1, 8000))
    z = evae.encode(mel)
    torch.testing.assert_close(z, evae.vae.encode(mel).latent_dist.mode() * evae.vae.config.scaling_factor)
    assert torch.equal(z, evae.encode(mel))


def test_sampling_needs_a_seeded_generator(tiny):
    evae, cfg = tiny
    sampling = EnhancedVAE(evae.vae, evae.vocoder, evae.enhancer, sample_posterior=True)
    mel = torch.randn(1, 1, 16, 64)
    with pytest.raises(ValueError, match="generator"):
        sampling.encode(mel)
    a = sampling.encode(mel, torch.Generator().manual_seed(3))
    b = sampling.encode(mel, torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and not torch.equal(a, evae.encode(mel))


def test_base_and_enhanced_share_one_vae_and_identity_enhancer_equals_base(tiny):
    evae, _ = tiny
    identity = EnhancedVAE(evae.vae, evae.vocoder, EnhancerChain([LatentFFTBoost(gain=1.0), MelHFShelf(gain=1.0)]))
    assert sum(isinstance(m, type(evae.vae)) for m in identity.modules()) == 1
    latent = identity.encode(torch.randn(1, 1, 32, 64))
    enhanced, base = identity.decode(latent, enhanced=True), identity.decode(latent, enhanced=False)
    torch.testing.assert_close(enhanced, base, atol=1e-5, rtol=1e-5)


def test_vae_and_vocoder_are_frozen_and_vocoder_output_is_cropped(tiny):
    evae, _ = tiny
    assert not any(p.requires_grad for p in evae.vae.parameters())
    assert not any(p.requires_grad for p in evae.vocoder.parameters())
    wave = evae.vocode(torch.randn(2, 1, 12, 64), num_samples=1850)
    assert wave.shape == (2, 1850)


def test_downsampling_follows_the_vae_config(tiny):
    evae, _ = tiny
    assert evae.downsampling == 4 and OmegaConf.select(tiny_cfg(), "model.build") == "tiny"


def test_griffin_lim_inverts_the_front_end_deterministically():
    cfg = tiny_cfg()
    frontend = build_frontend(cfg.frontend, frame_multiple=1)
    music = demo_clips(seconds=1.0, sr=16000)
    clips = torch.stack([torch.from_numpy(music["band"]), torch.from_numpy(music["chord"])]) * 0.6
    mel = frontend(clips).squeeze(1)
    vocoder = GriffinLimVocoder(frontend, n_iter=32)
    wave = vocoder(mel)
    assert wave.shape == clips.shape and torch.equal(wave, vocoder(mel))
    torch.testing.assert_close(vocoder(mel[1]), wave[1], rtol=0, atol=1e-5)  # batch-independent
    error = (frontend(wave).squeeze(1) - mel).abs()
    loud = mel > mel.amax() - 6  # within ~52 dB of the peak
    assert error[loud].mean() < 0.15  # log-mel of the re-synthesis; the phase is Griffin-Lim's, not the input's
    assert (frontend(GriffinLimVocoder(frontend, n_iter=32, nnls_iters=0)(mel)).squeeze(1) - mel).abs()[
        loud
    ].mean() > 1.25 * error[loud].mean()  # the NNLS refinement of the pseudo-inverse matters
    assert GriffinLimVocoder(frontend, n_iter=1)(mel).shape == clips.shape
    with pytest.raises(ValueError, match="griffin_lim_iters"):
        GriffinLimVocoder(frontend, n_iter=0)


def test_griffin_lim_vocoder_needs_only_the_vae_folder(tmp_path):
    build_demo_untrained(tmp_path / "m")
    cfg = tiny_cfg(f"model.path={tmp_path / 'm'}", "model.build=null", "model.options.vocoder=griffin_lim")
    model = build_model(cfg.model, cfg.enhancement, cfg.frontend)
    assert isinstance(model.vocoder, GriffinLimVocoder) and model.downsampling == 4
    mel = torch.full((1, 1, 16, 64), -5.0)
    assert model.vocode(mel, 2560).shape == (1, 2560)
    with pytest.raises(ModelUnavailableError, match="vocoder"):
        hifigan = tiny_cfg(f"model.path={tmp_path / 'm'}", "model.build=null")
        build_model(hifigan.model, hifigan.enhancement, hifigan.frontend)
    with pytest.raises(ConfigError, match="config key 'model.options.vocoder': must be one of hifigan, griffin_lim"):
        bad = tiny_cfg("model.options.vocoder=wavenet")
        build_model(bad.model, bad.enhancement, bad.frontend)


def test_the_bf16_vocoder_runs_under_autocast_and_stays_close_to_fp32(tmp_path):
    cfg = tiny_cfg()
    from audiovae.models.factory import build_model

    model = build_model(cfg.model, cfg.enhancement, cfg.frontend)
    mel = torch.randn(2, 1, 64, 64, generator=torch.Generator().manual_seed(0)) - 4
    fp32 = model.vocode(mel, 10000)
    model.vocoder_precision = "bf16"
    bf16 = model.vocode(mel, 10000)
    assert bf16.dtype == torch.float32 and bf16.shape == fp32.shape
    rel = float((bf16 - fp32).norm() / fp32.norm())
    assert 0 < rel < 0.05  # bf16 arithmetic: close, not equal (README "Speed": measured on the real sizes)
    with pytest.raises(ValueError, match="vocoder_precision must be one of"):
        type(model)(model.vae, model.vocoder, model.enhancer, vocoder_precision="fp16")
    latent = model.encode(mel)
    base = model.decode(latent, enhanced=False)
    model.vae_precision = "bf16"
    latent16, base16 = model.encode(mel), model.decode(latent, enhanced=False)
    assert latent16.dtype == base16.dtype == torch.float32
    assert 0 < float((base16 - base).norm() / base.norm()) < 0.05
    assert 0 < float((latent16 - latent).norm() / latent.norm()) < 0.05
