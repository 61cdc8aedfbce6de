"""Shared fixtures: offline W&B, a per-session model cache, generated clips, a headless browser."""

import os

import numpy as np
import pytest
import soundfile as sf

from audiovae.runs.folders import RUN_DIR_ENV
from tests.browser import PageLog, chromium_path

os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session", autouse=True)
def audiovae_home(tmp_path_factory):
    """Tiny models are built once per test session into a temporary AUDIOVAE_HOME."""
    home = tmp_path_factory.mktemp("audiovae_home")
    os.environ["AUDIOVAE_HOME"] = str(home)
    return home


@pytest.fixture(scope="session", autouse=True)
def session_cache(tmp_path_factory):
    """The cross-run cache of runs made outside a test function (module fixtures, subprocesses): one per session."""
    os.environ["AUDIOVAE_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    """Each test starts with an empty cross-run cache (its own runs share it: warm runs are tested on purpose)."""
    monkeypatch.setenv("AUDIOVAE_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture(autouse=True)
def wandb_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    monkeypatch.setenv("WANDB_MODE", "offline")


@pytest.fixture(autouse=True)
def no_inherited_run_dir(monkeypatch):
    """Every run picks its own out_dir: a previous run in this process exported AUDIOVAE_RUN_DIR for DDP."""
    monkeypatch.delenv(RUN_DIR_ENV, raising=False)


def whole_of(audio):
    """A PreparedAudio's whole prepared waveform `[N]`, read as evaluation reads it (for short test clips)."""
    return audio.reader().read(0, audio.num_samples)


def tone(freq_hz: float, seconds: float, sr: int, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (amp * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)


def chirp(f0: float, f1: float, seconds: float, sr: int, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    phase = 2 * np.pi * (f0 * t + (f1 - f0) * t**2 / (2 * seconds))
    return (amp * np.sin(phase)).astype(np.float32)


def noise(seconds: float, sr: int, seed: int = 0, amp: float = 0.3) -> np.ndarray:
    return (amp * np.random.default_rng(seed).standard_normal(int(seconds * sr))).astype(np.float32)


def write_three_clips(folder):
    """Three 1 s clips at 16 kHz with a high band to keep or lose: a tone with a 5 kHz partial, a chirp to 7 kHz, a
    tone in noise."""
    write(folder / "a_tone.wav", tone(440, 1.0, 16000) + tone(5000, 1.0, 16000, amp=0.1), 16000)
    write(folder / "b_chirp.wav", chirp(200, 7000, 1.0, 16000), 16000)
    write(folder / "c_noisy.wav", tone(300, 1.0, 16000) + noise(1.0, 16000, amp=0.05), 16000)
    return folder


def evaluate_folder(data_dir, out_dir, *overrides):
    """One evaluation of `data_dir` into `out_dir` in this process (config words as on the command line); returns
    its EvalOutcome. Usable from module-scoped fixtures, which run before the per-test environment clean-up."""
    from audiovae.config import EvalConfig, compose
    from audiovae.evaluation.job import run_evaluation
    from audiovae.sections import resolve_sections

    os.environ.pop(RUN_DIR_ENV, None)
    cfg = compose(
        "eval",
        [*overrides, f"data.dir={data_dir}", f"out_dir={out_dir}"],
        schema=EvalConfig,
        validators=[resolve_sections],
    )
    return run_evaluation(cfg)


def last_gains(run_dir):
    """The learnable latent filter's gains and the global step in `run_dir/checkpoints/last.ckpt`."""
    import torch

    state = torch.load(run_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    return state["state_dict"]["model.enhancer.latent_stages.0.gains"], state["global_step"]


def train_crashing_at_step(cfg, step: int, monkeypatch) -> None:
    """`run_training(cfg)` with its training step raising at global step `step` (a simulated crash, after the
    checkpoints written before it); the step is restored afterwards."""
    from audiovae.training import module as train_module
    from audiovae.training.run import run_training

    original = train_module.TrainModule.training_step

    def crash(self, batch, batch_idx):
        if self.global_step == step:
            raise RuntimeError("simulated crash")
        return original(self, batch, batch_idx)

    monkeypatch.setattr(train_module.TrainModule, "training_step", crash)
    try:
        with pytest.raises(RuntimeError, match="simulated crash"):
            run_training(cfg)
    finally:
        monkeypatch.setattr(train_module.TrainModule, "training_step", original)


def write(path, data: np.ndarray, sr: int, subtype: str = "FLOAT"):
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), data, sr, subtype=subtype)
    return path


@pytest.fixture(scope="session")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (pip install -e '.[test]')")
    path = chromium_path()
    if path is None:
        pytest.skip("no Chromium on this machine (apt-get install chromium, or set AUDIOVAE_CHROMIUM)")
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=path, args=["--autoplay-policy=no-user-gesture-required"])
        yield launched
        launched.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(accept_downloads=True, viewport={"width": 1300, "height": 900})
    log = PageLog(context.new_page())
    yield log
    context.close()


# The files that take longest (minutes of whole jobs) run first: `make test` gives each file to one worker, so a long
# file started last would leave the other workers idle at the end.
LONGEST_FIRST = (  # measured in `make test` (slow tests left out) and `make slow`
    "test_model_families.py",
    "test_fuzz.py",
    "test_extending.py",
    "test_metrics.py",
    "test_search.py",
    "test_fault_injection.py",
    "test_tracking.py",
    "test_generate_job.py",
    "test_train.py",
)


@pytest.hookimpl(trylast=True)  # after `-m` and `-k` have chosen
def pytest_collection_modifyitems(config, items):
    """Order the collected tests so that the files of LONGEST_FIRST come first (in that order), the rest as found.
    A fuzz property's `[fast]` variant is the inner loop's sample of its `[slow]` one (tests/test_fuzz.py): in a
    session that runs the slow variant too, the fast one is left out (the slow one draws more examples of the same
    strategies), except when the fuzz table counts every case (AUDIOVAE_FUZZ_COUNTS)."""
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))
    if os.environ.get("AUDIOVAE_FUZZ_COUNTS"):
        return
    ids = {item.nodeid for item in items}
    covered = [i for i in items if i.nodeid.endswith("[fast]") and i.nodeid[: -len("[fast]")] + "[slow]" in ids]
    if covered:
        config.hook.pytest_deselected(items=covered)
        items[:] = [item for item in items if item not in covered]
