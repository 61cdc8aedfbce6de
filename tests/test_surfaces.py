"""The surfaces beyond a folder at the folder's standard: manifests, shards, prompts, model options, devices,
plugins, `--force`, and the messages of a few old cases. Each test is one case a user met: a one-line error (exit 2,
nothing written), an error row naming the cause, a note for what is dropped, or a refusal."""

import gzip
import json
import os
import tarfile
from pathlib import Path

import numpy as np
import pytest

from audiovae import cli
from audiovae.data import manifests, shards
from audiovae.data_cli import cli as data_cli
from audiovae.reporting.records import read_csv
from tests.conftest import noise, tone, write, write_three_clips
from tests.test_extending import FAST, registries  # noqa: F401 - the fixture

WORDS = ["logger=none", "model=tiny", *FAST["eval"]]


@pytest.fixture
def here(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_three_clips(tmp_path / "clips")
    return tmp_path


def one_line(capsys, job: str, words: list[str], status: int = 2) -> str:
    capsys.readouterr()
    runner = data_cli if job == "data" else (lambda w: cli.main(job, w))
    assert runner(words) == status
    err = [line for line in capsys.readouterr().err.strip().splitlines() if not line.startswith("evaluating:")]
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


def rows(run: Path) -> dict:
    return {row["file"]: row for row in read_csv(run / "results.csv")}


def evaluate_manifest(capsys, here: Path, body: str, name: str = "m.jsonl", status: int = 2, *extra) -> str:
    (here / name).write_text(body) if isinstance(body, str) else (here / name).write_bytes(body)
    err = one_line(capsys, "eval", [*WORDS, f"data.manifest={name}", "out_dir=run", *extra], status)
    assert not (here / "run").exists()
    return err


# manifests


def test_a_corrupt_gzip_manifest_is_one_line(here, capsys):
    whole = gzip.compress(b'{"path": "clips/a_tone.wav"}\n')
    err = evaluate_manifest(capsys, here, whole[:20] + b"\0" * 10 + whole[30:], "m.jsonl.gz")
    assert "m.jsonl.gz" in err and "not gzip, or truncated" in err


def test_a_gzip_bomb_manifest_stops_at_its_bound(here, capsys, monkeypatch):
    monkeypatch.setattr(manifests, "MAX_TEXT_BYTES", 1 << 20)
    bomb = gzip.compress(b'{"path": "clips/a_tone.wav"}\n' + b" " * (8 << 20))
    err = evaluate_manifest(capsys, here, bomb, "m.jsonl.gz")
    assert "more than 1 MiB of text; split it into several manifests" in err


def test_an_audioldm_datafile_of_strings_is_one_line(here, capsys):
    err = evaluate_manifest(capsys, here, json.dumps({"data": ["clips/a_tone.wav"]}), "d.json")
    assert "d.json:data[0]: an entry must be a JSON object, got str" in err


@pytest.mark.parametrize(
    "root, said",
    [
        ([1, 2], "must be a JSON object of dataset roots, got list"),
        ({"clips": ".", "metadata": {"path": ["d.json"]}}, "'metadata.path' must map each dataset"),
        ({"clips": ".", "metadata": {"path": {"clips": "d.json"}}}, "'metadata.path' must map each dataset"),
        ({"clips": 7}, "the root of 'clips' must be a path, got 7"),
    ],
    ids=["list", "path-list", "path-string", "root-number"],
)
def test_a_malformed_dataset_root_is_one_line(here, capsys, root, said):
    (here / "root.json").write_text(json.dumps(root))
    body = json.dumps({"data": [{"wav": "a_tone.wav"}]})
    err = evaluate_manifest(capsys, here, body, "d.json", 2, "data.dataset_root=root.json")
    assert "data.dataset_root" in err and said in err


def test_a_fifo_dataset_root_is_refused_without_blocking(here, capsys):
    os.mkfifo(here / "root.json")
    body = json.dumps({"data": [{"wav": "a_tone.wav"}]})
    err = evaluate_manifest(capsys, here, body, "d.json", 2, "data.dataset_root=root.json")
    assert "root.json': not a file" in err


def test_a_boolean_offset_is_refused_not_read_as_one_second(here, capsys):
    err = evaluate_manifest(capsys, here, json.dumps({"path": "clips/a_tone.wav", "offset_s": True}) + "\n")
    assert "m.jsonl:1: 'offset_s' must be a number of seconds, got true" in err


def test_a_path_holding_a_tab_is_an_error_row(here, capsys):
    (here / "m.jsonl").write_text(json.dumps({"path": "clips/a\ttone.wav"}) + "\n" + '{"path": "clips/b_chirp.wav"}\n')
    assert cli.main("eval", [*WORDS, "data.manifest=m.jsonl", "out_dir=run"]) == 0
    found = rows(here / "run")
    assert found["clips/a\ttone.wav"]["status"] == "error" and found["clips/b_chirp.wav"]["status"] == "ok"


def test_an_excerpt_past_the_files_end_is_noted(here):
    body = json.dumps({"path": "clips/a_tone.wav", "offset_s": 0.5, "duration_s": 2.0}) + "\n"
    (here / "m.jsonl").write_text(body)
    assert cli.main("eval", [*WORDS, "data.manifest=m.jsonl", "out_dir=run"]) == 0
    (row,) = rows(here / "run").values()
    assert row["status"] == "ok" and float(row["evaluated_s"]) == pytest.approx(0.5, abs=0.01)
    assert "input: the excerpt runs 1.500 s past the file's end; 0.500 s evaluated" in row["notes"]


# shards


def a_tar(path: Path, members: list[tuple[tarfile.TarInfo, bytes]]) -> Path:
    with tarfile.open(path, "w") as tar:
        for info, data in members:
            tar.addfile(info, None if info.type != tarfile.REGTYPE else __import__("io").BytesIO(data))
    return path


def member(name: str, data: bytes = b"", kind=tarfile.REGTYPE, link: str = "") -> tuple:
    info = tarfile.TarInfo(name)
    info.type, info.size, info.linkname = kind, len(data) if kind == tarfile.REGTYPE else 0, link
    return info, data


def test_an_empty_shard_set_is_one_line(here, capsys):
    a_tar(here / "empty.tar", [])
    err = one_line(capsys, "eval", [*WORDS, "data.shards=empty.tar", "out_dir=run"])
    assert "no" in err and "empty.tar" in err
    assert not (here / "run").exists()


def test_a_huge_brace_pattern_is_refused_without_expanding_it(here, capsys):
    err = one_line(capsys, "eval", [*WORDS, "data.shards=s-{00000000..99999999}.tar", "out_dir=run"])
    assert f"names more than {shards.MAX_SHARDS} shards" in err


def test_link_device_and_fifo_members_are_listed_as_skipped(here):
    wav = (here / "clips" / "a_tone.wav").read_bytes()
    members = [
        member("a.wav", wav),
        member("b.wav", kind=tarfile.SYMTYPE, link="a.wav"),
        member("c.wav", kind=tarfile.CHRTYPE),
        member("d.wav", kind=tarfile.FIFOTYPE),
        member("e.wav", kind=tarfile.LNKTYPE, link="a.wav"),
    ]
    listing = shards.catalogue(str(a_tar(here / "s.tar", members)))
    assert [e.key for e in listing.entries] == ["s.tar:a"]
    assert dict(listing.skipped) == {
        "s.tar:b.wav": "a symbolic link: not read",
        "s.tar:c.wav": "a character device: not read",
        "s.tar:d.wav": "a FIFO: not read",
        "s.tar:e.wav": "a hard link: not read",
    }


def test_an_oversized_member_is_skipped_unread(here, monkeypatch):
    monkeypatch.setattr(shards, "MAX_MEMBER_BYTES", 1000)
    wav = (here / "clips" / "a_tone.wav").read_bytes()
    listing = shards.catalogue(str(a_tar(here / "s.tar", [member("a.wav", wav), member("b.txt", b"x")])))
    assert (
        listing.entries == [] and "over the 0 MiB a member may hold: not read" in dict(listing.skipped)["s.tar:a.wav"]
    )


# model options, devices, families


@pytest.mark.parametrize(
    "model, word, said",
    [
        ("tiny_encodec", "model.options.bandwidth=abc", "takes a number or null here, got 'abc'"),
        ("tiny_dac", "model.options.n_quantizers=abc", "takes a whole number or null here, got 'abc'"),
        ("tiny_dac", "model.options.n_quantizers=[1]", "takes a whole number or null here, got [1]"),
        ("tiny_dac", "model.options.n_quantizers=2.5", "takes a whole number or null here, got 2.5"),
    ],
)
def test_model_options_of_another_type_are_one_line(here, capsys, model, word, said):
    err = one_line(capsys, "eval", [f"model={model}", *WORDS[:1], *FAST["eval"], "data.dir=clips", "out_dir=r", word])
    assert f"config key '{word.split('=')[0]}'" in err and said in err


def test_a_dac_folder_given_to_the_encodec_family_is_one_line(here, capsys, audiovae_home):
    assert cli.main("eval", ["model=tiny_dac", *FAST["eval"], "logger=none", "data.dir=clips", "out_dir=dac"]) == 0
    words = ["model=tiny_encodec", f"model.path={audiovae_home}/models/tiny-dac", "model.build=null"]
    err = one_line(capsys, "eval", [*words, "logger=none", *FAST["eval"], "data.dir=clips", "out_dir=r"])
    assert "describes a dac model; the encodec family loads encodec" in err


def test_a_cuda_device_this_machine_lacks_is_one_line(monkeypatch):
    import torch

    from audiovae.errors import ConfigError
    from audiovae.generation.job import pick_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ConfigError, match=r"'device': cuda:2 asked for, but this machine has 0 CUDA device"):
        pick_device("cuda:2")
    assert pick_device("cpu").type == "cpu" and pick_device("auto").type == "cpu"


