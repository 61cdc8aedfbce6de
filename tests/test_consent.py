"""Consent for code: every key that runs code is refused from a file without consent (one line, exit 2, nothing
written, nothing run), accepted with --trust-code and from the command line; read-only commands never run a run
folder's code; no environment value of a config file reaches a run's outputs."""

import json
import os
import sys
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from audiovae import cli, plugins
from audiovae.consent import code_uses, typed_uses
from audiovae.data_cli import cli as data_cli
from tests.conftest import write_three_clips
from tests.test_extending import FAST, registries  # noqa: F401 - the fixture

SENTINEL_METRIC = """
from pathlib import Path
from audiovae.metrics.base import LOWER, PERCENT, PerItemMetric
from audiovae.metrics.functional.snr import SNRSums
from audiovae.metrics.registry import register_metric

Path({sentinel!r}).write_text("ran")


class Quiet(PerItemMetric):
    name, direction, unit, delta_kind = "quiet_snr", LOWER, "dB", PERCENT

    def accumulator(self):
        return SNRSums()


register_metric("quiet_snr", Quiet)
"""
WORDS = ["logger=none", *FAST["eval"]]  # the model: tiny, by the configs below or model=tiny


@pytest.fixture
def folder(tmp_path, monkeypatch, registries):  # noqa: F811
    """A working folder with three clips and a plugin metric that writes SENTINEL when it is imported."""
    monkeypatch.chdir(tmp_path)
    write_three_clips(tmp_path / "clips")
    (tmp_path / "quiet.py").write_text(SENTINEL_METRIC.format(sentinel=str(tmp_path / "SENTINEL")))
    return tmp_path


def a_config(folder: Path, body: dict, name: str = "their.yaml") -> str:
    body = {"extends": "eval", "defaults": {"model": "tiny"}, **body}
    (folder / name).write_text(OmegaConf.to_yaml(OmegaConf.create(body)))
    return str(folder / name)


def refused(capsys, job: str, words: list[str]) -> str:
    capsys.readouterr()
    assert cli.main(job, words) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


def test_the_uses_a_config_holds():
    cfg = {
        "plugins": ["lab.metrics", "x.py"],
        "data": {"shards": "local-{0..3}.tar::pipe:curl -s h/a.tar::https://h/b.tar::s3://b/c.tar"},
        "model": {"family": "lab.family"},
    }
    described = [use.describe() for use in code_uses(cfg, families=("audioldm",))]
    assert described == [
        "plugins[0]: module lab.metrics",
        f"plugins[1]: plugin {Path('x.py').resolve()}",
        "data.shards: command `curl -s h/a.tar`",
        "data.shards: curl https://h/b.tar",
        "data.shards: aws s3://b/c.tar",
        "model.family: module lab.family",
    ]
    assert code_uses({"data": {"shards": "/data/a-{0..9}.tar"}, "model": {"family": "audioldm"}}, ("audioldm",)) == []
    typed = typed_uses(["plugins=[x.py]", "data.shards=pipe:cat a.tar", "enhancement.gain=2"])
    assert typed == {("plugin", str(Path("x.py").resolve())), ("command", "cat a.tar")}


@pytest.mark.parametrize(
    "body, said",
    [
        ({"plugins": ["quiet.py"]}, "plugins[0]: plugin {folder}/quiet.py"),
        ({"plugins": ["quiet_module"]}, "plugins[0]: module quiet_module"),
        ({"data": {"shards": "pipe:touch {folder}/SENTINEL; cat a.tar", "dir": None}}, "command `touch"),
        ({"data": {"shards": "https://127.0.0.1:9/a.tar", "dir": None}}, "data.shards: curl https://127.0.0.1:9/a.tar"),
        ({"model": {"family": "quiet_family"}}, "model.family: module quiet_family"),
    ],
    ids=["plugin-file", "plugin-module", "pipe", "url", "family-module"],
)
def test_code_from_a_file_is_refused_without_consent(folder, capsys, monkeypatch, body, said):
    monkeypatch.syspath_prepend(str(folder))
    (folder / "quiet_module.py").write_text(f"open({str(folder / 'SENTINEL')!r}, 'w').write('ran')\n")
    (folder / "quiet_family.py").write_text(f"open({str(folder / 'SENTINEL')!r}, 'w').write('ran')\n")
    body = json.loads(json.dumps(body).replace("{folder}", str(folder)))
    config = a_config(folder, body)
    before = sorted(p.name for p in folder.iterdir())
    err = refused(capsys, "eval", ["--config", config, *WORDS, "data.dir=clips", "out_dir=run"])
    assert err.startswith(f"error: --config {config} would run code: ")
    assert said.replace("{folder}", str(folder)) in err and "--trust-code" in err
    assert sorted(p.name for p in folder.iterdir()) == before  # nothing written, nothing run (no SENTINEL)


