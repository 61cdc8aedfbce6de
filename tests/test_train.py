"""Fine-tuning on the demo and tiny models: it helps, it resumes exactly, it exports what evaluate.py loads."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from diffusers.models.autoencoders.vae import DiagonalGaussianDistribution
from omegaconf import OmegaConf

from audiovae import runs as runs_module
from audiovae.config import ConfigError, EvalConfig, compose
from audiovae.config.schema import TrainConfig
from audiovae.data.train_data import RandomCrops, split_by_file
from audiovae.demo import write_demo_clips
from audiovae.enhancers import LearnableLatentFilter, build_enhancer
from audiovae.enhancers.serialization import export_enhancer, read_enhancement_config
from audiovae.errors import NonFiniteLossError
from audiovae.evaluation.job import run_evaluation
from audiovae.models.factory import build_frontend, build_model
from audiovae.sections import resolve_sections
from audiovae.training import module as train_module_mod
from audiovae.training.export import export_from_checkpoint
from audiovae.training.losses import ReconstructionLoss, band_weighted_l1
from audiovae.training.module import lr_lambda
from audiovae.training.run import run_training
from tests.conftest import chirp, last_gains, noise, tone, train_crashing_at_step, write
from tests.wandb_offline import read_offline_run

ROOT = Path(__file__).resolve().parents[1]
FAST = [
    "model=tiny",
    "data.crop_seconds=1.0",
    "data.batch_size=2",
    "data.val_batch_size=2",
    "examples.count=0",
    "optim.warmup_steps=2",
    "trainer.log_every_n_steps=1",
    "checkpoint.monitor=val/enhanced/mel_l1",
    "trainer.val_check_interval=1.0",
    "trainer.check_val_every_n_epoch=1",
    "trainer.limit_val_batches=1.0",
    "examples.every_n_val=1",
    "checkpoint.last_every_n_steps=1",
]


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    d = tmp_path_factory.mktemp("train_clips")
    write_demo_clips(d, seconds=1.5)
    write(d / "tone.wav", tone(880, 1.2, 16000) + tone(3500, 1.2, 16000, amp=0.1), 16000)
    write(d / "chirp.wav", chirp(300, 7000, 1.5, 22050), 22050)
    write(d / "short.wav", chirp(500, 4000, 0.6, 16000), 16000)
    return d


def train_cfg(data_dir, out_dir, *overrides):
    return compose(
        "train",
        [*FAST, f"data.dir={data_dir}", f"out_dir={out_dir}", *overrides],
        schema=TrainConfig,
        validators=[resolve_sections],
    )


@pytest.fixture(scope="module")
def bright_clips(tmp_path_factory):
    """Bright material the demo VAE was not trained on (rising chirps 1.5-7.5 kHz, noise, a low tone): it loses
    much of its high band, as AudioLDM2's VAE does, which is what fine-tuning an enhancement is for."""
    d = tmp_path_factory.mktemp("bright_clips")
    rng = np.random.default_rng(0)
    for i in range(16):
        clip = (
            rng.uniform(0.2, 0.6) * chirp(rng.uniform(1500, 4000), rng.uniform(4000, 7500), 1.5, 16000)
            + noise(1.5, 16000, amp=rng.uniform(0.02, 0.2))
            + tone(rng.uniform(200, 800), 1.5, 16000, amp=0.3)
        )
        write(d / f"bright{i:02d}.wav", clip.astype(np.float32), 16000)
    return d


@pytest.fixture(scope="module")
def proof_run(bright_clips, tmp_path_factory):
    """60 steps of learnable_latent_filter on the bundled demo VAE at a high rate, tracked in offline W&B."""
    os.environ.pop(runs_module.RUN_DIR_ENV, None)
    out = tmp_path_factory.mktemp("proof") / "run"
    cfg = train_cfg(
        bright_clips,
        out,
        "model=demo",
        "trainer.max_steps=60",
        "optim.lr=0.05",
        "data.val_ratio=0.25",
        "examples.count=1",
        "examples.every_n_val=10",
    )
    outcome = run_training(cfg)
    return out, outcome, json.loads((out / "train_summary.json").read_text())


