"""Experiment tracking that survives the trip: offline runs whose every file lies under out_dir (HOME untouched),
relocatable for `wandb sync`, training curves on one step axis, one run across a resume, lineage from training to
evaluation, sweep runs that group and plot well, and a W&B Sweeps config the agent runs unchanged."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from audiovae import runs as runs_module
from audiovae.config import compose
from audiovae.config.schema import TrainConfig
from audiovae.reporting.wandb_records import read_records
from audiovae.sections import resolve_sections
from audiovae.training.run import run_training
from tests.conftest import chirp, noise, tone, train_crashing_at_step, write
from tests.wandb_offline import artifact_paths, read_offline_run

ROOT = Path(__file__).resolve().parents[1]
TRAIN = [
    "model=tiny",
    "data.crop_seconds=1.0",
    "data.batch_size=2",
    "data.val_batch_size=2",
    "data.val_ratio=0.25",
    "optim.warmup_steps=1",
    "checkpoint.last_every_n_steps=1",
    "trainer.log_every_n_steps=1",
    "checkpoint.monitor=val/enhanced/mel_l1",
    "checkpoint.save_top_k=-1",
    "trainer.check_val_every_n_epoch=null",
    "trainer.val_check_interval=2",
    "trainer.max_steps=4",
    "examples.count=1",
    "examples.every_n_val=1",
]


def run_job(script: str, *args, home: Path, audiovae_home: Path):
    """A job as a user runs it: a fresh process, W&B offline, HOME pointed at `home`."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("WANDB_") and k not in (runs_module.RUN_DIR_ENV, "MPLCONFIGDIR")
    }
    env.update(HOME=str(home), WANDB_MODE="offline", AUDIOVAE_HOME=str(audiovae_home))
    done = subprocess.run(
        [sys.executable, str(ROOT / script), *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def offline(folder: Path) -> dict:
    return read_offline_run(next(Path(folder).glob("wandb/offline-run-*")))


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    d = tmp_path_factory.mktemp("tracking_clips")
    for i in range(4):
        write(d / f"t{i}.wav", tone(300 + 200 * i, 1.2, 16000) + tone(5000, 1.2, 16000, amp=0.1), 16000)
    write(d / "chirp.wav", chirp(200, 7000, 1.2, 16000), 16000)
    write(d / "noisy.wav", tone(500, 1.2, 16000) + noise(1.2, 16000, amp=0.05), 16000)
    return d


@pytest.fixture(scope="module")
def jobs(clips, tmp_path_factory, audiovae_home):
    """A 2-setting sweep, a 4-step training and an evaluation of its export, run with an empty HOME."""
    home = tmp_path_factory.mktemp("empty_home")
    out = tmp_path_factory.mktemp("tracked")
    run_job(
        "evaluate.py",
        "model=demo",
        f"data.dir={clips}",
        "data.max_seconds=1.0",
        "metrics.bootstrap_samples=100",
        "sweep.enhancement.gain=[1.0,1.4]",
        "logger.max_table_files=2",
        f"out_dir={out / 'sweep'}",
        home=home,
        audiovae_home=audiovae_home,
    )
    run_job("train.py", *TRAIN, f"data.dir={clips}", f"out_dir={out / 'train'}", home=home, audiovae_home=audiovae_home)
    run_job(
        "evaluate.py",
        "model=tiny",
        f"data.dir={clips}",
        "data.max_seconds=1.0",
        "metrics.bootstrap_samples=100",
        f"enhancement.checkpoint={out / 'train' / 'enhancer.safetensors'}",
        f"out_dir={out / 'eval'}",
        home=home,
        audiovae_home=audiovae_home,
    )
    return home, out


@pytest.mark.slow
def test_nothing_is_written_under_home_and_every_table_file_lies_in_its_run_folder(jobs):
    home, out = jobs
    assert list(home.rglob("*")) == []
    logs = list(out.rglob("offline-run-*/run-*.wandb"))
    assert len(logs) == 5  # two settings, the sweep summary, the training, the evaluation
    for log in logs:
        run_dir = log.parents[2]  # the out_dir that holds this run
        for path in artifact_paths(read_records(log)[1]):
            assert Path(path).is_file() and Path(path).is_relative_to(run_dir), (log, path)


@pytest.mark.slow
def test_a_copied_run_folder_is_relocated_for_sync(jobs, tmp_path):
    _, out = jobs
    copy = tmp_path / "elsewhere" / "sweep"
    shutil.copytree(out / "sweep", copy)
    done = subprocess.run(
        [str(Path(sys.executable).parent / "audiovae-sync"), str(copy), "--dry-run"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "pointed at this copy" in done.stdout
    for log in copy.rglob("offline-run-*/run-*.wandb"):
        header, records = read_records(log)  # checksums verified
        paths = list(artifact_paths(records))
        assert paths and all(Path(p).is_file() and Path(p).is_relative_to(copy) for p in paths)
        assert read_offline_run(log.parent)["tables"] is not None  # the independent reader parses it too


@pytest.mark.slow
def test_table_audio_has_four_variants_with_captions(jobs):
    _, out = jobs
    setting = out / "sweep" / "settings" / "gain=1.4"
    logged = offline(setting)
    table = next(a for a in logged["artifacts"] if a["type"] == "run_table" and "evalfiles" in a["name"])
    data = json.loads(Path(table["entries"]["eval/files.table.json"]).read_text())
    columns = data["columns"]
    assert [c for c in columns if c.startswith("audio_")] == [
        "audio_reference",
        "audio_vocoder",
        "audio_base",
        "audio_enhanced",
    ]
    row = dict(zip(columns, data["data"][0]))
    assert row["audio_vocoder"]["caption"] == f"{row['file']} · vocoder"
    assert row["audio_enhanced"]["caption"] == f"{row['file']} · enhanced"
    for media in (row["audio_reference"], row["spectrogram"]):  # the media file is in the artifact, staged in the run
        assert Path(table["entries"][media["path"]]).is_file()


@pytest.mark.slow
def test_sweep_summary_is_in_the_sweep_group_with_the_swept_values(jobs):
    _, out = jobs
    top = offline(out / "sweep")
    settings = [offline(out / "sweep" / "settings" / n) for n in ("gain=1.0", "gain=1.4")]
    assert top["job_type"] == "sweep_summary" and top["group"] == settings[0]["group"] == settings[1]["group"]
    assert top["config"]["sweep"] == {"enhancement.gain": [1.0, 1.4]} and "enhancement" not in top["config"]
    assert [s["config"]["gain"] for s in settings] == [1.0, 1.4]  # top level, for parallel coordinates


@pytest.mark.slow
def test_training_logs_everything_on_one_step_axis(jobs):
    _, out = jobs
    logged = offline(out / "train")
    history = logged["history"]
    val_steps = [h["trainer/global_step"] for h in history if "val/enhanced/loss" in h]
    example_steps = [h["trainer/global_step"] for h in history if "val/examples/_type" in h]  # a table's keys
    assert val_steps == [0, 2, 4] and example_steps == [0, 2, 4]
    train_steps = [h["trainer/global_step"] for h in history if "train/loss" in h]
    assert train_steps == [0, 1, 2, 3]  # the loss of the step taken from these weights
    names = sorted(p.name for p in (out / "train" / "checkpoints").glob("step*.ckpt"))
    assert names == ["step0000002.ckpt", "step0000004.ckpt"]
    for name in names:  # a checkpoint named N holds the weights validated at N
        ckpt = torch.load(out / "train" / "checkpoints" / name, map_location="cpu", weights_only=False)
        assert ckpt["global_step"] == int(name[4:11])
    assert logged["config"]["logger"]["name"] is None and logged["summary"]["val/enhanced/mel_l1"].keys() == {"min"}


@pytest.mark.slow
def test_the_exported_enhancer_is_a_model_artifact_and_its_evaluation_names_its_source(jobs):
    _, out = jobs
    train = offline(out / "train")
    artifact = next(a for a in train["artifacts"] if a["type"] == "model")
    assert artifact["name"] == "enhancer-tiny-learnable_latent_filter"
    assert set(artifact["aliases"]) >= {"best", "latest"}
    metadata = json.loads(artifact["metadata"])
    assert metadata["monitor"] == "val/enhanced/mel_l1" and metadata["best_score"] is not None
    assert metadata["enhancement"]["name"] == "learnable_latent_filter"
    evaluation = offline(out / "eval")
    source = evaluation["config"]["enhancer_source"]
    assert source["wandb_run_id"] == train["id"]
    assert source["wandb_artifact"] == "enhancer-tiny-learnable_latent_filter:latest"


def test_a_killed_and_resumed_training_is_one_wandb_run(clips, tmp_path, monkeypatch):
    monkeypatch.delenv(runs_module.RUN_DIR_ENV, raising=False)

    def cfg(*extra):
        return compose(
            "train",
            [
                *TRAIN,
                "examples.count=0",
                "trainer.max_steps=6",
                "trainer.val_check_interval=3",
                f"data.dir={clips}",
                f"out_dir={tmp_path / 'run'}",
                *extra,
            ],
            schema=TrainConfig,
            validators=[resolve_sections],
        )

    train_crashing_at_step(cfg(), 3, monkeypatch)
    run_training(cfg("resume=true"))
    runs = [read_offline_run(p) for p in sorted((tmp_path / "run" / "wandb").glob("offline-run-*"))]
    assert len(runs) == 2 and runs[0]["id"] == runs[1]["id"]
    assert runs[0]["exit_code"] == 1 and runs[1]["exit_code"] == 0


def test_the_wandb_sweep_config_runs_train_py_unchanged(clips, tmp_path, audiovae_home):
    """Render the command `wandb agent` runs for one sampled configuration (`${args_no_hyphens}`) and run it; the
    data, model and length are this test's (tiny, two steps), the rest comes from the sweep file."""
    sweep = yaml.safe_load((ROOT / "configs" / "wandb_sweep" / "train_demo.yaml").read_text())
    assert sweep["program"] == "train.py" and sweep["command"][-1] == "${args_no_hyphens}"
    sampled = {}
    for key, spec in sweep["parameters"].items():
        sampled[key] = spec["value"] if "value" in spec else spec["values"][-1] if "values" in spec else spec["min"]
    sampled.update({"model": "tiny", "data.dir": str(clips), "trainer.max_steps": 2})
    args_no_hyphens = [f"{key}={value}" for key, value in sampled.items()]
    rendered = {
        "${env}": [],
        "${interpreter}": [sys.executable],
        "${program}": [str(ROOT / sweep["program"])],
        "${args_no_hyphens}": args_no_hyphens
        + [f"out_dir={tmp_path / 'agent'}", "examples.count=0", "data.val_ratio=0.25"],
    }
    command = [word for part in sweep["command"] for word in rendered[part]]
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_RUN_ID": "agentrun1", "AUDIOVAE_HOME": str(audiovae_home)}
    env.pop(runs_module.RUN_DIR_ENV, None)
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    logged = offline(tmp_path / "agent")
    assert logged["id"] == "agentrun1"  # the agent's run id
    assert logged["config"]["optim"]["lr"] == pytest.approx(sweep["parameters"]["optim.lr"]["min"])
    assert logged["config"]["enhancement"]["gain"] == sweep["parameters"]["enhancement.gain"]["values"][-1]


@pytest.mark.slow
def test_compare_logs_with_the_logger_settings_of_the_other_jobs(jobs, tmp_path, monkeypatch):
    from audiovae import compare

    _, out = jobs
    a, b = out / "sweep" / "settings" / "gain=1.0", out / "sweep" / "settings" / "gain=1.4"
    monkeypatch.delenv("WANDB_MODE", raising=False)  # offline by default, as logger/wandb.yaml says
    assert (
        compare.main(
            [
                str(a),
                str(b),
                "--out",
                str(tmp_path / "c"),
                "--wandb",
                "--bootstrap",
                "50",
                "logger.project=compare-test",
            ]
        )
        == 0
    )
    logged = offline(tmp_path / "c")
    assert logged["job_type"] == "compare" and logged["project"] == "compare-test"
    assert compare.main([str(a), str(b), "--out", str(tmp_path / "bad"), "--wandb", "logger.bogus=1"]) == 2