def test_a_plugin_runs_with_trust_code_or_from_the_command_line(folder, capsys):
    config = a_config(folder, {"plugins": ["quiet.py"], "metrics": {"names": ["snr", "quiet_snr"]}})
    assert cli.main("eval", ["--config", config, "--trust-code", *WORDS, "data.dir=clips", "out_dir=trusted"]) == 0
    assert (folder / "SENTINEL").exists()
    (folder / "SENTINEL").unlink()
    plugins._LOADED.clear()
    typed = [
        *WORDS,
        "model=tiny",
        "plugins=[quiet.py]",
        "metrics.names=[snr,quiet_snr]",
        "data.dir=clips",
        "out_dir=typed",
    ]
    assert cli.main("eval", typed) == 0 and (folder / "SENTINEL").exists()
    (folder / "SENTINEL").unlink()
    plugins._LOADED.clear()
    # its saved config.yaml is a file: reproducing it asks again
    err = refused(capsys, "eval", ["--config", "typed/config.yaml", "out_dir=again"])
    assert f"plugins[0]: plugin {folder / 'quiet.py'}" in err and not (folder / "SENTINEL").exists()
    assert not (folder / "again").exists()


def test_a_pipe_command_runs_with_trust_code_or_from_the_command_line(folder, capsys):
    assert data_cli(["pack", "clips", "shards", "--per-shard", "5"]) == 0
    command = f"pipe:touch {folder / 'SENTINEL'}; cat {folder / 'shards' / 'shard-000000.tar'}"
    config = a_config(folder, {"data": {"shards": command, "dir": None}})
    assert cli.main("eval", ["--config", config, "--trust-code", *WORDS, "out_dir=trusted"]) == 0
    assert (folder / "SENTINEL").exists()
    (folder / "SENTINEL").unlink()
    assert cli.main("eval", [*WORDS, "model=tiny", f"data.shards={command}", "out_dir=typed"]) == 0
    assert (folder / "SENTINEL").exists()


def test_a_family_module_is_imported_with_trust_code(folder, capsys, monkeypatch):
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.delitem(sys.modules, "quiet_family", raising=False)  # imported afresh, as in a new process
    (folder / "quiet_family.py").write_text(f"open({str(folder / 'SENTINEL')!r}, 'w').write('ran')\n")
    config = a_config(folder, {"model": {"family": "quiet_family"}})
    err = refused(capsys, "eval", ["--config", config, "--trust-code", *WORDS, "data.dir=clips", "out_dir=run"])
    assert "module 'quiet_family' does not register a family" in err and (folder / "SENTINEL").exists()


@pytest.fixture
def plugin_run(folder, capsys):
    """A finished evaluation with the plugin metric (SENTINEL removed after it), and a second one to compare."""
    words = [*WORDS, "model=tiny", "plugins=[quiet.py]", "metrics.names=[snr,quiet_snr]", "data.dir=clips"]
    assert cli.main("eval", [*words, "out_dir=a", "enhancement=none", "outputs.listening_files=3"]) == 0
    assert cli.main("eval", [*words, "out_dir=b", "enhancement=mel_hf_shelf"]) == 0
    from audiovae.metrics import registry

    registry.METRICS.pop("quiet_snr")  # a new process: nothing of the plugin is known
    plugins._LOADED.clear()
    (folder / "SENTINEL").unlink()
    capsys.readouterr()
    return folder


def test_compare_and_listening_never_run_a_run_folders_plugins(plugin_run, capsys):
    from audiovae.compare import main as compare
    from audiovae.listening.__main__ import main as listening

    assert compare(["a", "b", "--out", "compared"]) == 0
    table = (plugin_run / "compared" / "compare.csv").read_text()
    assert "quiet_snr,lower," in table  # its direction, from a's summary.json
    assert listening(["pages", "a"]) == 0
    assert not (plugin_run / "SENTINEL").exists()


def test_compare_of_an_unfinished_plugin_run_is_one_line(plugin_run, capsys):
    from audiovae.compare import main as compare

    (plugin_run / "a" / "summary.json").unlink()
    assert compare(["a", "b", "--out", "compared"]) == 2
    err = capsys.readouterr().err
    assert "metric 'quiet_snr' is a plugin's and the run's summary.json does not describe it" in err
    assert not (plugin_run / "SENTINEL").exists()


