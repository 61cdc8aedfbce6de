"""Seeded models in their hub format, built on first use (`model.build`): tiny random models of every family for
tests and CI (AudioLDM2-shaped, Oobleck, EnCodec, DAC), the demo VAE's initialisation, and random weights at
AudioLDM2's full size for benchmarks."""

import json
from pathlib import Path

import torch
from diffusers import AutoencoderKL
from transformers import SpeechT5HifiGan, SpeechT5HifiGanConfig
from transformers.utils import logging as transformers_logging

TINY_VAE = dict(
    in_channels=1,
    out_channels=1,
    latent_channels=8,
    layers_per_block=1,
    norm_num_groups=8,
    sample_size=64,
    block_out_channels=(8, 16, 16),
    down_block_types=("DownEncoderBlock2D",) * 3,
    up_block_types=("UpDecoderBlock2D",) * 3,
    scaling_factor=0.5,
)
# The bundled demo VAE's architecture (AudioLDM2's VAE family at 1/8 of its channels); trained weights ship in
# audiovae/assets/models/demo, trained from this seeded initialisation by `python -m audiovae.training.demo_vae`.
DEMO_VAE = dict(
    in_channels=1,
    out_channels=1,
    latent_channels=8,
    layers_per_block=1,
    norm_num_groups=8,
    sample_size=256,
    block_out_channels=(16, 32, 64),
    down_block_types=("DownEncoderBlock2D",) * 3,
    up_block_types=("UpDecoderBlock2D",) * 3,
    scaling_factor=1.0,
)
TINY_VOCODER = dict(
    model_in_dim=64,
    sampling_rate=16000,
    upsample_initial_channel=32,
    upsample_rates=[4, 4, 10],
    upsample_kernel_sizes=[8, 8, 20],
    resblock_kernel_sizes=[3],
    resblock_dilation_sizes=[[1, 3]],
    normalize_before=False,
    initializer_range=0.1,  # audible output from random weights
)


def write_seeded_model(path: Path, builder: str, seed: int, vae: dict, vocoder: dict | None = None) -> Path:
    """`vae/` (and `vocoder/` unless None) as config.json + safetensors under `path`, from seeded random
    initialisation (the VAE from `seed`, the vocoder from `seed + 1`), and a model card naming the builder. The
    caller's random state is left as it was (building on first use must not change what a seeded run draws next)."""
    path = Path(path)
    transformers_logging.disable_progress_bar()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        AutoencoderKL(**vae).save_pretrained(path / "vae", safe_serialization=True)
        if vocoder is not None:
            torch.manual_seed(seed + 1)
            SpeechT5HifiGan(SpeechT5HifiGanConfig(**vocoder)).save_pretrained(path / "vocoder", safe_serialization=True)
    (path / "audiovae_model.json").write_text(json.dumps({"builder": builder, "seed": seed}) + "\n")
    return path


def build_tiny_model(path: Path, seed: int = 0) -> Path:
    """The tiny AudioLDM2-shaped VAE and vocoder; same seed, same weights."""
    return write_seeded_model(path, "tiny", seed, TINY_VAE, TINY_VOCODER)


def build_demo_untrained(path: Path, seed: int = 0) -> Path:
    """The seeded, untrained demo VAE (`vae/` only: its vocoder is Griffin-Lim)."""
    return write_seeded_model(path, "demo_untrained", seed, DEMO_VAE)


# AudioLDM2's VAE and HiFi-GAN at full size (as in cvssp/audioldm2's vae/ and vocoder/ configs); random weights.
AUDIOLDM2_VAE = dict(
    in_channels=1,
    out_channels=1,
    latent_channels=8,
    layers_per_block=2,
    norm_num_groups=32,
    sample_size=1024,
    block_out_channels=(128, 256, 512),
    down_block_types=("DownEncoderBlock2D",) * 3,
    up_block_types=("UpDecoderBlock2D",) * 3,
    scaling_factor=0.4342,
)
AUDIOLDM2_VOCODER = dict(
    model_in_dim=64,
    sampling_rate=16000,
    upsample_initial_channel=1024,
    upsample_rates=[5, 4, 2, 2, 2],
    upsample_kernel_sizes=[16, 16, 8, 4, 4],
    resblock_kernel_sizes=[3, 7, 11],
    resblock_dilation_sizes=[[1, 3, 5], [1, 3, 5], [1, 3, 5]],
    normalize_before=False,
)


def build_audioldm2_random(path: Path, seed: int = 0) -> Path:
    """AudioLDM2's VAE and vocoder architectures with seeded random weights: timing and memory benchmarks."""
    return write_seeded_model(path, "audioldm2_random", seed, AUDIOLDM2_VAE, AUDIOLDM2_VOCODER)


