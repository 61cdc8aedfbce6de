"""Metrics off the critical path: the whole-signal metrics computed by worker processes while the model runs on the
next files give the rows of the inline run, value for value and in the same order; how many workers a run gets."""

import pickle

import pytest
import torch

from audiovae.evaluation import metric_pool as pool_module
from audiovae.evaluation.metric_pool import MetricPool, pool_workers, whole_signal_metrics
from audiovae.metrics.perceptual import WholeSignal
from audiovae.metrics.registry import build_metric
from audiovae.reporting.records import read_csv
from tests.conftest import evaluate_folder, write
from tests.test_perceptual import voiced

RUN = [
    "model=tiny",
    "logger=none",
    "metrics.bootstrap_samples=50",
    "outputs.save_plots=false",
    "outputs.save_audio=false",
    "data.batch_size=1",
    "cache.enabled=false",  # every variant measured in both runs (a warm cache would hold the shared ones)
    "metrics.names=[snr,pesq_wb,stoi,loudness_error]",
]


def test_workers_give_the_inline_rows_in_order(tmp_path, monkeypatch):
    for i, (seconds, f0) in enumerate([(1.5, 120), (1.0, 200), (2.0, 160), (1.2, 240)]):
        write(tmp_path / "clips" / f"{i}.wav", voiced(seconds, 16000, f0, i), 16000)
    submitted = []
    submit = pool_module.MetricPool.submit
    monkeypatch.setattr(pool_module.MetricPool, "submit", lambda self, *a: submitted.append(1) or submit(self, *a))
    evaluate_folder(tmp_path / "clips", tmp_path / "inline", *RUN, "metrics.workers=0")
    assert submitted == []
    evaluate_folder(tmp_path / "clips", tmp_path / "pool", *RUN, "metrics.workers=1")
    assert len(submitted) == 1 + 4 * 3 * 3  # the warm-up, then files × variants × whole-signal metrics
    inline, pooled = read_csv(tmp_path / "inline" / "results.csv"), read_csv(tmp_path / "pool" / "results.csv")
    assert [r["file"] for r in pooled] == [r["file"] for r in inline] == ["0.wav", "1.wav", "2.wav", "3.wav"]
    values = [c for c in inline[0] if c.startswith(("vocoder_", "base_", "enhanced_", "delta_"))]
    assert any(c.endswith("pesq_wb") for c in values)
    for a, b in zip(inline, pooled):
        assert {c: b[c] for c in values} == {c: a[c] for c in values}, a["file"]  # identical, not close


def test_a_run_gets_a_worker_only_for_metrics_of_whole_signals(monkeypatch):
    plain = {n: build_metric(n, 16000) for n in ("snr", "lsd_hf")}
    heavy = {**plain, "pesq_wb": build_metric("pesq_wb", 16000)}
    monkeypatch.setattr(pool_module.os, "cpu_count", lambda: 16)
    assert pool_workers(None, plain) == 0 and pool_workers(3, plain) == 0
    assert pool_workers(None, heavy) == 4 and pool_workers(0, heavy) == 0 and pool_workers(3, heavy) == 3
    monkeypatch.setattr(pool_module.os, "cpu_count", lambda: 4)
    assert pool_workers(None, heavy) == 2
    monkeypatch.setattr(pool_module.os, "cpu_count", lambda: 2)
    assert pool_workers(None, heavy) == 0  # measured: on 2 cores a worker costs more than it saves


@pytest.mark.parametrize("word", ["metrics.workers=-1", "metrics.workers=1.5"])
def test_a_bad_worker_count_is_one_line(word, tmp_path, capsys):
    from audiovae.cli import main

    write(tmp_path / "clips" / "a.wav", voiced(1.0, 16000, 150, 0), 16000)
    assert main("eval", [*RUN, word, f"data.dir={tmp_path / 'clips'}", f"out_dir={tmp_path / 'out'}"]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("error: config key 'metrics.workers'")


# one metric of each class computed on whole signals (the DNSMOS outputs, DAC's and VERSA's columns: one each)
WHOLE = [
    "pesq_wb",
    "stoi",
    "visqol",
    "loudness_error",
    "dnsmos_ovrl",
    "plcmos",
    "lsd_audioldm_eval",
    "psnr_audioldm_eval",
    "ssim_audioldm_eval",
    "dac_mel_22k",
    "dac_sisdr_44k",
    "dac_visqol_speech_44k",
    "espnet_ci_sdr",
    "espnet_si_snr",
    "espnet_pesq",
    "espnet_mcd",
]


def test_every_kind_of_whole_signal_metric_gives_its_inline_value_in_a_worker():
    metrics = {name: build_metric(name, 16000) for name in WHOLE}
    assert whole_signal_metrics(metrics) == WHOLE
    x = torch.from_numpy(voiced(1.2, 16000, 150, 7))
    y = x + 0.01 * torch.randn(x.shape, generator=torch.Generator().manual_seed(1))
    inline = {name: m.accumulator().update(y, x).value().item() for name, m in metrics.items()}
    with MetricPool(1) as pool:
        accumulators = {name: m.accumulator().update(y, x) for name, m in metrics.items()}
        for acc in accumulators.values():
            acc.submit(pool)
        pooled = {name: acc.value().item() for name, acc in accumulators.items()}
    assert pooled == inline  # identical, not close (a lambda that did not pickle gave NaN here)
    assert all(v == v for v in inline.values())


def test_a_computation_the_pool_cannot_take_raises_instead_of_giving_nan():
    acc = WholeSignal(lambda y, x: 0.0).update(torch.ones(10), torch.ones(10))
    with MetricPool(1) as pool:
        acc.submit(pool)
        with pytest.raises((pickle.PicklingError, AttributeError)):
            acc.value()
