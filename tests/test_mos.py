"""The MOS predictors (DNSMOS P.835 and P.808, PLCMOS): equal to speechmos' own functions on the same signal, run
with no network, read only the estimate, and run DNSMOS' models once for its four scores of a clip."""

import socket

import numpy as np
import pytest
import soxr
import torch

from audiovae.metrics import mos
from audiovae.metrics.registry import build_metric, metric_info
from tests.test_perceptual import voiced

DNSMOS = ("dnsmos_sig", "dnsmos_bak", "dnsmos_ovrl", "dnsmos_p808")


@pytest.fixture
def no_network(monkeypatch):
    """Any socket opened while the test runs is an error."""

    def refuse(*args, **kwargs):
        raise OSError("the network is blocked in this test")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_the_predictions_equal_speechmos_and_need_no_network(no_network):
    from speechmos import dnsmos, plcmos

    x = voiced(3.0, 16000, 140, 3)
    y = torch.from_numpy(np.convolve(x, np.ones(3) / 3, mode="same").astype(np.float32))
    expected = dnsmos.run(y.double().numpy(), 16000)
    for name in DNSMOS:
        metric = build_metric(name, 16000)
        value = metric.accumulator().update(y[:20000], torch.zeros(20000)).update(y[20000:], torch.zeros(28000))
        assert value.value().item() == pytest.approx(expected[name.replace("dnsmos_", "") + "_mos"], rel=1e-6)
    plc = build_metric("plcmos", 16000).accumulator().update(y, y).value().item()
    np.random.seed(mos.PLCMOS_SEED)  # its random rater embeddings, drawn as the metric draws them
    assert plc == pytest.approx(plcmos.run(y.double().numpy(), 16000)["plcmos"], rel=1e-6)
    assert build_metric("plcmos", 16000).accumulator().update(y, y).value().item() == plc  # a run repeats


def test_another_rate_is_resampled_and_the_four_dnsmos_scores_run_the_models_once(monkeypatch):
    calls = []
    model = mos._dnsmos(False)
    original = type(model).__call__
    monkeypatch.setattr(type(model), "__call__", lambda self, *a: calls.append(1) or original(self, *a))
    x = voiced(2.0, 48000, 180, 4)
    values = {
        name: build_metric(name, 48000).accumulator().update(torch.from_numpy(x), torch.from_numpy(x))
        for name in DNSMOS
    }
    scores = {name: acc.value().item() for name, acc in values.items()}
    assert len(calls) == 1  # one run of the models for the clip's four scores
    at_16k = mos.dnsmos_scores(
        np.clip(soxr.resample(x.astype(np.float32).astype(np.float64), 48000, 16000, quality="HQ"), -1, 1)
    )
    assert scores["dnsmos_ovrl"] == pytest.approx(at_16k["ovrl_mos"], rel=1e-6)
    assert all(1.0 <= v <= 5.0 for v in scores.values())


def test_they_are_reference_free_speech_models():
    for name in (*DNSMOS, "plcmos"):
        info = metric_info(name)
        assert info.reference_free and info.direction == "higher" and "speech" in info.scale_note


def test_the_onnx_runtime_writes_nothing_under_home_when_imported(tmp_path):
    # torchmetrics imports it whenever it is installed (its own DNSMOS), so every training would: onnxruntime 1.29+
    # writes a device id and a telemetry store under ~/.cache/Microsoft on import (pinned below 1.29)
    import subprocess
    import sys

    home = tmp_path / "home"
    home.mkdir()
    done = subprocess.run(
        [sys.executable, "-c", "import onnxruntime"], env={"HOME": str(home), "PATH": ""}, timeout=120
    )
    assert done.returncode == 0 and list(home.rglob("*")) == []