# A CLAP of the real one's input format (48 kHz, 10 s windows, 64 mel bins, spec_size 256) with tiny towers: the
# embedding model of set metrics (fad) in tests and CI.
TINY_CLAP_AUDIO = dict(
    depths=[1, 1],
    num_attention_heads=[1, 2],
    hidden_size=32,
    patch_embeds_hidden_size=16,
    window_size=8,
    spec_size=256,
    num_mel_bins=64,
    patch_stride=[4, 4],
    projection_dim=16,
    num_classes=10,
    enable_fusion=False,
)
TINY_CLAP_TEXT = dict(
    vocab_size=100,
    hidden_size=16,
    num_hidden_layers=1,
    num_attention_heads=1,
    intermediate_size=16,
    projection_dim=16,
    max_position_embeddings=40,
)


def build_tiny_clap(path: Path, seed: int = 0) -> Path:
    """A seeded random ClapModel with tiny towers and CLAP's feature extractor, saved as a hub folder would be."""
    from transformers import ClapConfig, ClapFeatureExtractor, ClapModel

    path = Path(path)
    transformers_logging.disable_progress_bar()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        config = ClapConfig(text_config=TINY_CLAP_TEXT, audio_config=TINY_CLAP_AUDIO, projection_dim=16)
        ClapModel(config).save_pretrained(path, safe_serialization=True)
    ClapFeatureExtractor().save_pretrained(path)
    tiny_text_tokenizer(TINY_CLAP_TEXT["vocab_size"]).save_pretrained(path)
    (path / "audiovae_model.json").write_text(json.dumps({"builder": "tiny_clap", "seed": seed}) + "\n")
    return path


def _write_seeded(path: Path, builder: str, seed: int, make, subfolder: str = "") -> Path:
    """`make()` under `torch.manual_seed(seed)` (the caller's random state kept), saved as `path/subfolder`, with a
    model card naming the builder."""
    path = Path(path)
    transformers_logging.disable_progress_bar()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        make().save_pretrained(path / subfolder if subfolder else path, safe_serialization=True)
    (path / "audiovae_model.json").write_text(json.dumps({"builder": builder, "seed": seed}) + "\n")
    return path


# Stable Audio Open's AutoencoderOobleck (44.1 kHz stereo, hop 2048, 64 latent channels) at a tiny width with its
# hop cut to 64 (2 · 4 · 8), so a test clip has several latent frames (the encoder outputs mean and scale: its
# hidden size is twice the latent channels).
TINY_OOBLECK = dict(
    encoder_hidden_size=16,
    downsampling_ratios=[2, 4, 8],
    channel_multiples=[1, 2, 2],
    decoder_channels=8,
    decoder_input_channels=8,
    audio_channels=2,
    sampling_rate=44100,
)
# EnCodec 24 kHz (hop 320, 75 frames/s, bandwidths 1.5-24 kbps) with tiny convolutions and 64-entry codebooks.
TINY_ENCODEC = dict(
    num_filters=4,
    codebook_size=64,
    codebook_dim=8,
    hidden_size=8,
    upsampling_ratios=[8, 5, 4, 2],
    num_lstm_layers=1,
    sampling_rate=24000,
    target_bandwidths=[1.5, 3.0, 6.0],
)
# DAC 44.1 kHz (hop 512 as the real one: 2 · 4 · 8 · 8) with tiny convolutions and 3 codebooks.
TINY_DAC = dict(
    encoder_hidden_size=4,
    downsampling_ratios=[2, 4, 8, 8],
    decoder_hidden_size=16,
    n_codebooks=3,
    codebook_size=32,
    codebook_dim=4,
    hidden_size=16,
    sampling_rate=44100,
)


def build_tiny_oobleck(path: Path, seed: int = 0) -> Path:
    """Write a tiny seeded Oobleck VAE (Stable Audio Open's family) to `path` for offline tests."""
    from diffusers import AutoencoderOobleck

    return _write_seeded(path, "tiny_oobleck", seed, lambda: AutoencoderOobleck(**TINY_OOBLECK), "vae")


def build_tiny_encodec(path: Path, seed: int = 0) -> Path:
    """Write a tiny seeded EnCodec to `path` for offline tests."""
    from transformers import EncodecConfig, EncodecModel

    return _write_seeded(path, "tiny_encodec", seed, lambda: EncodecModel(EncodecConfig(**TINY_ENCODEC)))


