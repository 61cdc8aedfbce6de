"""The architecture's promises: no import cycle, every start-up error one line and exit 2 before any file is
evaluated, W&B runs finished whatever happens, console entry points that list the config groups."""

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from audiovae import cli
from audiovae import runs as runs_module
from audiovae.errors import AudiovaeError, ConfigError, NonFiniteLossError
from audiovae.evaluation import outputs as outputs_module
from audiovae.training.losses import ReconstructionLoss
from tests.conftest import chirp, tone, write
from tests.wandb_offline import read_offline_run

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "audiovae"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, modules: set[str]) -> set[str]:
    """Every audiovae module `path` imports, at any depth of the file (function-level imports included):
    `from audiovae.a import b` counts as audiovae.a.b when that is a module, else audiovae.a."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("audiovae")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("audiovae"):
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if sub in modules else node.module)
    return found & modules


def find_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle as a list of modules (first = last), or [] when the graph is acyclic."""
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        state[node] = "done"
        stack.pop()
        return []

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return []


def test_the_package_has_no_import_cycle():
    files = sorted(PACKAGE.rglob("*.py"))
    modules = {module_name(p) for p in files}
    graph = {module_name(p): imported_modules(p, modules) - {module_name(p)} for p in files}
    assert len(graph) > 40 and graph["audiovae.evaluation.job"]  # the walk sees the package
    assert find_cycle(graph) == []


# The floors, lowest first: a module imports only from its own floor or below (models/ sits below evaluation/,
# training/ and reporting/, so a new family never touches the jobs, and the jobs speak of the model interface).
FLOORS = [
    {
        "audiovae",
        "audiovae.errors",
        "audiovae.paths",
        "audiovae.home",
        "audiovae.written",
        "audiovae.config",
        "audiovae.plugins",
        "audiovae.consent",
    },
    {
        "audiovae.audio",
        "audiovae.enhancers",
        "audiovae.cache",
        "audiovae.metrics",
        "audiovae.data",
        "audiovae.sections",
        "audiovae.reference",
    },
    {"audiovae.models", "audiovae.pipeline"},
    {"audiovae.reporting", "audiovae.listening", "audiovae.runs"},
    {"audiovae.evaluation", "audiovae.training", "audiovae.generation", "audiovae.compare", "audiovae.demo"},
    {"audiovae.cli", "audiovae.__main__", "audiovae.data_cli"},
]


def floor_of(module: str) -> int:
    for level, names in enumerate(FLOORS):
        if any(module == n or (n != "audiovae" and module.startswith(n + ".")) for n in names):
            return level
    return -1


def test_models_sit_below_evaluation_training_and_reporting():
    files = sorted(PACKAGE.rglob("*.py"))
    modules = {module_name(p) for p in files}
    climbing = []
    for path in files:
        name = module_name(path)
        if name.startswith("audiovae.models") or name == "audiovae.pipeline":
            for imported in imported_modules(path, modules):
                if floor_of(imported) > floor_of(name):
                    climbing.append(f"{name} -> {imported}")
    assert floor_of("audiovae.models.interface") < floor_of("audiovae.evaluation.streaming")
    assert climbing == []


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) == []


def test_user_errors_share_one_base_with_an_exit_status():
    assert issubclass(ConfigError, AudiovaeError) and ConfigError("x").exit_code == 2
    assert NonFiniteLossError("x").exit_code == 3


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    d = tmp_path_factory.mktemp("arch_clips")
    write(d / "a.wav", tone(440, 1.0, 16000) + tone(5000, 1.0, 16000, amp=0.1), 16000)
    write(d / "b.wav", chirp(200, 7000, 1.2, 16000), 16000)
    write(d / "c.wav", tone(300, 1.1, 16000), 16000)
    return d


