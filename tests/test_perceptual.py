"""PESQ (wide band), STOI and the loudness error: equal to torchmetrics' and pyloudnorm's functions on the saved audio,
NaN with a reason where undefined, refused at start-up where the rate does not fit."""

import numpy as np
import pyloudnorm
import pytest
import soundfile as sf
import torch
from torchmetrics.functional.audio import perceptual_evaluation_speech_quality, short_time_objective_intelligibility

from audiovae.errors import ConfigError
from audiovae.metrics.registry import build_metric
from audiovae.reporting.records import read_csv
from tests.conftest import evaluate_folder, noise, write


def voiced(seconds: float, sr: int, f0: float, seed: int) -> np.ndarray:
    """A speech-like test signal: harmonics of f0 under a syllable-rate (4 Hz) envelope, with a little noise."""
    t = np.arange(int(seconds * sr)) / sr
    harmonics = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 12))
    envelope = np.clip(np.sin(2 * np.pi * 4 * t), 0, None) ** 2
    return (0.3 * envelope * harmonics + noise(seconds, sr, seed=seed, amp=0.01)).astype(np.float32)


def test_pesq_and_stoi_equal_torchmetrics_on_the_saved_audio(tmp_path):
    write(tmp_path / "clips" / "a.wav", voiced(2.0, 16000, 120, 0), 16000)
    write(tmp_path / "clips" / "b.wav", voiced(1.5, 16000, 210, 1), 16000)
    evaluate_folder(
        tmp_path / "clips",
        tmp_path / "out",
        "model=tiny",
        "logger=none",
        "metrics.bootstrap_samples=100",
        "outputs.save_plots=false",
        "metrics.names=[pesq_wb,stoi,snr,loudness_error]",
    )
    rows = read_csv(tmp_path / "out" / "results.csv")
    assert [r["status"] for r in rows] == ["ok", "ok"]
    for row in rows:
        audio = {
            v: torch.from_numpy(sf.read(str(tmp_path / "out" / "audio" / f"{row['file']}.{v}.wav"), dtype="float32")[0])
            for v in ("reference", "vocoder", "base", "enhanced")
        }
        for variant in ("vocoder", "base", "enhanced"):
            pesq = float(perceptual_evaluation_speech_quality(audio[variant], audio["reference"], 16000, "wb"))
            stoi = float(short_time_objective_intelligibility(audio[variant], audio["reference"], 16000))
            assert row[f"{variant}_pesq_wb"] == pytest.approx(pesq, abs=1e-6)
            assert row[f"{variant}_stoi"] == pytest.approx(stoi, abs=1e-6)
            meter = pyloudnorm.Meter(16000)
            loudness = [meter.integrated_loudness(audio[v].double().numpy()) for v in (variant, "reference")]
            assert row[f"{variant}_loudness_error"] == pytest.approx(abs(loudness[0] - loudness[1]), abs=1e-4)
        assert 1.0 <= row["base_pesq_wb"] <= 4.65 and row["delta_pesq_wb"] == pytest.approx(
            row["enhanced_pesq_wb"] - row["base_pesq_wb"]
        )


def test_a_clip_pesq_cannot_rate_is_nan_and_a_copy_scores_the_maximum():
    metric = build_metric("pesq_wb", sample_rate=16000)
    silence = torch.zeros(16000)
    assert torch.isnan(metric.accumulator().update(silence, silence).value())
    x = torch.from_numpy(voiced(1.0, 16000, 150, 2))
    assert float(metric.accumulator().update(x[:8000], x[:8000]).update(x[8000:], x[8000:]).value()) > 4.5
    assert float(build_metric("stoi", sample_rate=16000).accumulator().update(x, x).value()) == pytest.approx(1.0)


def test_pesq_at_another_rate_is_refused_at_start_up():
    with pytest.raises(ConfigError, match="pesq_wb is defined at 16000 Hz, the front end runs at 48000 Hz"):
        build_metric("pesq_wb", sample_rate=48000)


def test_loudness_error_reads_bs1770_levels_and_is_nan_where_undefined():
    sr = 48000
    t = np.arange(2 * sr) / sr
    full = torch.from_numpy(np.sin(2 * np.pi * 1000 * t))  # BS.1770: a full-scale 1 kHz sine in one channel
    assert pyloudnorm.Meter(sr).integrated_loudness(full.numpy()) == pytest.approx(-3.01, abs=0.05)  # -3.01 LUFS
    metric = build_metric("loudness_error", sample_rate=sr)
    assert float(metric.accumulator().update(0.1 * full, full).value()) == pytest.approx(20.0, abs=1e-6)
    assert float(metric.accumulator().update(full, 0.1 * full).value()) == pytest.approx(20.0, abs=1e-6)
    assert float(metric.accumulator().update(full, full).value()) == 0.0
    assert torch.isnan(metric.accumulator().update(full[: sr // 4], full[: sr // 4]).value())  # under one block
    assert torch.isnan(metric.accumulator().update(torch.zeros(sr), full[:sr]).value())  # silent: below the gate
    assert metric.direction == "lower" and metric.unit == "LU"