def build_tiny_dac(path: Path, seed: int = 0) -> Path:
    """Write a tiny seeded DAC to `path` for offline tests."""
    from transformers import DacConfig, DacModel

    return _write_seeded(path, "tiny_dac", seed, lambda: DacModel(DacConfig(**TINY_DAC)))


BUILDERS = {
    "tiny": build_tiny_model,
    "tiny_oobleck": build_tiny_oobleck,
    "tiny_encodec": build_tiny_encodec,
    "tiny_dac": build_tiny_dac,
    "demo_untrained": build_demo_untrained,
    "audioldm2_random": build_audioldm2_random,
    "tiny_clap": build_tiny_clap,
}


def _byte_symbols() -> list[str]:
    """The 256 symbols byte-level BPE (GPT-2, RoBERTa) writes bytes as: printable Latin-1 as themselves, the
    others shifted above U+0100."""
    keep = {*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)}
    shifted = iter(range(256, 512))
    return [chr(b) if b in keep else chr(next(shifted)) for b in range(256)]


def tiny_text_tokenizer(vocab_size: int):
    """A RoBERTa tokenizer of fewer than `vocab_size` tokens (CLAP's text tower's kind): byte-level BPE without
    merges over lower-case letters, digits and the space; any other character is <unk>."""
    from transformers import RobertaTokenizer

    symbols = ["<s>", "<pad>", "</s>", "<unk>", "\u0120", *"abcdefghijklmnopqrstuvwxyz0123456789", "<mask>"]
    assert len(symbols) <= vocab_size
    return RobertaTokenizer(vocab={s: i for i, s in enumerate(symbols)}, merges=[], model_max_length=40)


def tiny_tokenizers():
    """(RoBERTa, T5) tokenizers built from a small vocabulary in code, no download: byte-level BPE without merges
    (every byte a token) and a unigram model of letters and a few words."""
    from transformers import RobertaTokenizer, T5Tokenizer

    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    for symbol in _byte_symbols():
        vocab.setdefault(symbol, len(vocab))
    vocab["<mask>"] = len(vocab)
    roberta = RobertaTokenizer(vocab=vocab, merges=[], model_max_length=77)
    pieces = [
        ("<pad>", 0.0),
        ("</s>", 0.0),
        ("<unk>", 0.0),
        *((c, -1.0) for c in "▁abcdefghijklmnopqrstuvwxyz"),
        *(("▁" + w, -2.0) for w in "a the of and dog music rain piano wind water".split()),
    ]
    return roberta, T5Tokenizer(vocab=pieces, extra_ids=0, model_max_length=77)


# AudioLDM2Pipeline shapes: every network's constructor arguments. Tokenizers are `tiny_tokenizers` (no download);
# a vocabulary size of None is the tokenizer's length.
TINY_PIPELINE = dict(
    unet=dict(
        block_out_channels=(32, 64),
        layers_per_block=1,
        sample_size=32,
        norm_num_groups=8,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=([None, 16, 32], [None, 16, 32]),
    ),
    clap_text=dict(hidden_size=16, intermediate_size=37, num_attention_heads=2, num_hidden_layers=1, projection_dim=16),
    # the CLAP feature extractor's hop (7900) and fusion truncation (as diffusers' own tests) give this audio tower
    # the 4 × 64 frames it takes: re-ranking runs
    clap_audio=dict(
        spec_size=64,
        window_size=4,
        num_mel_bins=64,
        intermediate_size=37,
        depths=[1, 1],
        patch_embeds_hidden_size=16,
        num_attention_heads=[2, 2],
        num_hidden_layers=2,
        hidden_size=32,
        projection_dim=16,
        patch_size=2,
        patch_stride=2,
        patch_embed_input_channels=4,
    ),
    clap_projection=16,
    extractor=dict(truncation="fusion", hop_length=7900),
    t5=dict(vocab_size=None, d_model=32, d_ff=37, d_kv=8, num_heads=2, num_layers=1),
    gpt2=dict(n_embd=16, n_head=2, n_layer=1, vocab_size=None, n_ctx=99, n_positions=99),
    vae=TINY_VAE,
    vocoder=TINY_VOCODER,
)
# AudioLDM2's sizes (cvssp/audioldm2: UNet 128·[1, 2, 3, 5] channels with GPT-2 and FLAN-T5-large cross-attention,
# CLAP HTSAT-unfused with a RoBERTa-base text tower, FLAN-T5-large encoder, GPT-2 base), random weights: benchmarks.
AUDIOLDM2_PIPELINE = dict(
    unet=dict(
        block_out_channels=(128, 256, 384, 640),
        layers_per_block=2,
        sample_size=256,
        norm_num_groups=32,
        attention_head_dim=(4, 8, 12, 20),
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=([None, 768, 1024],) * 4,
    ),
    clap_text=dict(
        hidden_size=768,
        intermediate_size=3072,
        num_attention_heads=12,
        num_hidden_layers=12,
        projection_dim=512,
        vocab_size=50265,
        max_position_embeddings=514,
    ),
    clap_audio=dict(projection_dim=512),
    clap_projection=512,
    extractor=dict(),
    t5=dict(
        vocab_size=32128, d_model=1024, d_ff=2816, d_kv=64, num_heads=16, num_layers=24, feed_forward_proj="gated-gelu"
    ),
    gpt2=dict(n_embd=768, n_head=12, n_layer=12, vocab_size=50257, n_positions=1024),
    vae=AUDIOLDM2_VAE,
    vocoder=AUDIOLDM2_VOCODER,
)