EVAL = ["model=tiny", "logger=none", "data.max_seconds=1.0", "outputs.save_audio=false", "outputs.save_plots=false"]
TRAIN = [
    "model=tiny",
    "logger=none",
    "data.crop_seconds=1.0",
    "data.val_ratio=0.34",
    "trainer.max_steps=1",
    "optim.warmup_steps=0",
]


@pytest.mark.parametrize(
    "job, args, message",
    [
        ("eval", ["metrics.names=[snr,pesq]"], "config key 'metrics.names': unknown metric 'pesq'"),
        ("eval", ["model.build=bogus"], "config key 'model.build': unknown builder 'bogus'"),
        (
            "eval",
            ["model=demo", "model.options.griffin_lim_iters=0"],
            "config key 'model.options.griffin_lim_iters': must be in [1, 10000], got 0",
        ),
        (
            "eval",
            ["sweep.enhancement.gain=[1.0,1.4]", "select.metric=lsd_hff"],
            "config key 'select.metric': metric 'lsd_hff'",
        ),
        (
            "eval",
            ["sweep.enhancement.gain=[1.0,1.4]", "select.min_improvement.snrr=1"],
            "config key 'select.min_improvement.snrr'",
        ),
        (
            "train",
            ["trainable=[enhancer,vae.decodr]"],
            "config key 'trainable': 'vae.decodr' is not a part of the model",
        ),
        ("train", ["enhancement=latent_fft_boost"], "config key 'trainable': nothing to train"),
        ("train", ["optim.schedule=linear"], "config key 'optim.schedule': 'linear' is not cosine or constant"),
        (
            "train",
            ["val_metrics=[mel_l1]"],
            "config key 'checkpoint.monitor': val/enhanced/mel_distance is not logged by this run; add mel_distance "
            "to val_metrics, or monitor one of val/enhanced/loss, val/enhanced/mel_l1",
        ),
    ],
    ids=[
        "metric",
        "builder",
        "griffin_lim",
        "select.metric",
        "select.min_improvement",
        "trainable",
        "nothing",
        "schedule",
        "monitor",
    ],
)
def test_start_up_errors_are_one_line_exit_2_before_any_file_is_evaluated(
    job, args, message, clips, tmp_path, capsys, monkeypatch
):
    from audiovae.evaluation.file_evaluator import FileEvaluator
    from audiovae.training.module import TrainModule

    def never(*a, **k):
        raise AssertionError("a file was evaluated before the config error was raised")

    monkeypatch.setattr(FileEvaluator, "step", never)
    monkeypatch.setattr(TrainModule, "training_step", never)
    monkeypatch.setattr(TrainModule, "validation_step", never)
    monkeypatch.delenv(runs_module.RUN_DIR_ENV, raising=False)
    status = cli.main(
        job, [*(EVAL if job == "eval" else TRAIN), f"data.dir={clips}", f"out_dir={tmp_path / 'o'}", *args]
    )
    err = capsys.readouterr().err
    assert status == 2, err
    assert err.startswith("error: ") and message in err and len(err.strip().splitlines()) == 1, err
    assert not list(tmp_path.rglob("results.csv")) and not list(tmp_path.rglob("*.ckpt"))


