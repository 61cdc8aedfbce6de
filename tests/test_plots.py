"""A file's plot data is gathered in bounded memory while its signals stream in."""

import numpy as np
import torch

from audiovae.audio.frontend import mel_band_centres
from audiovae.metrics.functional.mel_domain import band_retention
from audiovae.reporting.plots import FilePlot, plot_file

HZ = mel_band_centres(64, 0, 8000)


def test_long_log_mels_are_averaged_into_at_most_the_column_budget_whatever_the_chunking():
    mel = torch.randn(3001, 64)
    plot = FilePlot(frames=3001, seconds=30.01, hz=HZ, cutoff_hz=4000, columns=1000)
    for chunk in mel.split(397):
        plot.add_mel("reference", chunk)
    shown = plot.mel("reference")
    assert shown.shape == (751, 64)  # blocks of ceil(3001 / 1000) = 4 frames; the last holds the one frame left
    np.testing.assert_allclose(shown[:-1], mel[:3000].reshape(750, 4, 64).mean(1).numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(shown[-1], mel[3000].numpy(), rtol=1e-5)


def test_per_band_retention_is_the_same_streamed_or_whole_and_equals_the_metric(tmp_path):
    reference, base = torch.randn(500, 64) * 0.5, torch.randn(500, 64) * 0.5 - 0.2
    plot = FilePlot(frames=500, seconds=5.0, hz=HZ, cutoff_hz=4000)
    for ref, b in zip(reference.split(77), base.split(77)):
        plot.add_mel("reference", ref)
        plot.add_mel("base", b)
        plot.add_mel("enhanced", b + 0.1)
    np.testing.assert_allclose(plot.retention_db("base"), band_retention(base, reference).numpy(), rtol=1e-5)
    np.testing.assert_allclose(
        plot.retention_db("enhanced") - plot.retention_db("base"), 20 * 0.1 / np.log(10), rtol=1e-4
    )  # +0.1 neper of magnitude = +0.869 dB
    assert plot_file(tmp_path / "f.png", plot, "test").stat().st_size > 20_000
