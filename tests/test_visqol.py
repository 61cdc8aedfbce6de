"""ViSQOL v3 through visqol-python: the package's own value for identical signals (the audio mode's ceiling), equal to
its API on the signals resampled to the mode's rate, higher for a closer copy, and its ceiling said in the report."""

import numpy as np
import pytest
import soxr
import torch

from audiovae.metrics.registry import build_metric
from audiovae.reporting.format import scale_notes
from tests.conftest import noise


def clip(seconds: float, sr: int) -> np.ndarray:
    """Music-like: two partials under a 2 Hz envelope, with a little noise."""
    t = np.arange(int(seconds * sr)) / sr
    tones = np.sin(2 * np.pi * 440 * t) + 0.5 * np.sin(2 * np.pi * 2637 * t)
    return 0.3 * tones * np.clip(np.sin(2 * np.pi * 2 * t), 0.1, None) + noise(seconds, sr, seed=5, amp=0.01)


def test_identical_signals_score_the_audio_modes_ceiling():
    x = torch.from_numpy(clip(1.5, 48000))
    value = build_metric("visqol", 48000).accumulator().update(x, x).value().item()
    assert value == pytest.approx(4.7321, abs=1e-4)  # visqol-python's conformance value, not 5


@pytest.mark.parametrize("mode", ["audio", "speech"])
def test_visqol_equals_the_package_on_the_signals_at_its_modes_rate(mode):
    from visqol import VisqolApi

    sr, rate = 16000, {"audio": 48000, "speech": 16000}[mode]
    x = clip(1.5, sr)
    y = np.convolve(x, np.ones(4) / 4, mode="same") + noise(1.5, sr, seed=6, amp=0.005)  # duller, noisier
    metric = build_metric("visqol", sr, {"visqol": {"mode": mode}})
    ours = metric.accumulator().update(torch.from_numpy(y[:9000]), torch.from_numpy(x[:9000]))
    ours = ours.update(torch.from_numpy(y[9000:]), torch.from_numpy(x[9000:])).value().item()
    api = VisqolApi()
    api.create(mode=mode)
    ref, deg = (s if rate == sr else soxr.resample(s, sr, rate, quality="HQ") for s in (x, y))
    assert ours == pytest.approx(api.measure_from_arrays(ref, deg, rate).moslqo, rel=1e-6)
    closer = metric.accumulator().update(torch.from_numpy(0.5 * (x + y)), torch.from_numpy(x)).value().item()
    assert closer > ours  # halfway back to the reference scores higher


def test_the_report_says_the_ceiling_of_visqol():
    (note,) = scale_notes(["snr", "visqol", "a_metric_of_another_installation"])
    assert note.startswith("visqol: ") and "4.73" in note


def test_scoring_leaves_torchs_thread_count_as_it_was():
    """Numba's OpenMP pool shares its runtime with torch: a score must not move the model to more threads."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        x = torch.from_numpy(clip(1.2, 16000))
        build_metric("visqol", 16000).accumulator().update(x * 0.9, x).value()
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
