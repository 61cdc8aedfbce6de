"""Data beyond a folder: manifests (ours, audiocraft's, AudioLDM's datafiles) and WebDataset shards (local and
`pipe:`), evaluated to the numbers a folder of the same clips gives; excerpts; bad entries; the rank split."""

import gzip
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from omegaconf import OmegaConf

from audiovae import cli
from audiovae import runs as runs_module
from audiovae.data.eval_data import EvalDataset, ShardEvalDataset
from audiovae.data.manifests import read_manifest
from audiovae.data.shards import catalogue, write_shards
from audiovae.data.sources import fingerprints, list_entries, source_kind
from audiovae.errors import ConfigError, DataError
from audiovae.reporting.records import read_csv
from tests.conftest import chirp, noise, tone, write

EVAL = [
    "model=tiny",
    "logger=none",
    "data.max_seconds=1.0",
    "metrics.bootstrap_samples=50",
    "outputs.save_plots=false",
    "cache.enabled=false",
]
NAMES = ["a.wav", "b.flac", "sub/c.wav"]
METRICS = ("base_snr", "enhanced_snr", "base_lsd", "enhanced_lsd", "enhanced_mel_l1", "delta_hf_retention")


def make_clips(folder: Path) -> None:
    write(folder / "a.wav", tone(440, 1.0, 16000) + tone(5000, 1.0, 16000, amp=0.1), 16000)
    write(folder / "b.flac", chirp(200, 7000, 1.2, 22050), 22050, "PCM_24")
    write(folder / "sub" / "c.wav", tone(300, 0.8, 16000) + noise(0.8, 16000, amp=0.05), 16000)


def pack(folder: Path, names, pattern: str, per_shard: int) -> list[Path]:
    samples = [
        (
            n.rsplit(".", 1)[0].replace("/", "_"),
            {n.rsplit(".", 1)[1]: (folder / n).read_bytes(), "json": json.dumps({"caption": f"clip {n}"}).encode()},
        )
        for n in names
    ]
    return write_shards(samples, pattern, per_shard)


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    root = tmp_path_factory.mktemp("sources")
    make_clips(root / "clips")
    (root / "clips.jsonl").write_text("".join(json.dumps({"path": f"clips/{n}", "caption": n}) + "\n" for n in NAMES))
    pack(root / "clips", NAMES, str(root / "shards" / "part-%03d.tar"), 2)
    return root


def evaluate(out: Path, *extra) -> dict:
    os.environ.pop(runs_module.RUN_DIR_ENV, None)
    assert cli.main("eval", [*EVAL, f"out_dir={out}", *extra]) == 0
    return read_csv(out / "results.csv")


def by_order(rows):
    return [{k: r[k] for k in METRICS} for r in rows]


def test_the_same_clips_as_a_folder_a_manifest_and_shards_give_equal_numbers(sources, tmp_path):
    folder = evaluate(tmp_path / "folder", f"data.dir={sources / 'clips'}")
    manifest = evaluate(tmp_path / "manifest", f"data.manifest={sources / 'clips.jsonl'}")
    shards = evaluate(tmp_path / "shards", f"data.shards={sources / 'shards' / 'part-{000..001}.tar'}")
    assert [r["file"] for r in folder] == NAMES
    assert [r["file"] for r in manifest] == [f"clips/{n}" for n in NAMES]
    assert [r["source"] for r in manifest] == ["clips.jsonl:1", "clips.jsonl:2", "clips.jsonl:3"]
    assert [r["file"] for r in shards] == ["part-000.tar:a", "part-000.tar:b", "part-001.tar:sub_c"]
    assert by_order(folder) == by_order(manifest) == by_order(shards)  # the same computation: equal, not close
    summary = json.loads((tmp_path / "shards" / "summary.json").read_text())
    assert summary["counts"] == {**summary["counts"], "files": 3, "ok": 3, "failed": 0}
    assert summary["time_accounting"]["listing_s"] > 0 and "fingerprint_s" in summary["time_accounting"]
    assert all(r["time_open"] > 0 for r in shards)  # opening, decoding and measuring each entry is a stage
    assert "listing the entries took" in (tmp_path / "shards" / "report.md").read_text()


