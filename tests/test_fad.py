"""FAD, the set metric: the Fréchet distance equals the float64 scipy computation FAD implementations use, a set
with itself is 0, its CI and verdict follow the files; an evaluation reports it per variant from a real (tiny)
CLAP loaded like the VAE, and without the model a run fails in seconds saying how to get it."""

import json
import time

import numpy as np
import pytest
import soundfile as sf
import torch
from omegaconf import OmegaConf

from audiovae.errors import ConfigError, ModelUnavailableError
from audiovae.metrics.fad import extrapolated_fad, frechet_distance, summarize_fad
from audiovae.metrics.kad import kernel_distance, median_pairwise_distance
from tests.conftest import evaluate_folder, write_three_clips
from tests.metric_references import frechet_distance_scipy
from tests.wandb_offline import read_offline_run

SHAPES = [(50, 60, 8), (40, 40, 16), (6, 5, 16), (12, 10, 64), (300, 300, 16)]  # files vs dimensions both ways


@pytest.mark.parametrize("n,m,dim", SHAPES)
def test_frechet_distance_equals_the_scipy_computation(n, m, dim):
    rng = np.random.default_rng(n + m + dim)
    a = rng.normal(size=(n, dim))
    b = (rng.normal(loc=0.3, scale=1.2, size=(m, dim)) @ rng.normal(size=(dim, dim))) * 0.5
    assert frechet_distance(a, b) == pytest.approx(frechet_distance_scipy(a, b), rel=1e-8)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-9)
    assert frechet_distance(a, a + 0.25) == pytest.approx(0.25**2 * dim, rel=1e-9)  # a shifted copy: ‖Δμ‖²


def test_fad_ci_contains_the_estimate_and_the_verdict_follows_the_sets():
    rng = np.random.default_rng(0)
    reference = rng.normal(size=(60, 8))
    sets = {
        "reference": reference,
        "vocoder": reference + 0.01 * rng.normal(size=reference.shape),
        "base": reference + 1.0 * rng.normal(size=reference.shape),
        "enhanced": reference + 0.2 * rng.normal(size=reference.shape),
    }
    out = summarize_fad(sets, n_boot=200, seed=0, alpha=0.05)
    for variant, stats in out["variants"].items():
        assert stats["ci"][0] <= stats["value"] <= stats["ci"][1], variant
    assert out["delta"]["value"] < 0 and out["delta"]["ci"][1] < 0 and out["delta"]["enhanced_vs_base"] == "lower"
    same = summarize_fad({**sets, "enhanced": sets["base"]}, n_boot=50, seed=0, alpha=0.05)
    assert same["delta"]["value"] == 0 and same["delta"]["enhanced_vs_base"] == "not distinguishable"
    assert np.isnan(summarize_fad({k: v[:1] for k, v in sets.items()}, 10, 0, 0.05)["variants"]["base"]["value"])


@pytest.fixture(scope="module")
def fad_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("fad")
    clips = write_three_clips(root / "clips")
    out = root / "out"
    evaluate_folder(
        clips,
        out,
        "model=tiny",
        "embedding=tiny_clap",
        "metrics.names=[snr,fad,fad_inf,kad]",
        "metrics.bootstrap_samples=50",
        "metrics.fad_bootstrap_samples=50",
        "outputs.save_plots=false",
        "logger.mode=offline",
    )
    return out


def test_an_evaluation_reports_fad_per_variant_from_its_embeddings(fad_run):
    summary = json.loads((fad_run / "summary.json").read_text())
    fad = summary["sets"]["fad"]
    assert fad["n_files"] == 3 and fad["embedding"].startswith("tiny_clap")
    saved = np.load(fad_run / "embeddings.npz")
    assert list(saved["files"]) == ["a_tone.wav", "b_chirp.wav", "c_noisy.wav"]
    for variant in ("vocoder", "base", "enhanced"):
        expected = frechet_distance_scipy(saved["reference"].astype(np.float64), saved[variant].astype(np.float64))
        assert fad["variants"][variant]["value"] == pytest.approx(expected, rel=1e-6, abs=1e-9)
    assert fad["delta"]["value"] == pytest.approx(
        fad["variants"]["enhanced"]["value"] - fad["variants"]["base"]["value"]
    )
    assert "fad" not in summary["metrics"]  # not a per-file metric: no columns, no per-file verdict
    header = (fad_run / "results.csv").read_text().splitlines()[0]
    assert "snr" in header and "fad" not in header
    report = (fad_run / "report.md").read_text()
    assert "## Set metrics" in report and "| fad ↓ |" in report
    assert "Set metrics" in (fad_run / "report.html").read_text()
    logged = read_offline_run(next((fad_run / "wandb").glob("offline-run-*")))["summary"]
    assert logged["eval/base/fad"] == pytest.approx(fad["variants"]["base"]["value"])
    assert logged["eval/delta/fad"] == pytest.approx(fad["delta"]["value"])


