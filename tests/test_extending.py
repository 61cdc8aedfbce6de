"""The "Extending" pages run as written: each page's files are written into an empty folder and its commands run
there in order (the jobs in this process, with `logger=none` added; `python ...` in a subprocess); then what the
page promises is checked on the outputs. Plugins register into process-wide tables, which are restored after."""

import importlib
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from audiovae import cli, plugins
from audiovae.data import sources
from audiovae.enhancers import registry as enhancers
from audiovae.errors import ConfigError
from audiovae.metrics import registry as metrics
from audiovae.models import families

ROOT = Path(__file__).resolve().parents[1]
PAGES = ROOT / "docs" / "extending"
BLOCK = re.compile(r"```(\w+)\n(.*?)```", re.S)
JOBS = {"audiovae-eval": "eval", "audiovae-train": "train"}
TOOLS = {"audiovae-export": "audiovae.training.export"}
# no W&B run, no listening pages, plots or audio, a short Griffin-Lim: the page's code still runs, in seconds
FAST = {
    "eval": ["outputs.listening_files=0", "outputs.save_plots=false", "outputs.save_audio=false", "data.max_seconds=1"],
    "train": ["trainer.max_steps=3", "trainer.val_check_interval=3", "examples.count=0", "data.val_ratio=0.4"],
}
COMMON = ["logger=none"]  # no W&B run
SHORT_GRIFFIN_LIM = "model.options.griffin_lim_iters=4"  # the demo model's vocoder, short (not for another family)


def page_blocks(page: Path) -> tuple[dict[str, str], list[str]]:
    """(file name -> text of each block whose first line is `# file: NAME`, the commands of its bash blocks)."""
    files, commands = {}, []
    for lang, body in BLOCK.findall(page.read_text()):
        first = body.splitlines()[0] if body else ""
        if first.startswith("# file: "):
            files[first[len("# file: ") :].strip()] = body
        elif lang == "bash":
            joined = body.replace("\\\n", " ")
            commands += [line.split("  #")[0].strip() for line in joined.splitlines() if line.strip()]
    return files, commands


def run_page(name: str, folder: Path, monkeypatch) -> list[str]:
    """Write the page's files into `folder` and run its commands there; the commands run."""
    files, commands = page_blocks(PAGES / name)
    assert files and commands, f"{name}: no files or commands found"
    for file, text in files.items():
        (folder / file).write_text(text)
    monkeypatch.chdir(folder)
    for command in commands:
        words = shlex.split(command)
        if words[0] in JOBS:
            job = JOBS[words[0]]
            mel = name != "model-family.md"
            assert cli.main(job, words[1:] + COMMON + [SHORT_GRIFFIN_LIM] * mel + FAST[job]) == 0, command
        elif words[0] in TOOLS:
            assert importlib.import_module(TOOLS[words[0]]).main(words[1:]) == 0, command
        elif words[0] == "python":
            done = subprocess.run([sys.executable, *words[1:]], cwd=folder, capture_output=True, text=True)
            assert done.returncode == 0, f"{command}: {done.stderr[-2000:]}"
        else:  # pragma: no cover - a page with a command this test does not know
            raise AssertionError(f"{name}: unknown command {command!r}")
    return commands


@pytest.fixture
def registries():
    """The plugin tables as they were before the test (a page's registrations do not leak into other tests)."""
    import audiovae.models.factory  # noqa: F401 - registers the built-in families before the snapshot

    saved = [
        (table, dict(table))
        for table in (metrics.METRICS, enhancers.ENHANCERS, families.FAMILIES, sources.LISTERS, plugins._LOADED)
    ]
    yield
    for table, before in saved:
        table.clear()
        table.update(before)


def compose_eval(words: list[str], primary: str = "eval"):
    from audiovae.config.compose import compose
    from audiovae.config.schema import EvalConfig

    validators = [plugins.load_config_plugins, enhancers.resolve_enhancement]
    return compose(primary, words, schema=EvalConfig, validators=validators)


def summary(run: Path) -> dict:
    return json.loads((run / "summary.json").read_text())


def test_every_extending_page_is_run_here():
    pages = sorted(p.name for p in PAGES.glob("*.md") if p.name != "index.md")
    tested = sorted(name for name in PAGE_TESTS)
    assert pages == tested


def check_metric_page(folder: Path) -> None:
    import csv

    run, again = folder / "runs" / "convergence", folder / "runs" / "convergence-again"
    rows = list(csv.DictReader((run / "results.csv").open()))
    assert len(rows) == 5 and all(float(r["base_spectral_convergence"]) > 0 for r in rows)
    assert summary(run)["metrics"]["spectral_convergence"]["direction"] == "lower"
    saved = (run / "config.yaml").read_text()
    assert str(folder / "spectral_convergence.py") in saved  # the absolute path: reproducible from anywhere
    values = {
        n: summary(r)["metrics"]["spectral_convergence"]["variants"]["base"]["mean"] for n, r in [(1, run), (2, again)]
    }
    assert values[1] == values[2]
    trained = json.loads((folder / "runs" / "train-sc" / "train_summary.json").read_text())
    assert trained["monitor"] == "val/enhanced/spectral_convergence" and trained["best_score"] > 0