def test_shards_through_a_pipe_command_list_and_evaluate_as_the_local_files(sources, tmp_path):
    local = catalogue(str(sources / "shards" / "part-{000..001}.tar"))
    piped = catalogue(f"pipe:cat {sources / 'shards' / 'part-{000..001}.tar'}")
    assert [(e.key, e.fingerprint, e.caption) for e in piped.entries] == [
        (e.key, e.fingerprint, e.caption) for e in local.entries
    ]
    assert [e.caption for e in local.entries] == [f"clip {n}" for n in NAMES]
    folder = list_entries(OmegaConf.create({"dir": str(sources / "clips"), "patterns": ["*.wav", "*.flac"]}))
    assert [e.fingerprint for e in local.entries] == list(fingerprints(folder.entries).values())  # as the files':
    # the cache and resume recognise a clip whatever source it comes from
    rows = evaluate(tmp_path / "piped", f"data.shards=pipe:cat {sources / 'shards' / 'part-{000..001}.tar'}")
    assert [r["status"] for r in rows] == ["ok"] * 3


def test_a_manifest_excerpt_is_evaluated_as_that_excerpt_and_one_file_gives_several_entries(tmp_path):
    wave = chirp(150, 7500, 3.0, 16000) + noise(3.0, 16000, amp=0.03)
    write(tmp_path / "long.wav", wave, 16000)
    cut = tmp_path / "cuts"
    write(cut / "first.wav", wave[8000:24000], 16000)  # 0.5 s + 1.0 s
    write(cut / "second.wav", wave[28000:], 16000)  # from 1.75 s to the end
    (tmp_path / "m.jsonl").write_text(
        json.dumps({"path": "long.wav", "offset_s": 0.5, "duration_s": 1.0})
        + "\n"
        + json.dumps({"path": "long.wav", "offset_s": 1.75, "id": "tail"})
        + "\n"
    )
    excerpts = evaluate(tmp_path / "m", f"data.manifest={tmp_path / 'm.jsonl'}")
    files = evaluate(tmp_path / "f", f"data.dir={cut}")
    assert [r["file"] for r in excerpts] == ["long.wav#0.5+1", "tail"]
    assert excerpts[0]["duration_s"] == pytest.approx(1.0) and excerpts[1]["duration_s"] == pytest.approx(1.25)
    assert by_order(excerpts) == by_order(files)


def test_manifest_formats_of_the_field_are_read_as_they_are(tmp_path):
    make_clips(tmp_path / "data" / "audio")
    audio = tmp_path / "data" / "audio"
    # audiocraft AudioMeta: absolute paths, `duration` describes the file (not an excerpt), gzip
    with gzip.open(tmp_path / "data.jsonl.gz", "wt") as f:
        for n in NAMES:
            f.write(
                json.dumps(
                    {
                        "path": str(audio / n),
                        "duration": 1.0,
                        "sample_rate": 16000,
                        "amplitude": None,
                        "weight": None,
                        "info_path": None,
                    }
                )
                + "\n"
            )
    entries, _ = read_manifest(str(tmp_path / "data.jsonl.gz"))
    assert [e.sound.path for e in entries] == [str(audio / n) for n in NAMES]
    assert all(e.sound.duration_s is None and e.sound.offset_s == 0 for e in entries)
    # AudioLDM datafile: wav relative to the dataset root that dataset_root.json gives for the dataset listing it
    meta = tmp_path / "metadata"
    (meta / "datafiles").mkdir(parents=True)
    datafile = meta / "datafiles" / "mine_train.json"
    datafile.write_text(json.dumps({"data": [{"wav": n, "caption": f"caption {i}"} for i, n in enumerate(NAMES)]}))
    (meta / "dataset_root.json").write_text(
        json.dumps(
            {
                "mine": str(audio),
                "metadata": {
                    "path": {
                        "mine": {
                            "train": "./metadata/datafiles/mine_train.json",
                            "test": "./metadata/datafiles/mine_test.json",
                        }
                    }
                },
            }
        )
    )
    entries, _ = read_manifest(str(datafile), str(meta / "dataset_root.json"))
    assert [e.sound.path for e in entries] == [str(audio / n) for n in NAMES]
    assert [e.caption for e in entries] == ["caption 0", "caption 1", "caption 2"]
    assert entries[1].origin == "mine_train.json:data[1]"
    without_root, _ = read_manifest(str(datafile))  # without it: relative to the datafile's folder
    assert without_root[0].sound.path == str(meta / "datafiles" / "a.wav")
    # CSV and TSV with a header
    (tmp_path / "audio.csv").write_text(
        "path,caption,id\n" + "".join(f"data/audio/{n},c{i},x{i}\n" for i, n in enumerate(NAMES))
    )
    entries, _ = read_manifest(str(tmp_path / "audio.csv"))
    assert [e.key for e in entries] == ["x0", "x1", "x2"] and [e.origin for e in entries][0] == "audio.csv:2"
    (tmp_path / "audio.tsv").write_text("path\tcaption\n" + "".join(f"data/audio/{n}\tc\n" for n in NAMES))
    assert [e.key for e in read_manifest(str(tmp_path / "audio.tsv"))[0]] == [f"data/audio/{n}" for n in NAMES]