@pytest.mark.slow
def test_fine_tuning_lowers_the_enhanced_validation_loss_below_its_start_and_below_base(proof_run):
    _, _, summary = proof_run
    start, end = summary["initial_validation"], summary["final_metrics"]
    assert end["val/base/loss"] == pytest.approx(start["val/base/loss"], rel=1e-5)  # the VAE itself is frozen
    assert end["val/enhanced/loss"] < 0.9 * start["val/enhanced/loss"]
    assert end["val/enhanced/loss"] < 0.9 * end["val/base/loss"]
    assert end["val/enhanced/mel_l1"] < start["val/enhanced/mel_l1"]
    assert end["val/enhanced/hf_retention"] > 1.2 * end["val/base/hf_retention"]  # the high band comes back


@pytest.mark.slow
def test_exported_enhancer_evaluates_to_the_validation_numbers(proof_run, tmp_path):
    out, outcome, summary = proof_run
    exported = out / "enhancer.safetensors"
    assert outcome.exported == exported and exported.stat().st_size < 10_000
    files = "[" + ",".join(summary["val_files"]) + "]"
    cfg = compose(
        "eval",
        [
            "model=demo",
            f"data.files={files}",
            "data.max_seconds=1.0",
            "logger=none",
            f"enhancement.checkpoint={exported}",
            f"out_dir={tmp_path / 'eval'}",
            "metrics.bootstrap_samples=100",
        ],
        schema=EvalConfig,
        validators=[resolve_sections],
    )
    assert cfg.enhancement.name == "learnable_latent_filter" and cfg.enhancement.checkpoint == str(exported)
    run_evaluation(cfg)
    result = json.loads((tmp_path / "eval" / "summary.json").read_text())
    assert result["metrics"]["mel_l1"]["variants"]["enhanced"]["mean"] == pytest.approx(outcome.best_score, rel=1e-4)
    saved = compose(str(tmp_path / "eval" / "config.yaml"), schema=EvalConfig, validators=[resolve_sections])
    assert saved.enhancement.checkpoint == str(exported)


@pytest.mark.slow
def test_training_is_logged_to_wandb_offline(proof_run):
    out, outcome, summary = proof_run
    logged = read_offline_run(next((out / "wandb").glob("offline-run-*")))
    assert logged["job_type"] == "train" and logged["config"]["enhancement"]["name"] == "learnable_latent_filter"
    # the run summary of a validation metric is its best value (here the monitored one: the best checkpoint's)
    assert logged["summary"]["val/enhanced/mel_l1"] == {"min": pytest.approx(outcome.best_score)}
    assert logged["summary"]["val/base/snr"].keys() == {"max"}
    assert "train/loss" in logged["summary"]
    assert {"type": "model", "name": "enhancer-demo-learnable_latent_filter"} in [
        {k: a[k] for k in ("type", "name")} for a in logged["artifacts"]
    ]
    assert "val/examples" in logged["tables"] and list((out / "examples").glob("*.png"))


@pytest.mark.slow
def test_validation_examples_have_audio_and_a_page_listing_every_one(proof_run):
    out, _, _ = proof_run
    pngs = sorted((out / "examples").glob("step*_*.png"))
    page = (out / "examples" / "index.html").read_text()
    assert pngs and page.count('<article class="file"') == len(pngs)
    for png in pngs:
        assert f'src="{png.name}"' in page
        waves = [png.with_name(f"{png.stem}.{v}.wav") for v in ("reference", "vocoder", "base", "enhanced")]
        assert all(f'src="{w.name}"' in page for w in waves)
        assert len({sf.info(str(w)).frames for w in waves}) == 1