PLUGIN_FAMILY = """
from audiovae.models.families import Family, register_family

def build(model, enhancer, frontend):
    raise RuntimeError("weights missing")

register_family(Family({name!r}, build))
"""


def test_a_plugin_family_that_cannot_build_is_one_line(here, capsys, registries):  # noqa: F811
    (here / "fam.py").write_text(PLUGIN_FAMILY.format(name="broken_family"))
    words = ["plugins=[fam.py]", "model.family=broken_family", "data.dir=clips", "out_dir=r", *WORDS]
    err = one_line(capsys, "eval", words)
    assert "the broken_family family (plugin audiovae_plugin_fam_" in err and "RuntimeError: weights missing" in err


def test_two_plugins_registering_one_family_name_are_refused(here, capsys, registries):  # noqa: F811
    (here / "one.py").write_text(PLUGIN_FAMILY.format(name="twin"))
    (here / "two.py").write_text(PLUGIN_FAMILY.format(name="twin"))
    err = one_line(capsys, "eval", ["plugins=[one.py,two.py]", "model.family=twin", "data.dir=clips", *WORDS])
    assert "model family 'twin' is already registered by another plugin" in err


@pytest.mark.parametrize(
    "code, said",
    [
        (
            "from audiovae.metrics.base import LOWER, PerItemMetric\nfrom audiovae.metrics.registry import "
            "register_metric\nclass SNR(PerItemMetric):\n    name, direction = 'snr', LOWER\n"
            "register_metric('snr', SNR)",
            "metric 'snr' is already registered by a built-in",
        ),
        (
            "from audiovae.enhancers.latent_fft_boost import LatentFFTBoost\nfrom audiovae.enhancers.registry import "
            "register_enhancer\nclass LatentFFTBoost(LatentFFTBoost):\n    pass\n"
            "register_enhancer('latent_fft_boost', LatentFFTBoost)",
            "enhancer 'latent_fft_boost' is already registered by a built-in",
        ),
        (PLUGIN_FAMILY.format(name="audioldm"), "model family 'audioldm' is already registered by a built-in"),
        ("import sys\nsys.exit(0)", "plugin taker.py called sys.exit(0) while being imported"),
    ],
    ids=["metric-snr", "enhancer-latent_fft_boost", "family-audioldm", "sys-exit"],
)
def test_a_plugin_taking_a_builtin_name_or_exiting_is_one_line(here, capsys, registries, code, said):  # noqa: F811
    (here / "taker.py").write_text(code)
    err = one_line(capsys, "eval", ["plugins=[taker.py]", "data.dir=clips", "out_dir=r", *WORDS])
    assert said in err
    assert not (here / "r").exists()