def test_kad_and_fad_inf_are_reported_beside_fad_from_the_same_embeddings(fad_run):
    summary = json.loads((fad_run / "summary.json").read_text())
    saved = {k: v.astype(np.float64) for k, v in np.load(fad_run / "embeddings.npz").items() if k != "files"}
    kad, inf = summary["sets"]["kad"], summary["sets"]["fad_inf"]
    assert kad["bandwidth"] == pytest.approx(median_pairwise_distance(saved["reference"]), rel=1e-6)
    for variant in ("vocoder", "base", "enhanced"):
        expected = kernel_distance(saved["reference"], saved[variant], kad["bandwidth"])
        assert kad["variants"][variant]["value"] == pytest.approx(expected, rel=1e-4, abs=1e-9)
        fit = extrapolated_fad(saved["reference"], saved[variant], seed=OmegaConf.load(fad_run / "config.yaml").seed)
        assert inf["variants"][variant]["value"] == pytest.approx(fit["value"], rel=1e-4, abs=1e-9)
    report = (fad_run / "report.md").read_text()
    assert "| kad ↓ |" in report and "| fad_inf ↓ |" in report and "median pairwise distance" in report
    logged = read_offline_run(next((fad_run / "wandb").glob("offline-run-*")))["summary"]
    assert logged["eval/enhanced/kad"] == pytest.approx(kad["variants"]["enhanced"]["value"])


def test_a_files_embedding_is_the_clap_embedding_of_its_saved_audio(fad_run, audiovae_home):
    from audiovae.config import EvalConfig, compose
    from audiovae.models.embedding import load_embedder

    cfg = compose("eval", ["embedding=tiny_clap"], schema=EvalConfig)
    embedder = load_embedder(cfg.embedding)
    saved = np.load(fad_run / "embeddings.npz")
    for variant in ("reference", "enhanced"):
        wave = sf.read(str(fad_run / "audio" / f"a_tone.wav.{variant}.wav"), dtype="float32")[0]
        np.testing.assert_allclose(embedder.embed(torch.from_numpy(wave), 16000), saved[variant][0], atol=1e-5)


def test_a_resumed_run_keeps_the_embeddings_and_the_same_fad(fad_run):
    before_sets = json.loads((fad_run / "summary.json").read_text())["sets"]
    before = before_sets["fad"]
    clips = fad_run.parent / "clips"
    evaluate_folder(
        clips,
        fad_run,
        "model=tiny",
        "embedding=tiny_clap",
        "metrics.names=[snr,fad,fad_inf,kad]",
        "metrics.bootstrap_samples=50",
        "metrics.fad_bootstrap_samples=50",
        "outputs.save_plots=false",
        "logger.mode=offline",
    )
    after = json.loads((fad_run / "summary.json").read_text())
    assert after["run"]["resumed_files"] == 3
    assert after["sets"]["fad"]["variants"] == before["variants"]
    assert after["sets"]["kad"]["variants"] == before_sets["kad"]["variants"]


def test_without_the_embedding_model_offline_a_run_fails_in_seconds_saying_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    clips = write_three_clips(tmp_path / "clips")
    start = time.monotonic()
    with pytest.raises(ModelUnavailableError, match="huggingface-cli download laion/clap-htsat-unfused"):
        evaluate_folder(
            clips,
            tmp_path / "out",
            "model=tiny",
            "logger=none",
            "metrics.names=[snr,fad]",
            f"embedding.cache_dir={tmp_path / 'hub'}",
        )
    assert time.monotonic() - start < 30
    # without fad no embedding model is loaded, whatever embedding.* says
    evaluate_folder(
        clips,
        tmp_path / "plain",
        "model=tiny",
        "logger=none",
        "metrics.names=[snr]",
        "metrics.bootstrap_samples=20",
        "outputs.save_audio=false",
        "outputs.save_plots=false",
        "embedding.path=/nowhere",
    )
    assert "sets" not in json.loads((tmp_path / "plain" / "summary.json").read_text())


def test_a_sweep_cannot_select_on_a_set_metric(tmp_path):
    clips = write_three_clips(tmp_path / "clips")
    with pytest.raises(ConfigError, match="'fad' is a set metric"):
        evaluate_folder(
            clips,
            tmp_path / "out",
            "model=tiny",
            "logger=none",
            "metrics.names=[snr,lsd_hf,fad]",
            "embedding=tiny_clap",
            "sweep.enhancement.gain=[1.0,1.2]",
            "select.metric=fad",
        )
