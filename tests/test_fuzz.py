"""Property-based fuzzing of the real command line (`audiovae.cli.main`, what `evaluate.py` runs) with the bundled
demo model: file names, WAV header fields, config values and fault points drawn by hypothesis. For every case it
asserts the exit status, a one-line message for a refused start, the good file's row equal to its stand-alone
evaluation, every other row ok or an error with a reason, no file outside `out_dir` and the run's cache created or
changed (a snapshot before and after), memory growth under RSS_BOUND and no hang (HANG_S).

The fast variant draws a few examples of each kind; the `slow` one more. With AUDIOVAE_FUZZ_COUNTS=FILE the counts
of outcomes are written there (`python -m tests.fuzz_table` runs the suite so and rewrites the table in docs/faults.md).
"""

import contextlib
import errno
import io
import json
import math
import os
import re
import shutil
import signal
import struct
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
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
    "model.griffin_lim_iters=8",
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
KINDS = {"names": "file names", "headers": "WAV header fields", "config": "config values", "faults": "fault points"}


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

    def run(self, case: Path, *overrides, cache: bool = False, changes: tuple = ()) -> Outcome:
        """`changes`: paths below `case` the case itself rewrites (left out of the snapshot)."""
        os.environ.pop(runs_module.RUN_DIR_ENV, None)
        before = {k: v for k, v in snapshot(case, ("out", "cache")).items() if k not in changes}
        args = [
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


def examples(fast: int, slow: int):
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
    "metrics.lsd_n_fft",
    "metrics.lsd_hop",
    "metrics.spectrum_n_fft",
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
    "model.griffin_lim_iters",
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
    from audiovae.evaluation.store import ResultStore

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