# plugins failing on an item


BAD_METRIC = """
import torch
from audiovae.metrics.base import LOWER, PerItemMetric
from audiovae.metrics.registry import register_metric


class Acc:
    def update(self, preds, target):
        if {raise_!r}:
            raise ZeroDivisionError("no")

    def value(self):
        return {value}


class Bad(PerItemMetric):
    name, direction = "bad", LOWER

    def accumulator(self):
        return Acc()


register_metric("bad", Bad)
"""


@pytest.mark.parametrize(
    "raise_, value, said",
    [
        (True, "0.0", "failed: ZeroDivisionError: no"),
        (False, "'text'", "gave str, not one number"),
        (False, "None", "gave NoneType, not one number"),
        (False, "torch.zeros(3)", "gave shape [3], not one number"),
    ],
    ids=["raises", "string", "none", "shape"],
)
def test_a_plugin_metric_failing_on_a_file_is_its_error_row(here, registries, raise_, value, said):  # noqa: F811
    (here / "bad.py").write_text(BAD_METRIC.format(raise_=raise_, value=value))
    words = [*WORDS, "plugins=[bad.py]", "metrics.names=[snr,bad]", "data.dir=clips", "out_dir=run"]
    assert cli.main("eval", words) == 1  # every file failed
    for row in rows(here / "run").values():
        assert row["status"] == "error" and "metric bad (plugin audiovae_plugin_bad_" in row["error"], row
        assert said in row["error"]


