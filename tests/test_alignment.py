"""The vocoder alignment check and the constant shift before the waveform metrics: exact lags from streamed
chunks, and end to end on a vocoder ceiling that is the reference itself, delayed or not."""

import json

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from audiovae.metrics.functional.lag import LagSearch, Shift, best_lag, cross_correlation
from audiovae.pipeline import ReconstructionPipeline
from audiovae.reporting.records import read_csv
from audiovae.reporting.tracking import summary_keys
from tests.conftest import chirp, evaluate_folder, noise, write


def delayed(x: np.ndarray, lag: int) -> np.ndarray:
    """y[t] = x[t − lag] (zeros shifted in)."""
    return np.roll(x, lag) * (np.arange(len(x)) >= lag) if lag >= 0 else np.concatenate([x[-lag:], np.zeros(-lag)])


def test_cross_correlation_equals_the_sum_it_defines():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal(300), rng.standard_normal(280)
    direct = [sum(x[t] * y[t + k] for t in range(len(x)) if 0 <= t + k < len(y)) for k in range(-40, 41)]
    np.testing.assert_allclose(cross_correlation(x, y, 40), direct, rtol=1e-10, atol=1e-9)


@pytest.mark.parametrize("lag", [-300, -80, 0, 37, 80, 512])
def test_an_injected_lag_is_found_exactly(lag):
    x = noise(1.0, 16000, seed=3) + chirp(100, 6000, 1.0, 16000)
    y = delayed(x, lag) + noise(1.0, 16000, seed=4, amp=0.05)
    search = LagSearch(1024)
    for start in range(0, len(x), 4000):
        search.update(torch.from_numpy(y[start : start + 4000]), torch.from_numpy(x[start : start + 4000]))
    found, corr = search.value()
    assert found == lag == best_lag(x, y, 1024) and corr > 0.9


