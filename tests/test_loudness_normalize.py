"""metrics.loudness_normalize: the waveform metrics see the reference and each reconstruction scaled to one integrated
loudness (what a user asks for when only the sound, not its level, should count); the mel-domain metrics do not
change, the run says so, and the cache keeps the two apart."""

import numpy as np
import pyloudnorm
import pytest
import soundfile as sf
import torch

from audiovae.evaluation.loudness_match import LoudnessMatch
from audiovae.metrics.registry import build_metric
from audiovae.reporting.records import read_csv
from tests.conftest import evaluate_folder, noise, tone, write

SR = 16000


def test_held_chunks_come_back_in_order_scaled_to_the_target():
    x = torch.from_numpy(tone(440, 1.5, SR, amp=0.5) + noise(1.5, SR, amp=0.02))
    quiet, silent = 0.1 * x, torch.zeros_like(x)
    match = LoudnessMatch(-23.0, SR)
    for a, b in [(0, 7000), (7000, 20000), (20000, 24000)]:
        match.hold(x[a:b], {"quiet": quiet[a:b], "silent": silent[a:b]})
    out = list(match.release())
    reference = torch.cat([r for r, _ in out])
    scaled = torch.cat([m["quiet"] for _, m in out])
    meter = pyloudnorm.Meter(SR)
    assert meter.integrated_loudness(reference.double().numpy()) == pytest.approx(-23.0, abs=0.01)
    assert meter.integrated_loudness(scaled.double().numpy()) == pytest.approx(-23.0, abs=0.01)
    torch.testing.assert_close(scaled, reference)  # a level difference only: gone
    assert torch.equal(torch.cat([m["silent"] for _, m in out]), silent)  # no loudness: left as it is
    assert match.chunks == [] and match.released


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("loudness")
    clips = root / "clips"
    clips.mkdir()
    write(clips / "a.wav", tone(440, 1.2, SR, amp=0.3) + tone(3000, 1.2, SR, amp=0.05), SR)
    write(clips / "b.wav", tone(220, 1.2, SR, amp=0.6) + noise(1.2, SR, seed=3, amp=0.05), SR)
    words = ["model=demo", "logger=none", "metrics.names=[snr,loudness_error,mel_l1]", "outputs.save_plots=false"]
    words += ["outputs.listening_files=0", "model.options.griffin_lim_iters=4"]
    plain = evaluate_folder(clips, root / "plain", *words).out_dir
    matched = evaluate_folder(clips, root / "matched", *words, "metrics.loudness_normalize=-23").out_dir
    return plain, matched


def test_the_waveform_metrics_see_signals_of_one_loudness(runs):
    plain, matched = runs
    rows = {r["file"]: r for r in read_csv(matched / "results.csv")}
    before = {r["file"]: r for r in read_csv(plain / "results.csv")}
    meter = pyloudnorm.Meter(SR)

    def scaled(path):
        wave, _ = sf.read(path, dtype="float64")
        return wave * 10 ** ((-23 - meter.integrated_loudness(wave)) / 20)

    for name, row in rows.items():
        assert row["base_loudness_error"] < 0.02 < before[name]["base_loudness_error"]
        x, y = (scaled(matched / "audio" / f"{name}.{v}.wav") for v in ("reference", "base"))
        expected = build_metric("snr", SR).accumulator().update(torch.from_numpy(y), torch.from_numpy(x)).value()
        assert row["base_snr"] == pytest.approx(expected.item(), rel=1e-4)
        assert row["base_mel_l1"] == before[name]["base_mel_l1"]  # the VAE's own log-mels: not rescaled
    report = (matched / "report.md").read_text()
    assert "scaled to -23 LUFS integrated loudness" in report
    assert "loudness normalisation" not in (plain / "report.md").read_text()
    assert np.isfinite(rows["a.wav"]["enhanced_snr"])