BAD_ENHANCER = """
import numpy as np
import torch
from audiovae.enhancers.base import Enhancer, MEL
from audiovae.enhancers.registry import register_enhancer


class Odd(Enhancer):
    domain = MEL

    def __init__(self, mode: str = "numpy"):
        super().__init__()
        self.mode = mode

    def forward(self, x):
        if self.mode == "numpy":
            return x.detach().numpy()
        return x * float("inf")

    def is_identity(self):
        return False


register_enhancer("odd", Odd)
"""


@pytest.mark.parametrize(
    "mode, said",
    [("numpy", "enhancer Odd (plugin audiovae_plugin_odd_"), ("poison", "the enhanced decode holds NaN or inf")],
)
def test_an_enhancer_returning_an_array_or_nan_is_an_error_row(here, registries, mode, said):  # noqa: F811
    (here / "odd.py").write_text(BAD_ENHANCER)
    words = [*WORDS, "plugins=[odd.py]", "enhancement=none", "enhancement.name=odd", f"enhancement.mode={mode}"]
    assert cli.main("eval", [*words, "data.dir=clips", "out_dir=run"]) == 1
    for row in rows(here / "run").values():
        assert row["status"] == "error" and said in row["error"], row


BAD_SOURCE = """
from audiovae.data.entries import Entry, Listing
from audiovae.data.sources import register_source


def listing(kind: str):
    if kind == "raise":
        raise OSError("the index server is down")
    if kind == "strings":
        return Listing(["a.wav"])
    return Listing([Entry("a", 3.5)])


register_source("odd_source", listing)
"""


@pytest.mark.parametrize(
    "kind, said",
    [
        ("raise", "failed: OSError: the index server is down"),
        ("strings", "entries[0] is a str, not an Entry"),
        ("sound", "entry 'a' has a float as its sound"),
    ],
)
def test_a_plugin_source_that_cannot_list_is_one_line(here, capsys, registries, kind, said):  # noqa: F811
    (here / "src.py").write_text(BAD_SOURCE)
    words = [*WORDS, "plugins=[src.py]", "data.source=odd_source", f"+data.options.kind={kind}", "out_dir=run"]
    err = one_line(capsys, "eval", [w.lstrip("+") for w in words])
    assert "the odd_source source (plugin audiovae_plugin_src_" in err and said in err
    assert not (here / "run").exists()


BYTES_SOURCE = """
from pathlib import Path
from audiovae.audio.io import SoundSource
from audiovae.data.entries import Entry, Listing
from audiovae.data.sources import register_source


def listing(path: str):
    return Listing([Entry("clip", SoundSource("clip", data=Path(path).read_bytes()))])


register_source("bytes_source", listing)
"""


