"""The cross-run cache: a warm run equals a cold one exactly; a changed file, model, front end or metric
definition misses what it must; damaged or unfinished entries are recomputed; concurrent writers leave a
valid entry; eviction keeps the store under its size; `python -m audiovae.cache info|clear`."""

import json
import multiprocessing
import os
import time

import numpy as np
import pytest
import soundfile as sf
import torch

from audiovae.cache.__main__ import main as cache_main
from audiovae.cache.store import CacheStore
from audiovae.reporting.records import read_csv
from tests.conftest import evaluate_folder, noise, tone, write, write_three_clips

COMMON = ("model=tiny", "logger=none", "metrics.bootstrap_samples=50", "outputs.save_plots=false")


def metric_rows(out):
    """results.csv without the timing columns (wall seconds differ between any two runs)."""
    return [{k: v for k, v in row.items() if not k.startswith("time_")} for row in read_csv(out / "results.csv")]


def counts(out):
    return json.loads((out / "summary.json").read_text())["counts"]


def evaluate(clips, out, cache_dir, *overrides):
    evaluate_folder(clips, out, *COMMON, f"cache.dir={cache_dir}", *overrides)
    return metric_rows(out)


@pytest.fixture
def clips(tmp_path):
    return write_three_clips(tmp_path / "clips")


def test_a_warm_run_equals_a_cold_one_exactly(clips, tmp_path):
    cache = tmp_path / "c"
    cold = evaluate(clips, tmp_path / "cold", cache, "enhancement.gain=1.4")
    assert counts(tmp_path / "cold")["from_cache"] == 0 and CacheStore(cache).info()["entries"] == 3
    warm = evaluate(clips, tmp_path / "warm", cache, "enhancement.gain=1.4")
    assert counts(tmp_path / "warm")["from_cache"] == 3
    assert warm == cold
    for name in ("a_tone.wav.vocoder.wav", "b_chirp.wav.base.wav", "c_noisy.wav.enhanced.wav"):
        np.testing.assert_array_equal(
            sf.read(tmp_path / "warm" / "audio" / name)[0], sf.read(tmp_path / "cold" / "audio" / name)[0]
        )
    # another enhancer setting: only its own decode and vocoder pass run; equal to that setting evaluated cold
    other_warm = evaluate(clips, tmp_path / "other_warm", cache, "enhancement.gain=1.2")
    other_cold = evaluate(
        clips, tmp_path / "other_cold", tmp_path / "elsewhere", "enhancement.gain=1.2", "cache.enabled=false"
    )
    assert counts(tmp_path / "other_warm")["from_cache"] == 3 and other_warm == other_cold
    assert not (tmp_path / "elsewhere").exists()  # cache.enabled=false writes nothing


def test_a_changed_file_misses_and_the_others_hit(clips, tmp_path):
    cache = tmp_path / "c"
    evaluate(clips, tmp_path / "first", cache)
    write(clips / "b_chirp.wav", tone(330, 1.0, 16000) + noise(1.0, 16000, seed=9, amp=0.02), 16000)
    evaluate(clips, tmp_path / "second", cache)
    served = {r.file: r.from_cache for r in _stored(tmp_path / "second")}
    assert served == {"a_tone.wav": True, "b_chirp.wav": False, "c_noisy.wav": True}


def _stored(out):
    from audiovae.runs.store import ResultStore

    return ResultStore(out / "partial").load_all().values()


def test_other_weights_or_front_end_miss_and_other_metrics_reuse_the_model_work(clips, tmp_path):
    from audiovae.models.builders import build_tiny_model

    cache = tmp_path / "c"
    evaluate(clips, tmp_path / "first", cache, "metrics.names=[snr,lsd]")
    other = build_tiny_model(tmp_path / "tiny_seed1", seed=1)
    evaluate(clips, tmp_path / "weights", cache, "metrics.names=[snr,lsd]", f"model.path={other}", "model.build=null")
    assert counts(tmp_path / "weights")["from_cache"] == 0
    evaluate(clips, tmp_path / "fmax", cache, "metrics.names=[snr,lsd]", "frontend.fmax=7000")
    assert counts(tmp_path / "fmax")["from_cache"] == 0
    # a metric defined otherwise: the model work is served, the shared values are measured again, and correct
    warm = evaluate(clips, tmp_path / "lsd1024", cache, "metrics.names=[snr,lsd]", "metrics.lsd.n_fft=1024")
    assert counts(tmp_path / "lsd1024")["from_cache"] == 3
    cold = evaluate(
        clips,
        tmp_path / "lsd1024_cold",
        cache,
        "metrics.names=[snr,lsd]",
        "metrics.lsd.n_fft=1024",
        "cache.enabled=false",
    )
    assert warm == cold