@pytest.mark.slow
def test_frozen_parts_are_unchanged_and_only_the_enhancer_is_checkpointed(proof_run):
    out, _, summary = proof_run
    cfg = OmegaConf.create(summary["config"])
    fresh = build_model(cfg.model, cfg.enhancement, cfg.frontend)
    ckpt = torch.load(out / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    assert set(ckpt["state_dict"]) == {"model.enhancer.latent_stages.0.gains"}
    trained = ckpt["state_dict"]["model.enhancer.latent_stages.0.gains"]
    assert not torch.equal(trained, fresh.enhancer.latent_stages[0].gains.detach())
    reloaded = build_model(cfg.model, cfg.enhancement, cfg.frontend)
    for a, b in zip(fresh.vae.state_dict().values(), reloaded.vae.state_dict().values()):
        assert torch.equal(a, b)


def test_resumed_training_equals_uninterrupted(clips, tmp_path, monkeypatch):
    common = ["trainer.max_steps=8", "optim.lr=0.05", "data.val_ratio=0.25", "logger=none"]
    run_training(train_cfg(clips, tmp_path / "straight", *common))
    train_crashing_at_step(train_cfg(clips, tmp_path / "resumed", *common), 5, monkeypatch)
    with pytest.raises(ConfigError, match="another config"):
        run_training(train_cfg(clips, tmp_path / "resumed", *common, "optim.lr=0.01", "resume=true"))
    run_training(train_cfg(clips, tmp_path / "resumed", *common, "resume=true"))
    (straight, s_steps), (resumed, r_steps) = last_gains(tmp_path / "straight"), last_gains(tmp_path / "resumed")
    assert s_steps == r_steps == 8
    torch.testing.assert_close(resumed, straight, rtol=1e-6, atol=1e-7)


def test_non_finite_loss_stops_the_run_and_keeps_the_last_good_checkpoint(clips, tmp_path, monkeypatch):
    original = ReconstructionLoss.forward

    def nan_from_step_3(self, *args, **kwargs):
        total, terms = original(self, *args, **kwargs)
        return (total * float("nan"), terms) if torch.is_grad_enabled() and nan_state["steps"] >= 3 else (total, terms)

    nan_state = {"steps": 0}
    monkeypatch.setattr(ReconstructionLoss, "forward", nan_from_step_3)
    monkeypatch.setattr(
        train_module_mod.TrainModule,
        "on_train_batch_end",
        lambda self, *a: nan_state.__setitem__("steps", self.global_step),
        raising=False,
    )
    with pytest.raises(NonFiniteLossError, match="non-finite training loss nan at step 3"):
        run_training(train_cfg(clips, tmp_path / "nan", "trainer.max_steps=10", "data.val_ratio=0.25", "logger=none"))
    last = torch.load(tmp_path / "nan" / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    assert last["global_step"] == 3  # saved at the end of epoch 1 (3 steps), before the NaN at step 3
    assert torch.isfinite(last["state_dict"]["model.enhancer.latent_stages.0.gains"]).all()


def test_bad_training_files_are_skipped_with_one_warning(clips, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    for p in list(clips.glob("*.wav"))[:3]:
        (data / p.name).write_bytes(p.read_bytes())
    (data / "broken.wav").write_bytes(b"RIFF....junk")
    write(data / "silent.wav", np.zeros(8000, dtype=np.float32), 16000)
    with pytest.warns(UserWarning, match=r"skipping 2 unusable file\(s\):\n.*broken.wav: unreadable.*\n.*silent"):
        run_training(
            train_cfg(
                data,
                tmp_path / "out",
                "trainer.max_steps=1",
                "data.val_ratio=0.3",
                "logger=none",
                "loop.validate_before_training=false",
            )
        )
    summary = json.loads((tmp_path / "out" / "train_summary.json").read_text())
    assert len(summary["skipped_files"]) == 2


def test_decoder_can_be_unfrozen_while_the_encoder_and_vocoder_stay_frozen(clips, tmp_path):
    out = tmp_path / "dec"
    run_training(
        train_cfg(
            clips,
            out,
            "trainer.max_steps=2",
            "optim.lr=0.01",
            "data.val_ratio=0.25",
            "logger=none",
            "trainable=[enhancer,vae.decoder]",
            "loop.validate_before_training=false",
        )
    )
    state = torch.load(out / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)["state_dict"]
    assert any(k.startswith("model.vae.decoder.") for k in state)
    assert not any(k.startswith(("model.vae.encoder.", "model.vocoder.")) for k in state)


def test_the_whole_vae_trains_with_a_sampled_posterior_and_kl(clips, tmp_path):
    """VAE training (how the bundled demo VAE is made): encoder and decoder change, the vocoder does not."""
    out = tmp_path / "vae"
    cfg = train_cfg(
        clips,
        out,
        "trainer.max_steps=2",
        "optim.lr=0.01",
        "data.val_ratio=0.25",
        "logger=none",
        "enhancement=none",
        "trainable=[vae]",
        "loss.kl=0.01",
        "loop.validate_before_training=false",
        "checkpoint.monitor=val/base/mel_l1",
    )
    before = build_model(cfg.model, cfg.enhancement, cfg.frontend).vae.state_dict()
    run_training(cfg)
    state = torch.load(out / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)["state_dict"]
    for part in ("encoder.conv_in.weight", "quant_conv.weight", "decoder.conv_out.weight"):
        assert not torch.equal(state[f"model.vae.{part}"], before[part])
    assert not any(k.startswith("model.vocoder.") for k in state)


def test_nothing_to_train_is_a_clear_error(clips, tmp_path):
    with pytest.raises(ValueError, match="nothing to train"):
        run_training(train_cfg(clips, tmp_path / "x", "enhancement=latent_fft_boost", "logger=none"))


def test_split_is_seeded_disjoint_and_crops_depend_only_on_seed_epoch_and_file():
    train, val = split_by_file(10, 0.2, seed=3)
    assert (train, val) == split_by_file(10, 0.2, seed=3) and len(val) == 2 and not set(train) & set(val)
    assert split_by_file(10, 0.2, seed=4) != (train, val)

    class Clip:
        def __init__(self, n):
            self.waveform = np.random.default_rng(n).standard_normal(n).astype(np.float32)

    cfg = compose("train", ["model=tiny"], schema=TrainConfig)
    crops = RandomCrops([Clip(5000), Clip(300)], build_frontend(cfg.frontend, 4), crop=1000, seed=0)
    a, b, c = crops[(0, 1)], crops[(0, 1)], crops[(0, 2)]
    assert torch.equal(a["waveform"], b["waveform"]) and not torch.equal(a["waveform"], c["waveform"])
    short = crops[(1, 0)]
    assert short["length"] == 300 and torch.all(short["waveform"][300:] == 0)


def test_schedule_warms_up_then_decays_to_the_floor():
    f = lr_lambda("cosine", warmup_steps=10, total_steps=110, min_lr_ratio=0.1)
    assert f(0) == pytest.approx(0.1) and f(9) == pytest.approx(1.0)
    assert f(60) == pytest.approx(0.55) and f(110) == pytest.approx(0.1) and f(500) == pytest.approx(0.1)
    assert lr_lambda("constant", 0, 10, 0.1)(7) == 1.0
    with pytest.raises(ValueError, match="optim.schedule"):
        lr_lambda("step", 0, 10, 0.1)


def test_losses():
    target = torch.zeros(1, 1, 4, 8)
    pred = torch.zeros(1, 1, 4, 8)
    pred[..., 6:] = 1.0
    assert band_weighted_l1(pred, target, cutoff_band=6, band_weight=4.0).item() == pytest.approx(8 / 14)
    loss = ReconstructionLoss(mel_l1=1.0, mel_hf_l1=0.0, hf_cutoff_band=6, hf_band_weight=4.0, stft=0.0)
    total, terms = loss(pred, target)
    assert set(terms) == {"mel_l1"} and total.item() == pytest.approx(0.25) and not loss.needs_waveform
    wave_loss = ReconstructionLoss(0.0, 0.0, 6, 4.0, stft=1.0)
    x = torch.randn(1, 8000)
    total, terms = wave_loss(pred, target, x, x)
    assert set(terms) == {"stft"} and total.item() == pytest.approx(0.0, abs=1e-4)
    kl_loss = ReconstructionLoss(1.0, 0.0, 6, 4.0, stft=0.0, kl=0.1)
    standard = DiagonalGaussianDistribution(torch.zeros(2, 8, 3, 4))  # mean 0, log-variance 0
    shifted = DiagonalGaussianDistribution(torch.cat([torch.ones(2, 4, 3, 4), torch.zeros(2, 4, 3, 4)], dim=1))
    assert set(kl_loss(pred, target)[1]) == {"mel_l1"}  # no posterior (frozen encoder): no KL term
    assert kl_loss(pred, target, posterior=standard)[1]["kl"].item() == pytest.approx(0.0)
    total, terms = kl_loss(pred, target, posterior=shifted)
    assert terms["kl"].item() == pytest.approx(0.5) and total.item() == pytest.approx(0.25 + 0.05)


def test_export_round_trip(tmp_path):
    chain = build_enhancer(
        OmegaConf.create(
            {
                "name": "learnable_latent_filter",
                "channels": 8,
                "axis_length": 16,
                "gain": 1.4,
                "cutoff": 0.3,
                "axis": -1,
            }
        )
    )
    with torch.no_grad():
        chain.latent_stages[0].gains.mul_(torch.linspace(0.5, 2, 9))
    path = export_enhancer(
        chain,
        {"name": "learnable_latent_filter", "channels": 8, "axis_length": 16, "gain": 1.4, "cutoff": 0.3, "axis": -1},
        tmp_path / "e.safetensors",
    )
    assert read_enhancement_config(str(path))["name"] == "learnable_latent_filter"
    loaded = build_enhancer(OmegaConf.create({**read_enhancement_config(str(path)), "checkpoint": str(path)}))
    z = torch.randn(2, 8, 5, 16)
    torch.testing.assert_close(loaded.enhance_latent(z), chain.enhance_latent(z))
    assert isinstance(loaded.latent_stages[0], LearnableLatentFilter)
    (tmp_path / "not.safetensors").write_bytes(b"nope")
    for bad in (tmp_path / "missing.safetensors", tmp_path / "not.safetensors"):
        with pytest.raises(ConfigError, match="enhancement.checkpoint"):
            compose(
                "eval",
                ["model=tiny", f"enhancement.checkpoint={bad}"],
                schema=EvalConfig,
                validators=[resolve_sections],
            )


@pytest.mark.slow
def test_export_from_any_checkpoint_matches_the_exported_file(proof_run, tmp_path):
    out, _, _ = proof_run
    again = export_from_checkpoint(Path(next((out / "checkpoints").glob("step*.ckpt"))), tmp_path / "again.safetensors")
    from safetensors.torch import load_file

    assert torch.equal(
        load_file(str(again))["latent_stages.0.gains"],
        load_file(str(out / "enhancer.safetensors"))["latent_stages.0.gains"],
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    "extra",
    [[], ["enhancement=mel_postfilter", "adversarial.discriminator=mel", "adversarial.channels=4", "ema.enabled=true"]],
    ids=["plain", "gan"],
)
def test_ddp_training_with_two_cpu_processes(clips, tmp_path, extra):
    env = {**os.environ, "WANDB_MODE": "offline"}
    env.pop(runs_module.RUN_DIR_ENV, None)
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "train.py"),
            *FAST,
            f"data.dir={clips}",
            f"out_dir={tmp_path / 'ddp'}",
            "trainer=ddp_cpu2",
            "trainer.max_steps=4",
            "optim.lr=0.05",
            "data.val_ratio=0.25",
            "logger=none",
            "trainer.val_check_interval=2",
            "trainer.check_val_every_n_epoch=null",
            *extra,
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads((tmp_path / "ddp" / "train_summary.json").read_text())
    assert summary["steps"] == 4 and (tmp_path / "ddp" / "enhancer.safetensors").exists()
    assert math.isfinite(summary["final_metrics"]["val/enhanced/mel_l1"])


def test_a_warmup_as_long_as_training_is_warned_about():
    from audiovae.config import compose
    from audiovae.config.schema import TrainConfig
    from audiovae.sections import resolve_sections
    from audiovae.training.run import warmup_warning

    def warned(*words):
        return warmup_warning(
            compose("train", ["model=tiny", *words], schema=TrainConfig, validators=[resolve_sections])
        )

    assert "optim.warmup_steps=50 >= 20 training steps" in warned("trainer.max_steps=20")
    assert warned("trainer.max_steps=20", "optim.warmup_steps=5") is None
    assert "optim.warmup_steps=50 >= 40" in warned("trainer.max_steps=200", "optim.total_steps=40")


def test_steps_after_the_last_validation_are_warned_about():
    from audiovae.training.run import validation_warning

    def warned(*words):
        return validation_warning(
            compose("train", ["model=tiny", *words], schema=TrainConfig, validators=[resolve_sections])
        )

    assert "the last 50 steps are not validated" in warned("trainer.max_steps=300")  # every 250
    assert warned("trainer.max_steps=500") is None
    assert warned("trainer.max_steps=300", "trainer.val_check_interval=1.0") is None  # per epoch


@pytest.mark.parametrize("name,stages", [("mel_postfilter", "mel_stages"), ("latent_resnet", "latent_stages")])
def test_neural_enhancers_start_as_the_identity_train_and_round_trip_through_export(clips, tmp_path, name, stages):
    chain = build_enhancer(OmegaConf.create({"name": name}))
    stage = getattr(chain, stages)[0]
    x = torch.randn(2, 1, 32, 64) if name == "mel_postfilter" else torch.randn(2, 8, 8, 16)
    assert stage.is_identity() and torch.equal(stage(x), x)
    assert stage(x.bfloat16()).dtype == torch.bfloat16  # runs in the input's precision
    out = tmp_path / name
    run_training(
        train_cfg(
            clips,
            out,
            f"enhancement={name}",
            "trainer.max_steps=2",
            "optim.lr=0.01",
            "data.val_ratio=0.25",
            "logger=none",
            "loop.validate_before_training=false",
        )
    )
    exported = out / "enhancer.safetensors"
    loaded = build_enhancer(OmegaConf.create({**read_enhancement_config(str(exported)), "checkpoint": str(exported)}))
    trained = getattr(loaded, stages)[0]
    assert not trained.is_identity() and not torch.equal(trained(x), x)  # two steps moved it off the identity
    assert sum(p.numel() for p in trained.parameters()) < 100_000


def test_trainer_takes_lightnings_own_arguments_and_old_loop_keys_name_the_new_one(clips, tmp_path):
    out = tmp_path / "acc"
    run_training(
        train_cfg(
            clips,
            out,
            "trainer.max_steps=2",
            "trainer.accumulate_grad_batches=2",
            "data.val_ratio=0.25",
            "logger=none",
            "loop.validate_before_training=false",
        )
    )
    state = torch.load(out / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    assert state["global_step"] == 2  # two optimizer steps, each over two batches
    with pytest.raises(ConfigError, match="config key 'loop.max_steps' is now 'trainer.max_steps'"):
        train_cfg(clips, out, "loop.max_steps=20")
    with pytest.raises(ConfigError, match="config key 'trainer.max_step': not an argument of pytorch_lightning"):
        run_training(train_cfg(clips, tmp_path / "typo", "trainer.max_step=2", "logger=none"))
    with pytest.raises(ConfigError, match="config key 'trainer.callbacks': set by audiovae"):
        run_training(train_cfg(clips, tmp_path / "owned", "trainer.callbacks=[]", "logger=none"))


def test_a_saved_training_config_with_loop_keys_is_migrated(clips, tmp_path):
    import yaml

    cfg = OmegaConf.to_container(train_cfg(clips, tmp_path / "x"))
    cfg["loop"]["max_steps"] = cfg["trainer"].pop("max_steps")  # as written before the move
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg))
    again = compose(str(tmp_path / "config.yaml"), schema=TrainConfig, validators=[resolve_sections])
    assert again.trainer.max_steps == cfg["loop"]["max_steps"] and "max_steps" not in again.loop


def test_a_folder_without_a_validation_file_is_one_line_before_any_step(tmp_path, capsys):
    """The data module lists its files in `setup` (Lightning's hook): one clip cannot be split into training and
    validation, and the run stops there with one line, no checkpoint written."""
    from audiovae import cli

    write(tmp_path / "clips" / "a.wav", tone(440, 1.0, 16000), 16000)
    os.environ.pop(runs_module.RUN_DIR_ENV, None)
    words = ["model=tiny", "logger=none", f"data.dir={tmp_path / 'clips'}", f"out_dir={tmp_path / 'run'}"]
    assert cli.main("train", [*words, "trainer.max_steps=2", "optim.warmup_steps=0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == (
        f"error: need at least one training and one validation file with usable audio; found 1 and 0 "
        f"(data.dir '{tmp_path / 'clips'}')"
    )
    assert not (tmp_path / "run" / "checkpoints").exists()
