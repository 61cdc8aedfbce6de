"""Property-based fuzzing of the real command line (`audiovae.cli.main`, what `evaluate.py` runs) with the bundled
demo model: file names, WAV header fields, config values and fault points drawn by hypothesis. For every case it
asserts the exit status, a one-line message for a refused start, the good file's row equal to its stand-alone
evaluation, every other row ok or an error with a reason, no file outside `out_dir` and the run's cache created or
changed (a snapshot before and after), memory growth under RSS_BOUND and no hang (HANG_S).

The fast variant draws a few examples of each kind (`pytest -m 'not slow'`); the `slow` one more: a third of its
count in `make test`, which leaves the fast one out (tests/conftest.py), all of it with AUDIOVAE_FUZZ_COUNTS=FILE,
which also writes the counts of outcomes there (`python -m tests.fuzz_table` runs the suite so, both variants, and
rewrites the table in docs/faults.md).
"""

import contextlib
import errno
import gzip
import io
import json
import math
import os
import re
import shutil
import signal
import struct
import tarfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional
from unittest import mock

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audiovae import cli
from audiovae import runs as runs_module
from audiovae.errors import STORAGE_EXIT
from audiovae.reporting.records import read_csv
from tests.conftest import chirp, tone, write
from tests.memory import peak_rss_growth

FUZZ = [
    "model=demo",
    "logger=none",
    "data.max_seconds=1.0",
    "data.chunking=false",
    "data.batch_size=1",
    "model.options.griffin_lim_iters=8",
    "metrics.names=[snr,lsd,lsd_hf,mel_l1]",
    "metrics.bootstrap_samples=50",
    "metrics.max_lag_samples=0",
    "outputs.save_plots=false",
    "outputs.listening_files=0",
]
NUMBERS = ("base_snr", "base_lsd", "enhanced_lsd_hf", "enhanced_mel_l1", "vocoder_snr")
GOOD = "good.wav"
RSS_BOUND = 1536 * 2**20  # memory a case may add to the process
HANG_S = 180  # a case that runs longer hangs
OUTCOMES = ("tried", "handled", "clear error", "silently wrong", "crashed", "overwritten", "hung", "memory")
COUNTS: Counter = Counter()  # kind -> outcome -> count, for the table in docs/faults.md
KINDS = {
    "names": "file names",
    "headers": "WAV header fields",
    "config": "config values",
    "faults": "fault points",
    "manifests": "manifest fields and encodings",
    "shards": "tar members and brace patterns",
    "plugins": "plugin behaviours and consent",
    "prompts": "prompt files",
    "options": "model options",
}


class Hung(Exception):
    pass


@dataclass
class Outcome:
    code: int
    out: str
    err: str
    rows: dict = field(default_factory=dict)
    peak: int = 0


def snapshot(folder: Path, skip: tuple) -> dict:
    """Every entry below `folder` except under `skip` (names directly below it): size and mtime of files."""
    out = {}
    for path in sorted(folder.rglob("*")):
        if path.relative_to(folder).parts[0] in skip:
            continue
        stat = path.lstat()
        out[str(path.relative_to(folder))] = (stat.st_size, stat.st_mtime_ns) if path.is_file() else None
    return out


@pytest.fixture(scope="module")
def good_clip(tmp_path_factory) -> bytes:
    path = write(
        tmp_path_factory.mktemp("clip") / GOOD,
        tone(440, 0.5, 16000) + chirp(300, 7500, 0.5, 16000, 0.2),
        16000,
        subtype="PCM_16",
    )
    return path.read_bytes()