def check_enhancer_page(folder: Path) -> None:
    from audiovae.enhancers.registry import load_enhancer

    tilt = summary(folder / "runs" / "tilt")["metrics"]["hf_retention"]["variants"]
    assert tilt["enhanced"]["mean"] > tilt["base"]["mean"]  # +6 dB at the top band: more high band
    exported = folder / "runs" / "train-gain" / "enhancer.safetensors"
    gains = load_enhancer(str(exported)).mel_stages[0].gain_db.detach()
    assert gains.abs().max() > 0  # trained away from the identity it started at
    by_hand = load_enhancer(str(folder / "runs" / "gain-last.safetensors")).mel_stages[0].gain_db.detach()
    assert by_hand.abs().max() > 0
    enhancers.ENHANCERS.pop("mel_band_gain")  # a new process, without plugins=[...]
    plugins._LOADED.clear()
    words = ["model=demo", "logger=none", "enhancement.checkpoint=runs/train-gain/enhancer.safetensors"]
    with pytest.raises(
        ConfigError, match=r"holds a plugin's enhancer 'mel_band_gain': add plugins=\[/.*mel_band_gain.py\]"
    ):
        compose_eval(words)
    trained = summary(folder / "runs" / "trained-gain")
    assert (
        trained["metrics"]["hf_retention"]["variants"]["enhanced"]["mean"]
        != (trained["metrics"]["hf_retention"]["variants"]["base"]["mean"])
    )


def check_model_family_page(folder: Path) -> None:
    result = summary(folder / "runs" / "band-limit")
    assert result["run"]["model_interface"]["family"] == "band_limit" and result["counts"]["ok"] == 5
    base = result["metrics"]
    assert abs(base["hf_energy_share"]["variants"]["base"]["mean"]) < 0.05  # % of the energy above 4 kHz: leakage
    assert base["lsd_lf"]["variants"]["base"]["mean"] < 0.5
    from audiovae.models.factory import build_model

    cfg = compose_eval(["model.options.factr=4"], primary=str(folder / "band_limit.yaml"))
    with pytest.raises(ConfigError, match=r"^config key 'model.options.factr': the band_limit family takes factor$"):
        build_model(cfg.model, cfg.enhancement, cfg.frontend)  # a plugin family's options are checked too


def check_data_source_page(folder: Path) -> None:
    import csv

    rows = {r["file"]: r for r in csv.DictReader((folder / "runs" / "scp" / "results.csv").open())}
    clips = sorted(p.name for p in (folder / "outputs" / "demo" / "clips").glob("*.wav"))
    assert sorted(rows) == [f"utt{i}" for i in range(len(clips))] and rows["utt0"]["source"] == "wav.scp:1"
    skipped = json.dumps(summary(folder / "runs" / "scp"))
    assert "utterance utt0 is listed twice" in skipped and "a piped command" in skipped
    assert (folder / "runs" / "scp-train" / "enhancer.safetensors").is_file()
    words = [
        "model=demo",
        "data.dir=outputs/demo/clips",
        "out_dir=runs/folder",
        *COMMON,
        SHORT_GRIFFIN_LIM,
        *FAST["eval"],
    ]
    assert cli.main("eval", words) == 0
    by_file = {r["file"]: r for r in csv.DictReader((folder / "runs" / "folder" / "results.csv").open())}
    for i, clip in enumerate(clips):
        assert rows[f"utt{i}"]["base_lsd"] == by_file[clip]["base_lsd"]


PAGE_TESTS = {
    "data-source.md": check_data_source_page,
    "metric.md": check_metric_page,
    "enhancer.md": check_enhancer_page,
    "model-family.md": check_model_family_page,
}


@pytest.mark.parametrize("page", sorted(PAGE_TESTS))
def test_the_page_runs_as_written(page, tmp_path, monkeypatch, registries):
    run_page(page, tmp_path, monkeypatch)
    PAGE_TESTS[page](tmp_path)


def test_a_plugin_that_fails_to_import_is_one_line(tmp_path, monkeypatch, registries, capsys):
    (tmp_path / "broken.py").write_text("import no_such_module_here\n")
    monkeypatch.chdir(tmp_path)
    assert cli.main("eval", ["model=tiny", "plugins=[broken.py]", "logger=none"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        "error: config key 'plugins[0]': importing plugin broken.py failed: ModuleNotFoundError: "
        "No module named 'no_such_module_here'"
    )
    assert cli.main("eval", ["model=tiny", "plugins=[missing.py]", "logger=none"]) == 2
    assert "plugin file missing.py does not exist" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="metric 'snr' is already registered"):
        metrics.register_metric("snr", type("Other", (metrics.PerItemMetric,), {"direction": "lower"}))