def test_damaged_and_unfinished_entries_are_recomputed(clips, tmp_path):
    cache = tmp_path / "c"
    cold = evaluate(clips, tmp_path / "cold", cache)
    segments = sorted(cache.glob("*/*/seg0.pt"))
    assert len(segments) == 3
    segments[0].write_bytes(segments[0].read_bytes()[:100])  # torn
    data = bytearray(segments[1].read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte, same size
    segments[1].write_bytes(bytes(data))
    (segments[2].parent / "entry.json").unlink()  # a writer that died before finishing
    again = evaluate(clips, tmp_path / "again", cache)
    assert again == cold and counts(tmp_path / "again")["from_cache"] == 0
    assert CacheStore(cache).info()["entries"] == 3  # written again
    evaluate(clips, tmp_path / "third", cache)
    assert counts(tmp_path / "third")["from_cache"] == 3


def _writer(folder, seed, same):
    store = CacheStore(folder, max_gb=1.0)
    rng = np.random.default_rng(0 if same else seed)
    for _ in range(15):
        tensors = {"x": torch.from_numpy(rng.normal(size=2000)), "writer": torch.tensor(0 if same else seed)}
        digests = [store.put_segment("k" * 64, i, tensors) for i in range(3)]
        store.finish("k" * 64, digests, {"m": {"writer": 0 if same else seed}})


def _race(folder, same):
    ctx = multiprocessing.get_context("fork")
    workers = [ctx.Process(target=_writer, args=(folder, seed, same)) for seed in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
        assert w.exitcode == 0
    assert not list(folder.glob("**/*.tmp"))  # every write was whole and renamed
    return CacheStore(folder).get("k" * 64)


def test_concurrent_writers_leave_a_valid_entry_or_a_miss_never_a_mixed_one(tmp_path):
    # concurrent runs of one file write the same content: the entry is valid whoever finished last
    entry = _race(tmp_path / "same", same=True)
    assert entry is not None and entry.segments == 3
    assert all(entry.segment(i)["x"].shape == (2000,) for i in range(3))
    # writers of different content (never the case for one key, the adversarial case): what `get` returns is one
    # writer's complete entry (each segment's sha256 checked against entry.json), else a miss that is rewritten
    for attempt in range(3):
        entry = _race(tmp_path / f"mixed{attempt}", same=False)
        if entry is not None:
            writers = {int(entry.segment(i)["writer"]) for i in range(3)}
            assert writers == {entry.meta["values"]["m"]["writer"]}


def test_eviction_keeps_the_store_under_max_gb_least_recently_used_first(tmp_path):
    store = CacheStore(tmp_path, max_gb=1e9 / 1024**3)
    payload = {"x": torch.zeros(50_000)}  # ~200 KB per entry
    for n, key in enumerate(["a" * 64, "b" * 64, "c" * 64]):
        store.finish(key, [store.put_segment(key, 0, payload)], {})
        os.utime(tmp_path / key[:2] / key, (time.time() - 100 + n, time.time() - 100 + n))
    store.get("a" * 64)  # used: now the most recent
    size = store.info()["bytes"]
    store.max_bytes = int(size * 0.7)  # room for two of the three
    removed = store.evict()
    assert [p.name for p in removed] == ["b" * 64]
    assert store.info()["bytes"] <= store.max_bytes and store.get("a" * 64) is not None
    # finishing entries keeps a store within its size, the least recently used going first
    small = CacheStore(tmp_path / "small", max_gb=int(size * 0.7) / 1024**3)
    for key in ("d" * 64, "e" * 64, "f" * 64):
        small.finish(key, [small.put_segment(key, 0, payload)], {})
        time.sleep(0.01)  # distinct folder times
    assert small.info()["bytes"] <= small.max_bytes
    assert small.get("d" * 64) is None and small.get("f" * 64) is not None


def test_cache_command_info_and_clear(clips, tmp_path, capsys):
    evaluate(clips, tmp_path / "run", tmp_path / "c")
    assert cache_main(["info", "--dir", str(tmp_path / "c")]) == 0
    assert "entries: 3 files" in capsys.readouterr().out
    assert cache_main(["clear", "--dir", str(tmp_path / "c")]) == 0
    assert CacheStore(tmp_path / "c").info()["entries"] == 0


def test_a_sampled_posterior_is_not_cached(clips, tmp_path):
    evaluate(clips, tmp_path / "run", tmp_path / "c", "model.sample_posterior=true")
    assert not (tmp_path / "c").exists() and counts(tmp_path / "run")["from_cache"] == 0
