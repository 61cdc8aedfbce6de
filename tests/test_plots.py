"""A file's plot data is gathered in bounded memory while its signals stream in."""
import numpy as np
import torch

from audiovae.reporting.plots import FilePlot


def test_long_log_mels_are_averaged_into_at_most_the_column_budget_whatever_the_chunking():
    mel = torch.randn(3001, 64)
    plot = FilePlot(frames=3001, seconds=30.01, sample_rate=16000, columns=1000)
    for chunk in mel.split(397):
        plot.add_mel("reference", chunk)
    shown = plot.mel("reference")
    assert shown.shape == (751, 64)  # blocks of ceil(3001 / 1000) = 4 frames; the last holds the one frame left
    np.testing.assert_allclose(shown[:-1], mel[:3000].reshape(750, 4, 64).mean(1).numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(shown[-1], mel[3000].numpy(), rtol=1e-5)


def test_mean_spectrum_is_the_same_streamed_or_whole():
    wave = torch.randn(20000, dtype=torch.float64)
    whole, streamed = (FilePlot(frames=125, seconds=1.25, sample_rate=16000) for _ in range(2))
    whole.add_wave("base", wave)
    for chunk in wave.split(3333):
        streamed.add_wave("base", chunk)
    freqs, power = whole.spectrum_db("base")
    np.testing.assert_allclose(streamed.spectrum_db("base")[1], power, rtol=1e-9)
    assert freqs[-1] == 8000 and abs(power.mean() - 10 * np.log10(0.375 * 2048)) < 0.5  # white noise, Hann Σw²