def test_a_plugin_sources_changed_bytes_are_evaluated_again(here, registries):  # noqa: F811
    (here / "bsrc.py").write_text(BYTES_SOURCE)
    write(here / "clip.wav", tone(440, 1.0, 16000), 16000)
    words = [*WORDS, "plugins=[bsrc.py]", "data.source=bytes_source", "data.options.path=clip.wav", "out_dir=run"]
    assert cli.main("eval", words) == 0
    first = rows(here / "run")["clip"]["base_snr"]
    write(here / "clip.wav", tone(440, 1.0, 16000) + noise(1.0, 16000, amp=0.2), 16000)
    assert cli.main("eval", words) == 0
    assert rows(here / "run")["clip"]["base_snr"] != first


# channels, stereo


def test_an_eight_channel_file_on_a_stereo_model_notes_the_dropped_channels(here):
    t = np.arange(44100) / 44100
    write(
        here / "multi" / "eight.wav",
        np.stack([0.3 * np.sin(2 * np.pi * (200 + 50 * c) * t) for c in range(8)], 1),
        44100,
    )
    words = ["model=tiny_oobleck", "logger=none", *FAST["eval"], "data.channels=model", "data.dir=multi"]
    assert cli.main("eval", [*words, "out_dir=run", "metrics.names=[snr]"]) == 0
    (row,) = rows(here / "run").values()
    assert row["status"] == "ok" and "input: channels 3-8 of 8 dropped (the model takes 2)" in row["notes"]


def test_a_loud_anti_phase_stereo_file_is_not_called_silent(here):
    left = tone(440, 1.0, 16000)
    write(here / "anti" / "phase.wav", np.stack([left, -left], 1), 16000)
    assert cli.main("eval", [*WORDS, "data.dir=anti", "out_dir=run"]) == 1
    (row,) = rows(here / "run").values()
    assert (
        "its channels cancel when mixed to mono (anti-phase)" in row["error"] and "data.channels=first" in row["error"]
    )


# reproducing, --force


def test_a_saved_config_reads_the_same_audio_from_another_folder(here, tmp_path_factory, capsys):
    assert cli.main("eval", [*WORDS, "data.dir=clips", "out_dir=run"]) == 0
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    write(elsewhere / "clips" / "a_tone.wav", noise(1.0, 16000), 16000)  # other audio under the same relative name
    os.chdir(elsewhere)
    assert cli.main("eval", ["--config", str(here / "run" / "config.yaml"), "out_dir=again"]) == 0
    again, first = rows(elsewhere / "again"), rows(here / "run")
    assert sorted(again) == sorted(first) and again["a_tone.wav"]["base_snr"] == first["a_tone.wav"]["base_snr"]


def test_force_never_overwrites_an_input_or_writes_through_a_link(here, capsys):
    before = (here / "clips" / "a_tone.wav").read_bytes()
    err = one_line(capsys, "data", ["manifest", "clips", "clips/a_tone.wav", "--force"])
    assert (
        "clips/a_tone.wav is the input clips/a_tone.wav" in err and (here / "clips/a_tone.wav").read_bytes() == before
    )
    (here / "mine.txt").write_text("a user's")
    (here / "link.jsonl").symlink_to(here / "mine.txt")
    err = one_line(capsys, "data", ["manifest", "clips", "link.jsonl", "--force"])
    assert "link.jsonl is a symbolic link" in err and (here / "mine.txt").read_text() == "a user's"
    (here / "shards").mkdir()
    (here / "shards" / "shard-000000.tar").symlink_to(here / "mine.txt")
    err = one_line(capsys, "data", ["pack", "clips", "shards", "--force"])
    assert "shard-000000.tar is a symbolic link" in err and (here / "mine.txt").read_text() == "a user's"


def test_export_onto_a_folder_is_one_line(here, capsys):
    import torch

    from audiovae.training.export import CHECKPOINT_KEY
    from audiovae.training.export import main as export

    torch.save({CHECKPOINT_KEY: {"name": "none"}, "state_dict": {}}, here / "c.ckpt")
    (here / "out.safetensors").mkdir()
    assert export([str(here / "c.ckpt"), str(here / "out.safetensors"), "--force"]) == 2
    assert "out.safetensors is a folder: name an output file" in capsys.readouterr().err