class Fuzz:
    """Cases in fresh folders under `root`: `case()` makes one (its data/ holding the good clip), `run()` evaluates it
    through the CLI and checks the properties every case has, `count()` files the outcome."""

    def __init__(self, root: Path, good: bytes):
        self.root, self.good, self.n = root, good, 0
        self.reference: dict = {}

    def case(self) -> Path:
        self.n += 1
        case = self.root / f"case{self.n}"
        (case / "data").mkdir(parents=True)
        (case / "data" / GOOD).write_bytes(self.good)
        return case

    def run(self, case: Path, *overrides, cache: bool = False, changes: tuple = (), head: tuple = ()) -> Outcome:
        """`changes`: paths below `case` the case itself rewrites (left out of the snapshot); `head`: words before the
        overrides (`--config FILE`, `--trust-code`)."""
        os.environ.pop(runs_module.RUN_DIR_ENV, None)
        before = {k: v for k, v in snapshot(case, ("out", "cache")).items() if k not in changes}
        args = [
            *head,
            *FUZZ,
            f"data.dir={case / 'data'}",
            f"out_dir={case / 'out'}",
            f"cache.dir={case / 'cache'}" if cache else "cache.enabled=false",
            *overrides,
        ]

        def hang(signum, frame):
            raise Hung(f"no answer after {HANG_S} s")

        previous = signal.signal(signal.SIGALRM, hang)
        out, err = io.StringIO(), io.StringIO()
        signal.alarm(HANG_S)
        crash = None
        try:
            with peak_rss_growth() as peak, contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    code = cli.main("eval", args)
                except Hung:
                    raise
                except Exception as exception:  # a crash: still, nothing of the user's may have changed
                    crash, code = exception, None
        finally:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, previous)
        outcome = Outcome(code, out.getvalue(), err.getvalue(), peak=peak["bytes"])
        after = {k: v for k, v in snapshot(case, ("out", "cache")).items() if k not in changes}
        assert after == before, "a file outside out_dir and the cache was created or changed"
        if crash is not None:
            raise crash
        assert outcome.peak < RSS_BOUND, f"memory grew by {outcome.peak / 2**20:.0f} MiB"
        assert "Traceback" not in outcome.err, outcome.err[-3000:]
        assert code in (0, 1, 2, STORAGE_EXIT), (code, outcome.err[-3000:])
        if code == STORAGE_EXIT:  # outputs could not be written: one line at the end, what finished kept
            assert outcome.err.strip().splitlines()[-1].startswith("error: cannot write"), outcome.err
        elif code == 2:
            lines = outcome.err.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("error: "), outcome.err
            assert not (case / "out" / "results.csv").exists()
        else:
            outcome.rows = {r["file"]: r for r in read_csv(case / "out" / "results.csv")}
            for row in outcome.rows.values():
                assert row["status"] in ("ok", "error")
                assert row["status"] == "ok" or (row["error"] and "\n" not in row["error"]), row
        return outcome

    def same_as_alone(self, row: dict) -> None:
        """`row` holds the numbers of the good clip evaluated alone (the case would be silently wrong otherwise)."""
        for column in NUMBERS:
            assert float(row[column]) == pytest.approx(float(self.reference[column]), rel=1e-6, abs=1e-9), column


@pytest.fixture(scope="module")
def fuzz(tmp_path_factory, good_clip):
    harness = Fuzz(tmp_path_factory.mktemp("fuzz"), good_clip)
    alone = harness.run(harness.case())
    assert alone.code == 0, alone.err
    harness.reference = alone.rows[GOOD]
    yield harness
    target = os.environ.get("AUDIOVAE_FUZZ_COUNTS")
    if target:
        Path(target).write_text(json.dumps({kind: dict(COUNTS[kind]) for kind in KINDS if kind in COUNTS}, indent=1))


def counted(kind: str, check) -> None:
    """Run one case's `check()` and file its outcome under `kind`: an AssertionError is silently wrong, overwritten
    or memory by its message, Hung is a hang, any other exception a crash."""
    COUNTS.setdefault(kind, Counter())["tried"] += 1
    try:
        COUNTS[kind][check()] += 1
    except Hung:
        COUNTS[kind]["hung"] += 1
        raise
    except AssertionError as err:
        text = str(err)
        COUNTS[kind][
            "overwritten"
            if "outside out_dir" in text
            else "memory"
            if "memory grew" in text
            else "crashed"
            if "Traceback" in text
            else "silently wrong"
        ] += 1
        raise
    except Exception:
        COUNTS[kind]["crashed"] += 1
        raise


FULL = bool(os.environ.get("AUDIOVAE_FUZZ_COUNTS"))  # the table's run draws every example of the slow variants