GAIN_METRIC = """
from audiovae.metrics.base import HIGHER, ABSOLUTE, PerItemMetric
from audiovae.metrics.functional.snr import SNRSums
from audiovae.metrics.registry import register_metric


class Scaled(SNRSums):
    def value(self):
        return {factor} * super().value()


class ScaledSNR(PerItemMetric):
    name, direction, unit, delta_kind = "scaled_snr", HIGHER, "dB", ABSOLUTE

    def accumulator(self):
        return Scaled()


register_metric("scaled_snr", ScaledSNR)
"""


def scaled_snr(run: Path) -> float:
    return summary(run)["metrics"]["scaled_snr"]["variants"]["base"]["mean"]


def test_an_edited_plugin_metric_is_measured_again_not_taken_from_the_cache(tmp_path, monkeypatch, registries):
    """The cross-run cache keys a plugin metric's values by its module's source: a second run with the same file
    takes everything from the cache, one with the file edited measures the metric again."""
    from tests.conftest import write_three_clips

    clips = write_three_clips(tmp_path / "clips")
    plugin = tmp_path / "scaled.py"
    monkeypatch.chdir(tmp_path)
    words = ["model=tiny", "logger=none", "plugins=[scaled.py]", "metrics.names=[snr,scaled_snr]", f"data.dir={clips}"]
    words += FAST["eval"]
    plugin.write_text(GAIN_METRIC.format(factor=1.0))
    assert cli.main("eval", [*words, "out_dir=one"]) == 0
    assert cli.main("eval", [*words, "out_dir=again"]) == 0
    assert summary(tmp_path / "again")["counts"]["from_cache"] == 3
    plugins._LOADED.clear()  # a new process would import the edited file
    plugin.write_text(GAIN_METRIC.format(factor=2.0))
    assert cli.main("eval", [*words, "out_dir=edited"]) == 0
    assert scaled_snr(tmp_path / "edited") == pytest.approx(2 * scaled_snr(tmp_path / "one"), rel=1e-9)
    snr = summary(tmp_path / "edited")["metrics"]["snr"]["variants"]["base"]["mean"]
    assert snr == summary(tmp_path / "one")["metrics"]["snr"]["variants"]["base"]["mean"]


def test_compare_reads_a_plugin_metric_of_the_runs_it_compares(tmp_path, monkeypatch, registries, capsys):
    from audiovae.compare import main as compare
    from tests.conftest import write_three_clips

    clips = write_three_clips(tmp_path / "clips")
    (tmp_path / "scaled.py").write_text(GAIN_METRIC.format(factor=1.0))
    monkeypatch.chdir(tmp_path)
    words = ["model=tiny", "logger=none", "plugins=[scaled.py]", "metrics.names=[scaled_snr]", f"data.dir={clips}"]
    words += FAST["eval"]
    assert cli.main("eval", [*words, "out_dir=a", "enhancement=none"]) == 0
    assert cli.main("eval", [*words, "out_dir=b", "enhancement=mel_hf_shelf"]) == 0
    metrics.METRICS.pop("scaled_snr")  # compare runs in a fresh process: only the runs' configs name the plugin
    plugins._LOADED.clear()
    capsys.readouterr()
    assert compare([str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(tmp_path / "compared")]) == 0
    assert "scaled_snr" in capsys.readouterr().out


def test_a_plugin_sources_options_are_checked_in_one_line(tmp_path, monkeypatch, registries, capsys):
    (tmp_path / "listing.py").write_text(
        "from audiovae.data.entries import Listing\n"
        "from audiovae.data.sources import register_source\n"
        "def listing(path: str, limit: int = 3):\n"
        "    return Listing([])\n"
        "register_source('my_list', listing)\n"
    )
    monkeypatch.chdir(tmp_path)
    base = ["model=tiny", "logger=none", "plugins=[listing.py]", "data.source=my_list"]
    assert cli.main("eval", [*base, "data.options.colour=red", "data.options.path=x"]) == 2
    assert (
        capsys.readouterr().err.strip()
        == "error: config key 'data.options.colour': the my_list source takes path, limit"
    )
    assert cli.main("eval", base) == 2
    assert capsys.readouterr().err.strip() == "error: config key 'data.options.path': the my_list source needs it"
    assert cli.main("eval", [*base, "data.options.path=x", "data.dir=clips"]) == 2
    assert "config key 'data.dir': set, but data.source is my_list" in capsys.readouterr().err
    assert cli.main("eval", ["model=tiny", "logger=none", "data.options.path=x"]) == 2
    assert "config key 'data.options': options of a plugin's data source" in capsys.readouterr().err


def test_a_plugin_file_leaves_its_folder_as_it_was(tmp_path, monkeypatch, registries):
    """Importing a `.py` plugin writes no `__pycache__` beside it (nothing outside out_dir), whatever the
    interpreter's bytecode setting, which it leaves as it found it."""
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    (folder / "quiet.py").write_text("VALUE = 1\n")
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    plugins.load_plugin(str(folder / "quiet.py"))
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt", "quiet.py"]
    assert sys.dont_write_bytecode is False