def write_seeded_pipeline(path: Path, builder: str, seed: int, shape: dict) -> Path:
    """A seeded random-weight `AudioLDM2Pipeline` of `shape` saved as a hub folder (`from_pretrained` loads it). The
    language model is a `GPT2Model`, as in the real checkpoints."""
    from diffusers import AudioLDM2Pipeline, AudioLDM2ProjectionModel, AudioLDM2UNet2DConditionModel, DDIMScheduler
    from transformers import (
        ClapAudioConfig,
        ClapConfig,
        ClapFeatureExtractor,
        ClapModel,
        ClapTextConfig,
        GPT2Config,
        GPT2Model,
        T5Config,
        T5EncoderModel,
    )

    path = Path(path)
    transformers_logging.disable_progress_bar()
    roberta, t5 = tiny_tokenizers()
    latent = shape["vae"]["latent_channels"]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        unet = AudioLDM2UNet2DConditionModel(in_channels=latent, out_channels=latent, **shape["unet"])
        text = ClapTextConfig(
            bos_token_id=0, eos_token_id=2, pad_token_id=1, **{"vocab_size": len(roberta), **shape["clap_text"]}
        )
        audio = ClapAudioConfig(**shape["clap_audio"])
        gpt2 = {**shape["gpt2"], "vocab_size": shape["gpt2"]["vocab_size"] or len(roberta)}
        language = GPT2Model(GPT2Config(bos_token_id=0, eos_token_id=2, **gpt2))
        language.config.max_new_tokens = 8
        clap = ClapModel(
            ClapConfig(
                text_config=text.to_dict(), audio_config=audio.to_dict(), projection_dim=shape["clap_projection"]
            )
        )
        t5_shape = {**shape["t5"], "vocab_size": shape["t5"]["vocab_size"] or len(t5)}
        pipe = AudioLDM2Pipeline(
            vae=AutoencoderKL(**shape["vae"]),
            text_encoder=clap,
            text_encoder_2=T5EncoderModel(T5Config(**t5_shape)),
            projection_model=AudioLDM2ProjectionModel(
                text_encoder_dim=shape["clap_projection"],
                text_encoder_1_dim=t5_shape["d_model"],
                langauge_model_dim=gpt2["n_embd"],
            ),
            language_model=language,
            tokenizer=roberta,
            tokenizer_2=t5,
            feature_extractor=ClapFeatureExtractor(**shape["extractor"]),
            unet=unet,
            scheduler=DDIMScheduler(
                beta_start=0.00085,
                beta_end=0.012,
                beta_schedule="scaled_linear",
                clip_sample=False,
                set_alpha_to_one=False,
            ),
            vocoder=SpeechT5HifiGan(SpeechT5HifiGanConfig(**shape["vocoder"])),
        )
        pipe.save_pretrained(path, safe_serialization=True)
    (path / "audiovae_model.json").write_text(json.dumps({"builder": builder, "seed": seed}) + "\n")
    return path


def build_tiny_pipeline(path: Path, seed: int = 0) -> Path:
    """A tiny random-weight `AudioLDM2Pipeline` (`TINY_PIPELINE`): its VAE and vocoder are the tiny model's, the
    UNet, CLAP, T5, GPT-2 and projection a few layers wide; offline tests of generation."""
    return write_seeded_pipeline(path, "tiny_pipeline", seed, TINY_PIPELINE)


def build_audioldm2_random_pipeline(path: Path, seed: int = 0) -> Path:
    """`AUDIOLDM2_PIPELINE`: AudioLDM2's sizes with random weights (about 4.5 GB): generation benchmarks."""
    return write_seeded_pipeline(path, "audioldm2_random_pipeline", seed, AUDIOLDM2_PIPELINE)


BUILDERS.update(tiny_pipeline=build_tiny_pipeline, audioldm2_random_pipeline=build_audioldm2_random_pipeline)