def test_export_runs_a_checkpoints_plugins_only_with_trust_code(folder, capsys):
    from audiovae.training.export import CHECKPOINT_KEY, PLUGINS_KEY
    from audiovae.training.export import main as export

    ckpt = folder / "their.ckpt"
    torch.save({CHECKPOINT_KEY: {"name": "none"}, PLUGINS_KEY: [str(folder / "quiet.py")], "state_dict": {}}, ckpt)
    assert export([str(ckpt), "out.safetensors"]) == 2
    err = capsys.readouterr().err
    assert f"{ckpt} would run code: plugins[0]: plugin {folder / 'quiet.py'}; export again with --trust-code" in err
    assert not (folder / "SENTINEL").exists() and not (folder / "out.safetensors").exists()
    assert export([str(ckpt), "out.safetensors", "--trust-code"]) == 0
    assert (folder / "SENTINEL").exists() and (folder / "out.safetensors").exists()


def test_latents_of_a_shard_run_run_its_command_only_with_trust_code(folder, capsys):
    assert data_cli(["pack", "clips", "shards", "--per-shard", "5"]) == 0
    command = f"pipe:touch {folder / 'SENTINEL'}; cat {folder / 'shards' / 'shard-000000.tar'}"
    assert cli.main("eval", [*WORDS, "model=tiny", f"data.shards={command}", "out_dir=run"]) == 0
    (folder / "SENTINEL").unlink()
    assert data_cli(["latents", "run", "latents"]) == 2
    assert "would run code: data.shards: command `touch" in capsys.readouterr().err
    assert not (folder / "SENTINEL").exists() and not (folder / "latents").exists()
    assert data_cli(["latents", "run", "latents", "--trust-code"]) == 0
    assert (folder / "SENTINEL").exists()


def test_an_environment_value_never_reaches_a_runs_outputs(folder, capsys, monkeypatch):
    monkeypatch.setenv("AUDIOVAE_TEST_TOKEN", "tok-5e4c7f")
    config = a_config(folder, {"logger": {"tags": ["${oc.env:AUDIOVAE_TEST_TOKEN}"]}})
    err = refused(capsys, "eval", ["--config", config, *WORDS, "data.dir=clips", "out_dir=run"])
    assert "key 'logger.tags[0]' reads an environment variable" in err and "tok-5e4c7f" not in err
    assert not (folder / "run").exists()
    # a saved config.yaml whose value was edited to read the environment: reproducing it is refused, and so is
    # reading it (listening pages)
    assert cli.main("eval", [*WORDS, "model=tiny", "data.dir=clips", "out_dir=mine"]) == 0
    saved = folder / "mine" / "config.yaml"
    saved.write_text(saved.read_text().replace("seed: 0", "seed: ${oc.env:AUDIOVAE_TEST_TOKEN}"))
    refused(capsys, "eval", ["--config", str(saved), "out_dir=again"])
    from audiovae.listening.__main__ import main as listening

    assert listening(["pages", "mine"]) == 2
    leaked = [p for p in folder.rglob("*") if p.is_file() and b"tok-5e4c7f" in p.read_bytes()]
    assert leaked == []
    # typed on the command line it is the user's own
    words = [*WORDS, "model=tiny", "data.dir=clips", "out_dir=typed", "logger.name=${oc.env:AUDIOVAE_TEST_TOKEN}"]
    assert cli.main("eval", words) == 0
    assert "tok-5e4c7f" in (folder / "typed" / "config.yaml").read_text()
    assert os.environ["AUDIOVAE_TEST_TOKEN"] == "tok-5e4c7f"


@pytest.mark.parametrize("how", ["command line", "trust"])
def test_a_module_plugin_and_a_url_run_with_consent(folder, capsys, monkeypatch, how):
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.delitem(sys.modules, "quiet_module", raising=False)  # imported afresh, as in a new process
    (folder / "quiet_module.py").write_text(f"open({str(folder / 'SENTINEL')!r}, 'w').write('ran')\n")
    url = "http://127.0.0.1:9/a.tar"  # nothing listens: curl runs and fails
    if how == "command line":
        words = [*WORDS, "model=tiny", "plugins=[quiet_module]", f"data.shards={url}"]
    else:
        config = a_config(folder, {"plugins": ["quiet_module"], "data": {"shards": url}})
        words = ["--config", config, "--trust-code", *WORDS]
    err = refused(capsys, "eval", [*words, "data.dir=null", "out_dir=run"])
    assert "would run code" not in err and f"data.shards: '{url}' failed" in err and "curl" in err
    assert (folder / "SENTINEL").read_text() == "ran"


def test_a_family_module_typed_on_the_command_line_is_imported(folder, capsys, monkeypatch):
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.delitem(sys.modules, "quiet_family", raising=False)  # imported afresh, as in a new process
    (folder / "quiet_family.py").write_text(f"open({str(folder / 'SENTINEL')!r}, 'w').write('ran')\n")
    err = refused(capsys, "eval", [*WORDS, "model=tiny", "model.family=quiet_family", "data.dir=clips", "out_dir=r"])
    assert "module 'quiet_family' does not register a family" in err and (folder / "SENTINEL").exists()