def test_a_checkpoint_whose_gains_disagree_with_its_metadata_is_one_line(here, capsys):
    import torch
    from omegaconf import OmegaConf
    from safetensors import safe_open
    from safetensors.torch import save_file

    from audiovae.enhancers.registry import build_enhancer
    from audiovae.enhancers.serialization import export_enhancer

    config = {"name": "learnable_latent_filter"}
    path = export_enhancer(build_enhancer(OmegaConf.create(config)), config, here / "e.safetensors")
    with safe_open(str(path), "pt") as f:
        metadata = f.metadata()
    save_file({"latent_stages.0.gains": torch.zeros(8, 5)}, str(path), metadata)  # gains of another latent size
    err = one_line(capsys, "eval", [*WORDS, "data.dir=clips", "out_dir=r1", f"enhancement.checkpoint={path}"])
    assert "its weights do not fit the enhancer its metadata describes" in err
    assert not (here / "r1").exists()


def test_a_full_disk_at_a_wav_write_is_exit_4_with_what_finished_kept(here, capsys, monkeypatch):
    import shutil

    from audiovae.audio import io as audio_io

    def full(self, data):
        raise AssertionError

    monkeypatch.setattr(audio_io.sf.SoundFile, "write", full)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(100, 100, 0))
    words = ["logger=none", "model=tiny", "outputs.listening_files=0", "outputs.save_plots=false", "data.dir=clips"]
    err = one_line(capsys, "eval", [*words, "out_dir=run"], 4)
    assert "cannot write" in err and ".wav (No space left on device" in err and "what finished is kept" in err


def test_a_link_to_the_root_in_data_dir_is_skipped_not_a_write_error(here):
    from audiovae.data.files import discover_audio_files

    (here / "clips" / "root").symlink_to("/proc/1/cwd")
    (here / "clips" / "up").symlink_to(here)
    found = discover_audio_files("clips", ["*.wav"])
    assert [p.name for p in found.paths] == ["a_tone.wav", "b_chirp.wav", "c_noisy.wav"]
    skipped = dict(found.skipped)
    assert skipped["up/"].startswith("a link to") and "a folder above data.dir: not followed" in skipped["up/"]
    assert "root" in skipped or "root/" in skipped  # unreadable, or a link to / : never walked


# messages that name the true cause


@pytest.mark.parametrize(
    "config, said",
    [
        ("clips", "--config clips: a folder; give a config name in configs/ or a .yaml file"),
        ("/dev/zero", "--config /dev/zero: a character device"),
    ],
)
def test_config_on_a_folder_or_a_device_says_so(here, capsys, config, said):
    assert said in one_line(capsys, "eval", ["--config", config])


def test_compare_of_an_unfinished_run_says_so(here):
    from audiovae.compare import load_run
    from audiovae.errors import CompareError

    (here / "unfinished" / "partial").mkdir(parents=True)
    (here / "unfinished" / "config.yaml").write_text("seed: 0\n")
    with pytest.raises(CompareError, match=r"unfinished: an unfinished evaluation \(no results.csv yet\)"):
        load_run(here / "unfinished")


# generation


GEN = [
    "model=tiny_pipeline",
    "embedding=tiny_clap",
    "logger=none",
    "device=cpu",
    "generation.steps=2",
    "generation.audio_length_s=1.0",
    "metrics.names=[hf_energy_share]",
    "outputs.listening_files=0",
    "outputs.save_plots=false",
    "outputs.save_audio=false",
]


@pytest.mark.parametrize(
    "word, said",
    [
        (f"seeds=[{2**64}]", "config key 'seeds[0]': must be a whole number in [0, 9223372036854775807]"),
        ("generation.audio_length_s=1e6", "config key 'generation.audio_length_s': must be in (0, 600]"),
        ("generation.waveforms_per_prompt=100000", "config key 'generation.waveforms_per_prompt': must be in [1, 64]"),
        ("generation.guidance_scale=1e30", "config key 'generation.guidance_scale': must be in [0, 100]"),
    ],
)
def test_generation_settings_past_their_bounds_are_one_line(here, capsys, word, said):
    (here / "p.txt").write_text("a dog barks\n")
    assert said in one_line(capsys, "generate", [*GEN, "prompts=p.txt", "out_dir=g", word])
    assert not (here / "g").exists()