def examples(fast: int, slow: int):
    """The fast variant's examples and the slow one's (a third of `slow` unless FULL; never fewer than `fast`)."""
    slow = slow if FULL else max(fast, slow // 3)
    return [pytest.param(fast, id="fast"), pytest.param(slow, id="slow", marks=pytest.mark.slow)]


def fuzzed(n: int, strategy, test) -> None:
    """Run `test` on `n` examples of `strategy` (derandomized: CI sees the same cases every time)."""
    settings(
        max_examples=n,
        deadline=None,
        derandomize=True,
        database=None,
        print_blob=True,
        suppress_health_check=list(HealthCheck),
    )(given(strategy)(test))()


# file names: any name the file system holds
_text = st.text(st.characters(blacklist_characters="/\x00", blacklist_categories=("Cs",)), min_size=1, max_size=40)
_segment = st.one_of(
    _text.map(lambda t: t.encode()), st.binary(min_size=1, max_size=24), st.integers(120, 250).map(lambda n: b"x" * n)
)


def _usable(segment: bytes, room: int) -> bytes:
    segment = segment.replace(b"/", b"_").replace(b"\x00", b"_")[:room]
    return segment + b"_" if segment in (b".", b"..") else segment


@pytest.mark.parametrize("n", examples(8, 30))
def test_any_file_name_evaluates(n, fuzz):
    def case(parts):
        def check() -> str:
            folders, stem = parts
            case = fuzz.case()
            path = os.path.join(
                os.fsencode(case / "data"), *[_usable(f, 250) for f in folders], _usable(stem, 251) + b".wav"
            )
            if path == os.fsencode(case / "data" / GOOD):
                path = path[:-4] + b"_.wav"
            os.makedirs(os.path.dirname(path), exist_ok=True)
            Path(os.fsdecode(path)).write_bytes(fuzz.good)
            outcome = fuzz.run(case)
            assert outcome.code == 0 and len(outcome.rows) == 2, outcome.err[-2000:]
            for row in outcome.rows.values():
                fuzz.same_as_alone(row)
            audio = list((case / "out" / "audio").iterdir())
            assert len(audio) == 8 and all(len(p.name.encode()) <= 255 for p in audio)
            return "handled"

        counted("names", check)

    fuzzed(n, st.tuples(st.lists(_segment, max_size=2), _segment), case)


# WAV header fields: whatever a header declares, the file is a row and the others are untouched
@st.composite
def wav_bytes(draw) -> bytes:
    fmt = draw(st.sampled_from([1, 3, 6, 7, 2, 0xFFFE, 0x55, 0, 0x1234]))
    channels = draw(st.sampled_from([0, 1, 2, 3, 8, 255, 65535]))
    rate = draw(st.sampled_from([0, 1, 7, 8000, 16000, 22050, 44100, 192000, 768000, 2**31 - 1, 2**32 - 1]))
    bits = draw(st.sampled_from([0, 4, 8, 12, 16, 24, 32, 64, 65535]))
    frames = draw(st.integers(0, 6000))
    block = max(1, channels * max(bits, 8) // 8) if channels else 1
    size = min(frames * block, 96_000)
    if draw(st.booleans()):  # a signal, quantised as the header says (when it says something sensible)
        t = np.arange(max(1, size // max(1, block) * max(1, channels))) / max(rate, 1)
        wave = 0.5 * np.sin(2 * np.pi * 440.0 * t)
        kind = {8: np.uint8, 16: np.int16, 32: np.int32, 64: np.int64}.get(bits, np.int16)
        if fmt == 3:
            payload = wave.astype(np.float64 if bits == 64 else np.float32).tobytes()
        elif kind is np.uint8:
            payload = ((wave + 1) * 127).astype(np.uint8).tobytes()
        else:
            payload = (wave * np.iinfo(kind).max * 0.5).astype(kind).tobytes()
        payload = payload[:size]
    else:
        payload = np.random.default_rng(draw(st.integers(0, 2**16))).integers(0, 256, size, np.uint8).tobytes()
    data_size = draw(st.sampled_from(["true", 0, "larger", "smaller", 0xFFFFFFFF]))
    declared = {"true": len(payload), "larger": len(payload) * 4 + 100, "smaller": len(payload) // 3}.get(
        data_size, data_size
    )
    fmt_chunk = struct.pack("<HHIIHH", fmt, channels, rate, (rate * block) % 2**32, block % 2**16, bits)
    chunks = b"fmt " + struct.pack("<I", len(fmt_chunk)) + fmt_chunk
    if draw(st.booleans()):
        chunks += b"LIST" + struct.pack("<I", 12) + b"INFOISFT\x00\x00\x00\x00"
    chunks += b"data" + struct.pack("<I", declared % 2**32) + payload
    riff = draw(st.sampled_from([len(chunks) + 4, 0, 0xFFFFFFFF]))
    body = b"RIFF" + struct.pack("<I", riff) + b"WAVE" + chunks
    cut = draw(st.sampled_from([None, 0.5, 0.9]))
    return body[: int(len(body) * cut)] if cut else body


@pytest.mark.parametrize("n", examples(20, 150))
def test_any_wav_header_is_a_row_and_the_other_files_are_untouched(n, fuzz):
    def case(data):
        def check() -> str:
            case = fuzz.case()
            (case / "data" / "fuzzed.wav").write_bytes(data)
            outcome = fuzz.run(case)
            assert outcome.code == 0, outcome.err[-2000:]
            fuzz.same_as_alone(outcome.rows[GOOD])
            row = outcome.rows["fuzzed.wav"]
            if row["status"] == "ok":
                assert 0 < float(row["evaluated_s"]) <= 1.0
                return "handled"
            return "clear error"

        counted("headers", check)

    fuzzed(n, wav_bytes(), case)


# config values: accepted, or refused with one line naming the key, before anything is written
CONFIG_KEYS = [
    "data.max_seconds",
    "data.chunk_overlap_seconds",
    "data.silence_threshold_db",
    "data.batch_size",
    "data.num_workers",
    "data.patterns",
    "data.channels",
    "data.pad",
    "metrics.hf_cutoff_hz",
    "metrics.lsd.n_fft",
    "metrics.lsd.hop",
    "metrics.hf_retention.n_fft",
    "metrics.lsd_audioldm_eval.offset",
    "metrics.bootstrap_samples",
    "metrics.tie_tolerance",
    "metrics.alpha",
    "metrics.p_adjust",
    "metrics.max_lag_samples",
    "metrics.align_samples",
    "metrics.names",
    "enhancement.gain",
    "enhancement.cutoff",
    "outputs.max_plots",
    "cache.max_gb",
    "seed",
    "model.options.griffin_lim_iters",
    "frontend.n_mels",
    "frontend.hop_length",
    "frontend.sample_rate",
    "frontend.fmin",
    "frontend.fmax",
    "frontend.n_fft",
    "frontend.win_length",
    "trainer.precision",
    "trainer.devices",
    "metrics.align",
    "data.resampler",
    "sweep.enhancement.gain",
    "model",
    "enhancement",
]
CONFIG_VALUES = [
    "-1",
    "0",
    "1",
    "3",
    "0.5",
    "2.5",
    "1e9",
    "-1e9",
    "nan",
    "inf",
    "-inf",
    "abc",
    "[]",
    "[1,2]",
    "null",
    "true",
    "9223372036854775808",
    "'{'",
    "[0.1",
    "{a: 1}",
]
NEUTRAL = {
    "data.batch_size",
    "data.num_workers",
    "metrics.bootstrap_samples",
    "metrics.tie_tolerance",
    "metrics.alpha",
    "metrics.p_adjust",
    "outputs.max_plots",
    "cache.max_gb",
    "seed",
}  # numbers do not move


@pytest.mark.parametrize("n", examples(30, 250))
def test_any_config_value_is_accepted_or_refused_in_one_line(n, fuzz):
    def case(word):
        key, value = word

        def check() -> str:
            case = fuzz.case()
            outcome = fuzz.run(case, f"{key}={value}", cache=True)
            if outcome.code == 2:  # the line names a key, an override or a choice
                assert re.search(r"config key '|override '|unknown \w+ '|is not a part of", outcome.err), outcome.err
                return "clear error"
            if key in NEUTRAL:
                fuzz.same_as_alone(outcome.rows[GOOD])
            return "handled"

        counted("config", check)

    fuzzed(n, st.tuples(st.sampled_from(CONFIG_KEYS), st.sampled_from(CONFIG_VALUES)), case)


# fault points: a cache that cannot be written, a file changed or failing while it is read, a full out_dir
FAULTS = ("cache_full", "cache_read_only", "file_changed", "decode_fails", "out_dir_full")


@pytest.mark.parametrize("n", examples(10, 40))
def test_a_fault_at_any_point_is_said_and_leaves_the_rest_whole(n, fuzz):
    from audiovae.audio.stream import SequentialReader
    from audiovae.cache import store as store_module
    from audiovae.errors import AudioError
    from audiovae.runs.store import ResultStore

    def case(drawn):
        fault, at = drawn

        def check() -> str:
            case = fuzz.case()
            shutil.copy(case / "data" / GOOD, case / "data" / "copy.wav")
            calls = Counter()

            def nth(name: str) -> bool:
                calls[name] += 1
                return calls[name] == at + 1

            atomic, read, append = store_module._atomic_write, SequentialReader.read, ResultStore.append

            def failing_write(path, write):
                if nth("write"):
                    raise OSError(errno.ENOSPC if fault == "cache_full" else errno.EROFS, "simulated")
                return atomic(path, write)

            def faulty_read(self, a, b):
                if self.audio.path.endswith("copy.wav") and nth("read"):
                    if fault == "file_changed":
                        write(Path(self.audio.path), tone(1234, 0.5, 16000), 16000)
                    else:
                        raise AudioError(self.audio.path, "decoding failed after 512 frames (simulated)")
                return read(self, a, b)

            def failing_append(self, result):
                if nth("append"):
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self.path))
                return append(self, result)

            patches = {
                "cache_full": (store_module, "_atomic_write", failing_write),
                "cache_read_only": (store_module, "_atomic_write", failing_write),
                "file_changed": (SequentialReader, "read", faulty_read),
                "decode_fails": (SequentialReader, "read", faulty_read),
                "out_dir_full": (ResultStore, "append", failing_append),
            }
            target, name, replacement = patches[fault]
            with mock.patch.object(target, name, replacement):
                outcome = fuzz.run(case, cache=True, changes=("data/copy.wav",) if fault == "file_changed" else ())
            if fault == "out_dir_full" and calls["append"] > at:
                assert outcome.code == 4 and "No space left on device" in outcome.err.strip().splitlines()[-1]
                kept = case / "out" / "partial" / "rows.rank0.jsonl"
                assert (kept.read_text().count("\n") if kept.exists() else 0) == at
                again = fuzz.run(case, cache=True)  # resumes what finished, evaluates the rest
                assert again.code == 0 and len(again.rows) == 2
                for row in again.rows.values():
                    fuzz.same_as_alone(row)
                return "clear error"
            assert outcome.code == 0, outcome.err[-2000:]
            fuzz.same_as_alone(outcome.rows[GOOD])
            copy = outcome.rows["copy.wav"]
            if fault.startswith("cache"):
                assert copy["status"] == "ok" and outcome.err.count("cannot be written") == (
                    1 if calls["write"] > at else 0
                )
                fuzz.same_as_alone(copy)
                return "handled" if calls["write"] <= at else "clear error"
            if calls["read"] <= at:  # the fault point was never reached
                fuzz.same_as_alone(copy)
                return "handled"
            expected = "changed while being read" if fault == "file_changed" else "simulated"
            assert copy["status"] == "error" and expected in copy["error"], copy
            return "clear error"

        counted("faults", check)

    fuzzed(n, st.tuples(st.sampled_from(FAULTS), st.integers(0, 3)), case)


# manifests: any field value and encoding; the good file's whole-file entry stays equal to its run alone
_json_value = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.lists(st.integers(0, 3), max_size=2),
)
_paths = st.sampled_from(["data/good.wav", "missing.wav", "", "data", "data/good.wav\t", "/dev/zero", "m.jsonl"])


@st.composite
def manifest_case(draw) -> tuple[str, bytes, bool]:
    """(file name, bytes, whether the good file's line is intact) of a manifest: the good file first, then a fuzzed
    record, in a drawn format and encoding (`cut`: the file truncated, which may cut the good line too)."""
    fmt = draw(st.sampled_from(["jsonl", "jsonl.gz", "csv", "tsv", "json"]))
    record = {
        "path": draw(st.one_of(_paths, _json_value)),
        "offset_s": draw(_json_value),
        "duration_s": draw(_json_value),
        "id": draw(st.one_of(st.none(), st.text(max_size=8), st.integers())),
        "caption": draw(st.text(max_size=20)),
    }
    record = {k: v for k, v in record.items() if draw(st.booleans()) or k == "path"}
    if fmt == "json":
        entries = [{"wav": "data/good.wav"}, {("wav" if k == "path" else k): v for k, v in record.items()}]
        text = json.dumps({"data": entries}, allow_nan=True)
    elif fmt in ("csv", "tsv"):
        sep = "," if fmt == "csv" else "\t"
        cells = ["" if v is None else str(v).replace(sep, " ").replace("\n", " ") for v in record.values()]
        header = list(record)
        good = ["data/good.wav"] + [""] * (len(header) - 1)
        text = "\n".join(sep.join(line) for line in (header, good, cells)) + "\n"
    else:
        text = json.dumps({"path": "data/good.wav"}) + "\n" + json.dumps(record, allow_nan=True) + "\n"
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "latin-1", "utf-16", "cut"]))
    data = text.encode("utf-8" if encoding == "cut" else encoding, errors="replace")
    if fmt.endswith(".gz"):
        data = gzip.compress(data)
    if encoding == "cut":
        data = data[: max(1, len(data) * 2 // 3)]
    return f"m.{fmt}", data, encoding != "cut"


@pytest.mark.parametrize("n", examples(10, 150))
def test_any_manifest_is_read_or_refused_in_one_line(n, fuzz):
    def case(drawn):
        name, data, intact = drawn

        def check() -> str:
            case = fuzz.case()
            (case / name).write_bytes(data)
            outcome = fuzz.run(case, "data.dir=null", f"data.manifest={case / name}")
            if outcome.code == 2:
                assert name in outcome.err or "data.manifest" in outcome.err, outcome.err
                return "clear error"
            if not intact and "data/good.wav" not in outcome.rows:  # the cut took the good line: its rows say why
                return "clear error" if outcome.code == 1 else "handled"
            good = outcome.rows.get("data/good.wav")
            assert good is not None and good["status"] == "ok", outcome.rows
            fuzz.same_as_alone(good)
            return "handled"

        counted("manifests", check)

    fuzzed(n, manifest_case(), case)


# shards: any tar members (links, devices, FIFOs, folders, junk, metadata) and brace patterns
_member_names = st.sampled_from(["x.wav", "x.flac", "x.json", "y.txt", "__key__", "dir/z.wav", "a.b.wav", "noext"])
_member_kinds = st.sampled_from(["reg", "sym", "lnk", "chr", "fifo", "dir"])
_member_data = st.sampled_from(["good", "junk", "json", "empty"])
PATTERNS = ("{s}", "{d}/s-{{0..0}}.tar", "{s}::{s}", "{d}/s-{{0..99999999}}.tar", "{d}/s-{{0..", "{d}/missing.tar")


def write_tar(path: Path, good: bytes, members: list) -> None:
    kinds = {"sym": tarfile.SYMTYPE, "lnk": tarfile.LNKTYPE, "chr": tarfile.CHRTYPE, "fifo": tarfile.FIFOTYPE}
    with tarfile.open(path, "w") as tar:
        for name, kind, content in [("good.wav", "reg", "good"), *members]:
            data = {"good": good, "junk": b"\x00junk" * 9, "json": b'{"caption": 3}', "empty": b""}[content]
            info = tarfile.TarInfo(name)
            if kind == "reg":
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            else:
                info.type = tarfile.DIRTYPE if kind == "dir" else kinds[kind]
                info.linkname = "good.wav" if kind in ("sym", "lnk") else ""
                tar.addfile(info)


@pytest.mark.parametrize("n", examples(10, 150))
def test_any_shard_set_is_read_or_refused_in_one_line(n, fuzz):
    def case(drawn):
        members, pattern = drawn

        def check() -> str:
            case = fuzz.case()
            shard = case / "s.tar"
            write_tar(shard, fuzz.good, members)
            (case / "s-0.tar").write_bytes(shard.read_bytes())
            outcome = fuzz.run(case, "data.dir=null", f"data.shards={pattern.format(s=shard, d=case)}")
            if outcome.code == 2:
                assert "data.shards" in outcome.err or "data '" in outcome.err, outcome.err
                return "clear error"
            good = [row for key, row in outcome.rows.items() if key.endswith(":good")]
            assert good and all(row["status"] == "ok" for row in good), outcome.rows
            for row in good:
                fuzz.same_as_alone(row)
            return "handled"

        counted("shards", check)

    drawn_members = st.lists(st.tuples(_member_names, _member_kinds, _member_data), max_size=4)
    fuzzed(n, st.tuples(drawn_members, st.sampled_from(PATTERNS)), case)


# plugins: a metric that misbehaves in any way, named in any place, with or without consent
BEHAVIOURS = {
    "ok": "return self.sums.value()",
    "raises": "raise ValueError('bad value')",
    "text": "return 'text'",
    "none": "return None",
    "shape": "return torch.zeros(3)",
    "nan": "return float('nan')",
    "exit": "raise SystemExit(0)",
}
FUZZ_PLUGIN = """
from pathlib import Path
from typing import Optional
import torch
from audiovae.metrics.base import LOWER, PerItemMetric
from audiovae.metrics.functional.snr import SNRSums
from audiovae.metrics.registry import register_metric

Path({sentinel!r}).write_text("ran")
{at_import}


class Acc:
    def __init__(self):
        self.sums = SNRSums()

    def update(self, preds, target):
        self.sums.update(preds, target)

    def value(self):
        {value}


class Fuzzed(PerItemMetric):
    name, direction = "fuzzed", LOWER

    def accumulator(self):
        return Acc()


register_metric("fuzzed", Fuzzed)
"""
WHERE = ("command line", "config file", "config file with --trust-code")


@pytest.mark.parametrize("n", examples(8, 80))
def test_any_plugin_runs_only_with_consent_and_fails_in_one_place(n, fuzz):
    from audiovae import plugins
    from audiovae.metrics import registry

    def case(drawn):
        behaviour, at_import, where = drawn

        def check() -> str:
            case = fuzz.case()
            sentinel = case / "SENTINEL"
            body = FUZZ_PLUGIN.format(
                sentinel=str(sentinel),
                at_import={"none": "", "exit": "raise SystemExit(0)", "error": "1 / 0"}[at_import],
                value=BEHAVIOURS[behaviour],
            )
            (case / "fuzzed.py").write_text(body)
            words = [f"plugins=[{case / 'fuzzed.py'}]", "metrics.names=[snr,lsd,lsd_hf,mel_l1,fuzzed]"]
            head = ()
            if where != "command line":
                (case / "their.yaml").write_text("extends: eval\nplugins: [" + str(case / "fuzzed.py") + "]\n")
                head = ("--config", str(case / "their.yaml"), *(("--trust-code",) if "trust" in where else ()))
                words = ["metrics.names=[snr,lsd,lsd_hf,mel_l1,fuzzed]"]
            try:
                outcome = fuzz.run(case, *words, head=head, changes=("SENTINEL",))
            finally:
                registry.METRICS.pop("fuzzed", None)
                plugins._LOADED.clear()
            consented = where != "config file"
            assert sentinel.exists() == consented, "a plugin ran without consent" if not consented else "not run"
            if not consented or at_import != "none":
                assert outcome.code == 2 and ("would run code" in outcome.err or "fuzzed.py" in outcome.err)
                return "clear error"
            row = outcome.rows[GOOD]
            if behaviour in ("ok", "nan"):
                assert row["status"] == "ok", row
                fuzz.same_as_alone(row)
                return "handled"
            assert row["status"] == "error" and "metric fuzzed (plugin " in row["error"], row
            return "clear error"

        counted("plugins", check)

    drawn = st.tuples(
        st.sampled_from(list(BEHAVIOURS)), st.sampled_from(["none", "exit", "error"]), st.sampled_from(WHERE)
    )
    fuzzed(n, drawn, case)


# prompt files: any bytes in any of the formats are prompts or one line naming the file
@pytest.mark.parametrize("n", examples(20, 150))
def test_any_prompt_file_is_read_or_refused_in_one_line(n, tmp_path):
    from audiovae.errors import ConfigError
    from audiovae.generation.prompts import read_prompts

    def case(drawn):
        suffix, text, encoding = drawn

        def check() -> str:
            path = tmp_path / f"p{suffix}"
            path.write_bytes(text.encode(encoding, errors="replace"))
            try:
                prompts = read_prompts(path)
            except ConfigError as err:
                assert "\n" not in str(err) and str(path) in str(err), str(err)
                return "clear error"
            assert prompts and all(p.text.strip() and not p.text.startswith("\ufeff") for p in prompts), prompts
            assert len({p.id for p in prompts}) == len(prompts)
            return "handled"

        counted("prompts", check)

    lines = st.lists(
        st.one_of(
            st.text(max_size=30),
            st.sampled_from(['{"prompt": "a dog"}', '{"caption": 3}', "prompt,id", "rain,r1", '{"id": "x"}', "#c"]),
        ),
        max_size=5,
    ).map("\n".join)
    fuzzed(
        n,
        st.tuples(
            st.sampled_from([".txt", ".jsonl", ".csv", ".tsv"]),
            lines,
            st.sampled_from(["utf-8", "utf-8-sig", "latin-1"]),
        ),
        case,
    )


# model options: any value of any key is a typed keyword argument or one line naming `model.options.<key>`
@pytest.mark.parametrize("n", examples(20, 150))
def test_any_model_option_is_typed_or_refused_in_one_line(n):
    from omegaconf import OmegaConf

    from audiovae.config.keywords import fits
    from audiovae.errors import ConfigError
    from audiovae.models.families import family_options
    from audiovae.models.family_builtin import DAC_FAMILY, ENCODEC_FAMILY

    families = {"dac": DAC_FAMILY, "encodec": ENCODEC_FAMILY}

    def case(drawn):
        family, key, value = drawn

        def check() -> str:
            model = OmegaConf.create({"family": family, "options": {key: value}})
            try:
                options = family_options(families[family], model)
            except ConfigError as err:
                assert f"config key 'model.options.{key}'" in str(err) and "\n" not in str(err), str(err)
                return "clear error"
            hints = {"n_quantizers": Optional[int], "bandwidth": Optional[float]}
            assert key in hints and fits(options[key], hints[key]), (key, value)
            return "handled"

        counted("options", check)

    values = st.one_of(st.none(), st.booleans(), st.integers(-5, 40), st.floats(-5, 40), st.text(max_size=5))
    keys = st.sampled_from(["n_quantizers", "bandwidth", "codec", "sample_rate", "nonsense"])
    fuzzed(n, st.tuples(st.sampled_from(list(families)), keys, st.one_of(values, st.lists(values, max_size=2))), case)


def test_the_fuzz_harness_sees_what_it_guards(fuzz, tmp_path):
    """The harness is not vacuous: a write outside out_dir, a crash and a wrong number are each caught."""
    case = fuzz.case()
    with mock.patch("audiovae.evaluation.job.run_evaluation", side_effect=lambda cfg: (case / "data" / "x").touch()):
        with pytest.raises(AssertionError, match="outside out_dir"):
            fuzz.run(case)
    with mock.patch("audiovae.evaluation.job.run_evaluation", side_effect=ZeroDivisionError):
        with pytest.raises(ZeroDivisionError):
            fuzz.run(fuzz.case())
    with pytest.raises(AssertionError):
        fuzz.same_as_alone({**fuzz.reference, "base_snr": str(float(fuzz.reference["base_snr"]) + 0.1)})
    assert math.isfinite(float(fuzz.reference["base_snr"]))


def test_the_faults_pages_table_is_the_fuzz_suites_own_and_counts_no_harm():
    from tests.fuzz_table import COLUMNS, PAGE, render_table, table_in

    table = table_in(PAGE.read_text())
    rows = [line.strip("|").split("|") for line in table.splitlines()[2:-1]]
    counts = {kind: {c: int(cell) for c, cell in zip(COLUMNS, row[1:])} for kind, row in zip(KINDS, rows)}
    assert render_table(counts, KINDS) == table  # written by tests/fuzz_table.py from the suite's counts
    for kind, row in counts.items():
        assert row["tried"] > 0 and row["tried"] == row["handled"] + row["clear error"], kind
        assert all(row[c] == 0 for c in ("silently wrong", "crashed", "overwritten", "hung", "memory")), kind