def test_an_evaluation_that_fails_after_its_wandb_run_started_leaves_it_finished(clips, tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("simulated failure while logging")

    monkeypatch.setattr(outputs_module, "log_evaluation", broken)
    monkeypatch.delenv(runs_module.RUN_DIR_ENV, raising=False)
    out = tmp_path / "run"
    with pytest.raises(RuntimeError, match="simulated failure"):
        cli.main("eval", [*EVAL, "logger=wandb", f"data.dir={clips}", f"out_dir={out}"])
    logged = read_offline_run(next((out / "wandb").glob("offline-run-*")))
    assert logged["job_type"] == "eval" and logged["exit_code"] == 1
    assert (out / "results.csv").is_file()  # everything written before the failure is kept


def test_a_training_that_fails_leaves_its_wandb_run_finished_with_its_exit_code(clips, tmp_path, monkeypatch):
    original = ReconstructionLoss.forward

    def nan_when_training(self, *args, **kwargs):
        total, terms = original(self, *args, **kwargs)
        return (total * float("nan"), terms) if total.requires_grad else (total, terms)

    monkeypatch.setattr(ReconstructionLoss, "forward", nan_when_training)
    monkeypatch.delenv(runs_module.RUN_DIR_ENV, raising=False)
    out = tmp_path / "train"
    status = cli.main(
        "train",
        [
            *TRAIN,
            "logger=wandb",
            "examples.count=0",
            "enhancement=learnable_latent_filter",
            f"data.dir={clips}",
            f"out_dir={out}",
        ],
    )
    assert status == 3
    logged = read_offline_run(next((out / "wandb").glob("offline-run-*")))
    assert logged["job_type"] == "train" and logged["exit_code"] == 1


def test_a_successful_evaluation_finishes_its_wandb_run_with_exit_code_0(clips, tmp_path, monkeypatch):
    monkeypatch.delenv(runs_module.RUN_DIR_ENV, raising=False)
    out = tmp_path / "ok"
    assert cli.main("eval", [*EVAL, "logger=wandb", f"data.dir={clips}", f"out_dir={out}"]) == 0
    assert read_offline_run(next((out / "wandb").glob("offline-run-*")))["exit_code"] == 0


def script(name: str) -> Path:
    return Path(sys.executable).parent / name


@pytest.mark.slow
@pytest.mark.parametrize("name", ["audiovae-eval", "audiovae-train"])
def test_console_entry_points_list_the_config_groups_and_their_choices(name):
    done = subprocess.run([str(script(name)), "--help"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "config groups" in done.stdout and "model: " in done.stdout and "demo" in done.stdout
    assert "enhancement: " in done.stdout and "mel_hf_shelf" in done.stdout


@pytest.mark.slow
def test_compare_and_export_entry_points_give_one_line_errors(tmp_path):
    env = {**os.environ, "WANDB_MODE": "offline"}
    done = subprocess.run(
        [str(script("audiovae-compare")), str(tmp_path), str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 2 and "not an evaluation output folder" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    bogus = tmp_path / "bogus.ckpt"
    bogus.write_bytes(b"not a checkpoint")
    done = subprocess.run(
        [str(script("audiovae-export")), str(bogus)], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 2 and "not a PyTorch checkpoint" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_a_mel_only_enhancer_reuses_the_base_decode_exactly():
    """With no latent stage, the enhanced decode is the base decode (same latent, same batch): the pipeline
    applies the mel stages to the base log-mel instead of decoding again, and the numbers are the same."""
    import torch

    from audiovae.config import EvalConfig, compose
    from audiovae.enhancers.registry import build_enhancer
    from audiovae.models.factory import build_frontend, build_model
    from audiovae.pipeline import ReconstructionPipeline
    from audiovae.sections import resolve_sections

    cfg = compose("eval", ["model=tiny", "enhancement=mel_hf_shelf"], schema=EvalConfig, validators=[resolve_sections])
    model = build_model(cfg.model, cfg.enhancement, cfg.frontend)
    pipeline = ReconstructionPipeline(build_frontend(cfg.frontend, model.downsampling), model)
    shelf = build_enhancer(cfg.enhancement)
    segments = torch.randn(2, 16000 * 2 // 640 * 640, generator=torch.Generator().manual_seed(0)) * 0.1
    calls = []
    decode = model.decode
    model.decode = lambda *a, **k: calls.append(k.get("enhanced")) or decode(*a, **k)
    out = pipeline(segments, {"shelf": shelf})
    assert calls == [False]  # one decode: the base
    model.decode = decode
    with torch.no_grad():
        expected = model.decode(out.shared.latent, enhanced=True, enhancer=shelf)
    assert torch.equal(out.enhanced_mels["shelf"], expected)