@settings(max_examples=30, deadline=None)
@given(
    cuts=st.lists(st.integers(1, 900), min_size=1, max_size=8), max_lag=st.integers(0, 200), seed=st.integers(0, 1000)
)
def test_streamed_correlation_equals_the_whole_signals_whatever_the_chunks(cuts, max_lag, seed):
    rng = np.random.default_rng(seed)
    x, y = rng.standard_normal(1000), rng.standard_normal(1000)
    search, bounds = LagSearch(max_lag), [0, *sorted(set(cuts)), 1000]
    for a, b in zip(bounds, bounds[1:]):
        search.update(torch.from_numpy(y[a:b]), torch.from_numpy(x[a:b]))
    np.testing.assert_allclose(search.sums, cross_correlation(x, y, max_lag), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("samples", [5, -5, 0])
def test_streamed_shift_pairs_reference_t_with_reconstruction_t_plus_the_shift(samples):
    x, y = torch.arange(50.0), torch.arange(50.0) + 1000
    shift, got_x, got_y = Shift(samples), [], []
    for a in range(0, 50, 7):
        rx, ry = shift(x[a : a + 7], {"y": y[a : a + 7]})
        assert rx.shape == ry["y"].shape
        got_x.append(rx)
        got_y.append(ry["y"])
    got_x, got_y = torch.cat(got_x), torch.cat(got_y)
    assert len(got_x) == 50 - abs(samples)
    assert torch.equal(got_y - got_x, torch.full_like(got_x, 1000.0 + samples))  # y[t + s] paired with x[t]


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clips")
    write(folder / "a.wav", chirp(200, 7000, 1.0, 16000) + noise(1.0, 16000, amp=0.05), 16000)
    write(folder / "b.wav", noise(0.8, 16000, seed=5), 16000)
    return folder


def evaluate_with_ceiling(folder, out, lag: int, monkeypatch, *overrides):
    """An evaluation whose vocoder ceiling is the reference itself delayed by `lag` samples."""
    shared = ReconstructionPipeline.shared  # what every pass (and the cross-run cache) takes the ceiling from

    def ceiling_is_the_reference(self, segments, *args, **kwargs):
        out = shared(self, segments, *args, **kwargs)
        out.vocoder_wave = torch.from_numpy(np.stack([delayed(s, lag) for s in segments.cpu().double().numpy()]))
        out.vocoder_wave = out.vocoder_wave.to(segments)
        return out

    monkeypatch.setattr(ReconstructionPipeline, "shared", ceiling_is_the_reference)
    outcome = evaluate_folder(
        folder,
        out,
        "model=tiny",
        "logger=none",
        "metrics.bootstrap_samples=100",
        "outputs.save_audio=false",
        "outputs.save_plots=false",
        *overrides,
    )
    return outcome, read_csv(out / "results.csv"), json.loads((out / "summary.json").read_text())


def test_an_aligned_ceiling_reports_lag_0_and_no_warning(clips, tmp_path, monkeypatch):
    outcome, rows, summary = evaluate_with_ceiling(clips, tmp_path / "o", 0, monkeypatch)
    assert [r["vocoder_lag_samples"] for r in rows] == [0, 0]
    assert all(r["vocoder_lag_corr"] == pytest.approx(1.0, abs=1e-6) for r in rows)
    assert summary["alignment"]["median_lag_samples"] == 0 and summary["alignment"]["files_off"] == 0
    assert outcome.warnings == [] and "WARNING" not in (tmp_path / "o" / "report.md").read_text()


def test_a_late_ceiling_is_measured_warned_about_and_compensated(clips, tmp_path, monkeypatch):
    outcome, rows, summary = evaluate_with_ceiling(clips, tmp_path / "late", 80, monkeypatch)
    assert [r["vocoder_lag_samples"] for r in rows] == [80, 80]
    assert summary["alignment"]["median_lag_samples"] == 80 and summary["alignment"]["median_lag_ms"] == 5.0
    assert summary_keys(summary)["eval/vocoder_alignment/median_lag_samples"] == 80  # what W&B receives
    assert len(outcome.warnings) == 1 and "metrics.align_samples=80" in outcome.warnings[0]
    assert "WARNING: the vocoder ceiling is 80 samples" in (tmp_path / "late" / "report.md").read_text()
    _, aligned, summary = evaluate_with_ceiling(
        clips, tmp_path / "aligned", 80, monkeypatch, "metrics.align_samples=80"
    )
    assert [r["vocoder_lag_samples"] for r in aligned] == [80, 80]  # the check measures before the shift
    for late, fixed in zip(rows, aligned):
        assert (
            late["vocoder_snr"] < 3 and fixed["vocoder_snr"] > 90
        )  # the ceiling is the reference (float32), once aligned
        assert fixed["evaluated_s"] == late["evaluated_s"]
    assert "WARNING" not in (tmp_path / "aligned" / "report.md").read_text()


def test_the_audioldm2_framing_evaluates_end_to_end_and_compare_refuses_to_mix_framings(
    clips, tmp_path, monkeypatch, capsys
):
    from audiovae.compare import main as compare_main

    _, default, _ = evaluate_with_ceiling(clips, tmp_path / "training", 0, monkeypatch)
    _, inference, _ = evaluate_with_ceiling(clips, tmp_path / "inference", 0, monkeypatch, "frontend.framing=audioldm2")
    assert [r["status"] for r in inference] == ["ok", "ok"]
    assert all(a["base_mel_l1"] != pytest.approx(b["base_mel_l1"], rel=1e-3) for a, b in zip(default, inference))
    assert compare_main([str(tmp_path / "training"), str(tmp_path / "inference"), "--out", str(tmp_path / "c")]) == 2
    assert "frontend.framing: 'training_repo' vs 'audioldm2'" in capsys.readouterr().err


def test_align_vocoder_lag_measures_the_lag_before_the_run_and_compensates_it(clips, tmp_path, monkeypatch, capsys):
    _, rows, summary = evaluate_with_ceiling(clips, tmp_path / "auto", 80, monkeypatch, "metrics.align=vocoder_lag")
    assert "the vocoder ceiling is 80 samples late on a.wav" in capsys.readouterr().out
    assert summary["alignment"]["align"] == "vocoder_lag" and summary["alignment"]["align_samples"] == 80
    assert summary["alignment"]["measured_before_run"]["lag"] == 80
    assert all(r["vocoder_snr"] > 90 for r in rows)  # compensated like metrics.align_samples=80
    assert "WARNING" not in (tmp_path / "auto" / "report.md").read_text()


def test_align_vocoder_lag_without_a_clear_peak_applies_no_shift(clips, tmp_path, capsys):
    evaluate_folder(
        clips,
        tmp_path / "gl",
        "model=demo",
        "logger=none",
        "metrics.bootstrap_samples=20",
        "outputs.save_audio=false",
        "outputs.save_plots=false",
        "metrics.names=[snr]",
        "metrics.align=vocoder_lag",
        "data.max_seconds=1.0",
    )
    assert "no clear cross-correlation peak on a.wav" in capsys.readouterr().out  # Griffin-Lim invents its phase
    summary = json.loads((tmp_path / "gl" / "summary.json").read_text())
    assert summary["alignment"]["align_samples"] == 0


def test_the_tiny_models_random_vocoder_gives_no_clear_peak_and_no_false_warning(clips, tmp_path):
    outcome = evaluate_folder(
        clips,
        tmp_path / "tiny",
        "model=tiny",
        "logger=none",
        "metrics.bootstrap_samples=20",
        "outputs.save_audio=false",
        "outputs.save_plots=false",
        "metrics.names=[snr]",
    )
    summary = json.loads((tmp_path / "tiny" / "summary.json").read_text())
    assert summary["alignment"]["median_corr"] < 0.3  # random weights: its output does not follow the waveform
    assert outcome.warnings == [] and "no clear cross-correlation peak" in (tmp_path / "tiny" / "report.md").read_text()