@pytest.mark.parametrize(
    "lines, message",
    [
        (['{"caption": "no path"}'], "m.jsonl:1: no audio path"),
        (['{"path": "a.wav", "offset_s": -1}'], "m.jsonl:1: 'offset_s' must be >= 0"),
        (['{"path": "a.wav", "duration_s": "long"}'], "m.jsonl:1: 'duration_s' must be a number of seconds"),
        (['{"path": "a.wav"}', "not json"], "m.jsonl:2: not JSON"),
        (["[1, 2]"], "m.jsonl:1: an entry must be a JSON object"),
        ([], "lists no entries"),
    ],
)
def test_a_malformed_manifest_is_one_line_naming_file_and_line(lines, message, tmp_path, capsys):
    (tmp_path / "m.jsonl").write_text("".join(line + "\n" for line in lines))
    os.environ.pop(runs_module.RUN_DIR_ENV, None)
    assert cli.main("eval", [*EVAL, f"data.manifest={tmp_path / 'm.jsonl'}", f"out_dir={tmp_path / 'o'}"]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_bad_entries_are_rows_with_reasons_and_the_run_goes_on(tmp_path):
    make_clips(tmp_path / "clips")
    (tmp_path / "clips" / "junk.wav").write_bytes(b"RIFF....WAVEjunk")
    (tmp_path / "m.jsonl").write_text(
        "".join(
            json.dumps(r) + "\n"
            for r in [
                {"path": "clips/a.wav"},
                {"path": "clips/missing.wav"},
                {"path": "clips/a.wav", "offset_s": 30.0},
                {"path": "clips/junk.wav"},
                {"path": "clips/a.wav"},
            ]
        )
    )
    rows = {r["file"]: r for r in evaluate(tmp_path / "m", f"data.manifest={tmp_path / 'm.jsonl'}")}
    assert rows["clips/a.wav"]["status"] == "ok"
    assert rows["clips/missing.wav"]["error"] == "no such file"
    assert "offset_s 30 is at or past the end of the file (1.000 s)" in rows["clips/a.wav#30+end"]["error"]
    assert "unreadable" in rows["clips/junk.wav"]["error"]
    summary = json.loads((tmp_path / "m" / "summary.json").read_text())
    assert {"path": "m.jsonl:5", "reason": "the same entry as m.jsonl:1 (clips/a.wav)"} in summary["skipped_inputs"]
    # shards: a sample without audio is skipped with why, an undecodable member is an error row
    write_shards(
        [
            ("good", {"wav": (tmp_path / "clips" / "a.wav").read_bytes()}),
            ("text", {"json": b"{}"}),
            ("bad", {"flac": b"fLaC not really"}),
        ],
        str(tmp_path / "s-%d.tar"),
        10,
    )
    rows = {r["file"]: r for r in evaluate(tmp_path / "s", f"data.shards={tmp_path / 's-0.tar'}")}
    assert rows["s-0.tar:good"]["status"] == "ok" and "unreadable" in rows["s-0.tar:bad"]["error"]
    skipped = json.loads((tmp_path / "s" / "summary.json").read_text())["skipped_inputs"]
    assert skipped == [{"path": "s-0.tar:text", "reason": "no audio member (has json)"}]


@pytest.mark.parametrize(
    "data, message",
    [
        ({"dir": "x", "manifest": "m.jsonl"}, "set one data source, not 2"),
        ({"source": "manifest"}, "'data.manifest': data.source=manifest needs it"),
        ({"source": "folder", "dir": "x", "shards": "s.tar"}, "'data.shards': set, but data.source is folder"),
        ({"source": "tar"}, "one of folder, manifest, webdataset"),
    ],
)
def test_the_data_source_keys_are_checked(data, message):
    with pytest.raises(ConfigError, match=message):
        source_kind(OmegaConf.create(data))


def test_missing_shards_and_files_that_are_no_tars_are_one_line(tmp_path):
    with pytest.raises(DataError, match="is not a file"):
        catalogue(str(tmp_path / "none-{0..1}.tar"))
    (tmp_path / "x.tar").write_bytes(b"plain text, no tar")
    with pytest.raises(DataError, match="x.tar' is not a readable tar"):
        catalogue(str(tmp_path / "x.tar"))
    with pytest.raises(DataError, match="failed"):
        catalogue("pipe:false")


@pytest.mark.parametrize("n_shards, world", [(3, 2), (1, 2), (4, 3)])
def test_ranks_and_workers_read_every_shard_entry_exactly_once(n_shards, world, tmp_path):
    for i in range(7):
        write(tmp_path / "clips" / f"c{i}.wav", tone(200 + 50 * i, 0.2, 16000), 16000)
    names = [f"c{i}.wav" for i in range(7)]
    pack(tmp_path / "clips", names, str(tmp_path / "s-%d.tar"), -(-7 // n_shards))
    listing = catalogue(str(tmp_path / f"s-{{0..{n_shards - 1}}}.tar"))
    from audiovae.audio.frontend import MelFrontEnd

    frontend = MelFrontEnd(16000, 1024, 1024, 160, 64, 0, 8000, 1e-5, True)
    base = EvalDataset(listing.entries, list(range(1, 7)), frontend, None, -80.0)  # entry 0 done before (resume)
    seen = []
    for rank in range(world):
        dataset = ShardEvalDataset(listing.shards, base)
        dataset.select_rank(rank, world)
        items = list(dataset)
        assert len(items) == len(dataset)
        seen += [it.key for it in items]
        assert all(not it.error and it.audio.num_samples == 3200 for it in items)
    assert sorted(seen) == sorted(e.key for e in listing.entries[1:])


def test_a_shard_changed_after_it_was_listed_gives_error_rows_not_other_audio(tmp_path):
    make_clips(tmp_path / "clips")
    pack(tmp_path / "clips", NAMES, str(tmp_path / "s-%d.tar"), 3)
    listing = catalogue(str(tmp_path / "s-0.tar"))
    pack(tmp_path / "clips", ["sub/c.wav", "a.wav"], str(tmp_path / "s-%d.tar"), 3)  # rewritten: b gone, a moved
    sf.write(str(tmp_path / "clips" / "a.wav"), np.zeros(100), 16000)
    from audiovae.audio.frontend import MelFrontEnd
    from audiovae.data.eval_data import changed_since_start

    frontend = MelFrontEnd(16000, 1024, 1024, 160, 64, 0, 8000, 1e-5, True)
    fingerprints = {e.key: e.fingerprint for e in listing.entries}
    items = {
        it.key: it
        for it in ShardEvalDataset(
            listing.shards, EvalDataset(listing.entries, [0, 1, 2], frontend, None, -80.0, fingerprints=fingerprints)
        )
    }
    assert "no longer in its shard" in items["s-0.tar:b"].error
    assert not changed_since_start(items["s-0.tar:a"]) and not changed_since_start(items["s-0.tar:sub_c"])


def train_cfg(out_dir, *overrides):
    from audiovae.config import compose
    from audiovae.config.schema import TrainConfig
    from audiovae.sections import resolve_sections

    fast = [
        "model=tiny",
        "data.crop_seconds=1.0",
        "data.batch_size=2",
        "data.val_batch_size=2",
        "examples.count=0",
        "optim.warmup_steps=2",
        "trainer.val_check_interval=1.0",
        "trainer.check_val_every_n_epoch=1",
        "checkpoint.last_every_n_steps=1",
        "optim.lr=0.05",
        "logger=none",
        "trainer.max_steps=9",
    ]
    return compose(
        "train", [*fast, f"out_dir={out_dir}", *overrides], schema=TrainConfig, validators=[resolve_sections]
    )


@pytest.fixture(scope="module")
def train_shards(tmp_path_factory):
    root = tmp_path_factory.mktemp("train_shards")
    names = [f"c{i}.wav" for i in range(9)]
    for i, n in enumerate(names):
        write(root / "clips" / n, tone(200 + 90 * i, 1.3, 16000) + noise(1.3, 16000, seed=i, amp=0.05), 16000)
    pack(root / "clips", names, str(root / "s-%d.tar"), 3)
    return root


def test_training_streams_crops_from_shards_and_a_resumed_run_ends_at_the_same_weights(
    train_shards, tmp_path, monkeypatch
):
    from audiovae.training.run import run_training
    from tests.conftest import last_gains, train_crashing_at_step

    shards = f"data.shards={train_shards / 's-{0..2}.tar'}"
    outcome = run_training(train_cfg(tmp_path / "straight", shards, "data.val_ratio=0.25"))
    summary = json.loads((tmp_path / "straight" / "train_summary.json").read_text())
    assert len(summary["train_files"]) + len(summary["val_files"]) == 9 and summary["steps"] == 9
    assert set(summary["train_files"]).isdisjoint(summary["val_files"])
    train_crashing_at_step(train_cfg(tmp_path / "resumed", shards, "data.val_ratio=0.25"), 5, monkeypatch)
    run_training(train_cfg(tmp_path / "resumed", shards, "data.val_ratio=0.25", "resume=true"))
    (straight, steps), (resumed, resumed_steps) = last_gains(tmp_path / "straight"), last_gains(tmp_path / "resumed")
    assert steps == resumed_steps == 9
    torch.testing.assert_close(resumed, straight, rtol=1e-6, atol=1e-7)
    assert outcome.out_dir == tmp_path / "straight"


def test_shard_crops_are_the_same_items_whatever_the_workers_and_split_ranks_evenly(train_shards):
    from torch.utils.data import DataLoader

    from audiovae.audio.frontend import MelFrontEnd
    from audiovae.data.shard_crops import ShardCrops

    listing = catalogue(str(train_shards / "s-{0..2}.tar"))
    frontend = MelFrontEnd(16000, 1024, 1024, 160, 64, 0, 8000, 1e-5, True)
    read = dict(sample_rate=16000, silence_threshold_db=-80.0)

    def batches(workers, rank=0, world=1, done=0, epoch=0):
        crops = ShardCrops(listing, frontend, 8000, 0, rank, world, 2, **read)
        crops.position_source = lambda: (epoch, done)
        return [b["waveform"] for b in DataLoader(crops, batch_size=2, num_workers=workers)]

    alone = batches(0)
    assert len(alone) == 5 and sum(b.shape[0] for b in alone) == 9
    for a, b in zip(alone, batches(2)):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    for a, b in zip(alone[2:], batches(0, done=4)):  # resuming after 2 batches: the same later batches
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert not torch.equal(torch.cat(alone), torch.cat(batches(0, epoch=1)))  # another epoch, another order/crops
    ranks = [torch.cat(batches(0, rank, 2)) for rank in range(2)]
    assert ranks[0].shape == ranks[1].shape == (3, 8000)  # 2 shards vs 1: both take the smaller rank's 3 items


ROOT = Path(__file__).resolve().parents[1]


def run_evaluate(*args, env=None) -> subprocess.Popen:
    env = {**os.environ, "WANDB_MODE": "offline", **(env or {})}
    env.pop(runs_module.RUN_DIR_ENV, None)
    return subprocess.Popen(
        [sys.executable, str(ROOT / "evaluate.py"), *EVAL, *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture(scope="module")
def many(tmp_path_factory):
    """9 clips as a folder, a manifest (two excerpts of one file among them) and 3 shards."""
    root = tmp_path_factory.mktemp("many")
    names = [f"c{i}.wav" for i in range(8)]
    for i, n in enumerate(names):
        write(root / "clips" / n, chirp(150 + 40 * i, 6000, 1.0, 16000) + noise(1.0, 16000, seed=i, amp=0.04), 16000)
    write(root / "long.wav", tone(500, 2.0, 16000) + noise(2.0, 16000, amp=0.05), 16000)
    lines = [{"path": f"clips/{n}"} for n in names] + [
        {"path": "long.wav", "offset_s": 0.5, "duration_s": 1.0},
        {"path": "long.wav", "offset_s": 1.0, "id": "long-tail"},
    ]
    (root / "m.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    pack(root / "clips", names, str(root / "s-%d.tar"), 3)
    return root


def values(rows) -> dict:
    """Every value but timings; NaN as None."""
    return {
        r["file"]: {
            k: None if isinstance(v, float) and v != v else v for k, v in r.items() if not k.startswith("time_")
        }
        for r in rows
    }


@pytest.mark.slow
def test_shards_under_two_process_ddp_evaluate_every_entry_once(many, tmp_path):
    single = evaluate(tmp_path / "one", f"data.shards={many / 's-{0..2}.tar'}", "data.batch_size=2")
    process = run_evaluate(
        "trainer=ddp_cpu2", "data.batch_size=2", f"data.shards={many / 's-{0..2}.tar'}", f"out_dir={tmp_path / 'ddp'}"
    )
    _, err = process.communicate(timeout=600)
    assert process.returncode == 0, err[-3000:]
    rows = read_csv(tmp_path / "ddp" / "results.csv")
    assert sorted(r["file"] for r in rows) == sorted(r["file"] for r in single) and len(rows) == 8
    stored = [
        json.loads(line)["file"]
        for rank in (0, 1)
        for line in (tmp_path / "ddp" / "partial" / f"rows.rank{rank}.jsonl").read_text().splitlines()
    ]
    assert sorted(stored) == sorted(r["file"] for r in rows)  # each entry evaluated by exactly one rank
    assert {r["file"] for r in rows if r["file"].startswith("s-1.tar")} == {"s-1.tar:c3", "s-1.tar:c4", "s-1.tar:c5"}
    for a, b in zip(single, rows):  # batch-mates round differently (deltas amplify it: not compared)
        for m in METRICS:
            if not m.startswith("delta_"):
                assert a[m] == pytest.approx(b[m], rel=1e-4, abs=1e-9), (a["file"], m)


@pytest.mark.slow
@pytest.mark.parametrize("source", ["manifest", "shards"])
def test_a_run_killed_with_sigkill_resumes_to_the_values_of_an_uninterrupted_one(source, many, tmp_path):
    data = f"data.manifest={many / 'm.jsonl'}" if source == "manifest" else f"data.shards={many / 's-{0..2}.tar'}"
    expected = values(evaluate(tmp_path / "straight", data, "data.batch_size=1"))
    out = tmp_path / "killed"
    process = run_evaluate(data, "data.batch_size=1", f"out_dir={out}")
    store = out / "partial" / "rows.rank0.jsonl"
    deadline = time.monotonic() + 300
    while (not store.exists() or store.read_text().count("\n") < 3) and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=60)
    done_before = store.read_text().count("\n")
    assert 3 <= done_before < len(expected) and not (out / "results.csv").exists()
    again = run_evaluate(data, "data.batch_size=1", f"out_dir={out}")
    _, err = again.communicate(timeout=600)
    assert again.returncode == 0, err[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["run"]["resumed_files"] == done_before
    assert values(read_csv(out / "results.csv")) == expected