@pytest.mark.parametrize("key", ["prompts", "reference"])
def test_a_fifo_prompts_or_reference_file_is_refused_without_blocking(here, capsys, key):
    (here / "p.txt").write_text("a dog barks\n")
    os.mkfifo(here / "fifo.txt")
    words = [*GEN, "prompts=fifo.txt" if key == "prompts" else "prompts=p.txt", "out_dir=g"]
    if key == "reference":
        words += ["reference=fifo.txt", "metrics.names=[hf_energy_share,fad]"]
    err = one_line(capsys, "generate", words)
    assert f"config key '{key}'" in err and "fifo.txt" in err  # refused, not read (a FIFO would block)


def test_prompts_the_pipeline_would_cut_or_frames_it_cannot_make_are_one_line(here, capsys):
    (here / "long.txt").write_text(" ".join(["word"] * 200) + "\n")
    err = one_line(capsys, "generate", [*GEN, "prompts=long.txt", "out_dir=g"])
    assert "long.txt prompt p000: 1001 tokens" in err and "reads at most 77" in err
    (here / "p.txt").write_text("a dog barks\n")
    err = one_line(capsys, "generate", [*GEN, "prompts=p.txt", "out_dir=g", "generation.audio_length_s=0.001"])
    assert "0.001 s is shorter than one latent frame of this pipeline" in err
    assert not (here / "g").exists()


def test_a_byte_order_mark_is_not_part_of_the_first_prompt(here):
    from audiovae.generation.prompts import read_prompts

    (here / "p.txt").write_bytes("\ufeffa dog barks\nrain\n".encode())
    (here / "p.csv").write_bytes("\ufeffprompt,id\na dog barks,x\n".encode())
    assert [p.text for p in read_prompts(here / "p.txt")] == ["a dog barks", "rain"]
    assert [(p.id, p.text) for p in read_prompts(here / "p.csv")] == [("x", "a dog barks")]


def test_debug_shows_a_plugins_traceback(here, registries, monkeypatch):  # noqa: F811
    (here / "bad.py").write_text(BAD_METRIC.format(raise_=True, value="0.0"))
    monkeypatch.setenv("AUDIOVAE_DEBUG", "0")  # off; the test's end restores the environment as it was
    words = [*WORDS, "plugins=[bad.py]", "metrics.names=[snr,bad]", "data.dir=clips", "out_dir=run"]
    with pytest.raises(ZeroDivisionError, match="no"):
        cli.main("eval", ["--debug", *words])


PICKY_ENHANCER = """
import torch
from audiovae.enhancers.base import Enhancer, LATENT
from audiovae.enhancers.registry import register_enhancer


class Picky(Enhancer):
    domain = LATENT

    def __init__(self, record: str = "", fail_above: float = 1e9):
        super().__init__()
        self.record, self.fail_above = record, fail_above

    def forward(self, z):
        means = z.flatten(1).mean(1)
        if self.record:
            with open(self.record, "a") as f:
                f.writelines(f"{float(m)!r}\\n" for m in means)
        if (means > self.fail_above).any():
            raise ValueError("latent mean too high")
        return z

    def is_identity(self):
        return False


register_enhancer("picky", Picky)
"""


def test_an_enhancer_failing_on_one_file_of_a_batch_fails_that_file_alone(here, registries):  # noqa: F811
    (here / "picky.py").write_text(PICKY_ENHANCER)
    words = [*WORDS, "plugins=[picky.py]", "enhancement=none", "enhancement.name=picky", "data.dir=clips"]
    assert cli.main("eval", [*words, "data.batch_size=1", "enhancement.record=means.txt", "out_dir=alone"]) == 0
    # each file's latent mean (the enhancer also runs on zeros at start-up, and twice per segment)
    means = sorted({float(line) for line in (here / "means.txt").read_text().split()} - {0.0})
    assert len(means) >= 3 and means[-1] > means[-2]
    threshold = (means[-1] + means[-2]) / 2  # only the file with the highest latent mean fails
    assert cli.main("eval", [*words, "data.batch_size=3", f"enhancement.fail_above={threshold}", "out_dir=batch"]) == 0
    batch, alone = rows(here / "batch"), rows(here / "alone")
    failed = [key for key, row in batch.items() if row["status"] == "error"]
    assert len(failed) == 1 and "enhancer Picky (plugin audiovae_plugin_picky_" in batch[failed[0]]["error"]
    for key, row in batch.items():
        if key not in failed:
            assert row["status"] == "ok" and float(row["base_snr"]) == pytest.approx(float(alone[key]["base_snr"]))
