"""Protocols (configs/protocol/). protocol=dac: each column equals DAC's evaluate.py (descript-audio-codec 1.0.0,
audiotools 0.7.2) on seeded test pairs (tests/data/dac_protocol_references.json, written by
tests/reference_tools/dac_protocol.py from the tools' own code), and an evaluation under the protocol measures exactly
those columns, named as DAC names them in its report."""

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
import yaml

from audiovae.config import EvalConfig, compose
from audiovae.errors import ConfigError
from audiovae.metrics.registry import build_metric
from audiovae.reporting.records import read_csv
from audiovae.sections import resolve_sections
from tests.conftest import evaluate_folder, write
from tests.reference_tools import espnet_protocol
from tests.reference_tools.dac_protocol import CASES, RATE, pair

REFERENCES = json.loads((Path(__file__).parent / "data" / "dac_protocol_references.json").read_text())
PROTOCOL = compose("eval", ["model=demo", "protocol=dac"], schema=EvalConfig, validators=[resolve_sections]).protocol
CHEAP = [m for m in PROTOCOL.metrics if "visqol" not in m]


def ours(name: str, x: np.ndarray, y: np.ndarray, rate: int = RATE) -> float:
    """`name` on estimate y and reference x, fed in two chunks as a run feeds a file."""
    acc = build_metric(name, rate).accumulator()
    half = len(x) // 2
    acc.update(torch.from_numpy(y[:half]), torch.from_numpy(x[:half]))
    return acc.update(torch.from_numpy(y[half:]), torch.from_numpy(x[half:])).value().item()


@pytest.mark.parametrize("case", CASES)
def test_the_distances_and_si_sdr_equal_dacs_evaluate_py(case):
    x, y = pair(case)
    expected = REFERENCES["cases"][case]
    for name in CHEAP:
        assert ours(name, x, y) == pytest.approx(expected[PROTOCOL.columns[name]], rel=1e-4), name


def test_the_visqol_columns_equal_dacs_evaluate_py():
    x, y = pair("lowpass")
    expected = REFERENCES["cases"]["lowpass"]
    for name in [m for m in PROTOCOL.metrics if "visqol" in m]:
        assert ours(name, x, y) == pytest.approx(expected[PROTOCOL.columns[name]], rel=1e-4), name
    # DAC's script scores the reference against the reconstruction: not the `visqol` metric's order
    assert ours("visqol", x, y) != pytest.approx(expected["visqol-audio-44k"], rel=1e-3)


def test_dacs_si_sdr_is_reported_with_the_papers_sign():
    x, _ = pair("gain_noise")
    assert ours("dac_sisdr_44k", x, x.copy()) > 60  # the script negates its loss: identical signals score high


def test_protocol_audioldm_eval_measures_its_three_metrics_and_none_leaves_the_names():
    words = ["model=demo", "logger=none"]
    cfg = compose("eval", [*words, "protocol=audioldm_eval"], schema=EvalConfig, validators=[resolve_sections])
    assert list(cfg.metrics.names) == ["lsd_audioldm_eval", "psnr_audioldm_eval", "ssim_audioldm_eval"]
    assert cfg.metrics.lsd_audioldm_eval.offset == 1120  # the tool's setting, written in full
    plain = compose("eval", words, schema=EvalConfig, validators=[resolve_sections])
    assert plain.protocol.name == "none" and "lsd_hf" in plain.metrics.names


def test_a_protocol_keeps_its_metrics():
    with pytest.raises(ConfigError, match="metrics.names.*protocol=dac measures dac_mel_22k"):
        compose(
            "eval",
            ["model=demo", "protocol=dac", "metrics.names=[snr]"],
            schema=EvalConfig,
            validators=[resolve_sections],
        )
    more = compose(
        "eval",
        ["model=demo", "protocol=dac", f"metrics.names=[{','.join(PROTOCOL.metrics)},snr]"],
        schema=EvalConfig,
        validators=[resolve_sections],
    )
    assert list(more.metrics.names)[-1] == "snr"


@pytest.mark.slow
def test_an_evaluation_under_protocol_dac_gives_dacs_columns(tmp_path):
    """The run measures the protocol's columns on its reconstructions (each value is the metric on the saved
    reference and reconstruction), records the protocol and names DAC's columns and script in its report."""
    clips = tmp_path / "clips"
    clips.mkdir()
    write(clips / "a.wav", pair("lowpass")[0], RATE)
    words = ["model=demo", "logger=none", "protocol=dac", "outputs.save_plots=false", "outputs.listening_files=0"]
    run = evaluate_folder(clips, tmp_path / "run", *words).out_dir
    rows = read_csv(run / "results.csv")
    measured = {c.split("_", 1)[1] for c in rows[0] if c.startswith("base_dac_")}
    assert measured == set(PROTOCOL.metrics)
    reference, _ = sf.read(run / "audio" / "a.wav.reference.wav", dtype="float32")
    for variant in ("base", "enhanced"):
        estimate, _ = sf.read(run / "audio" / f"a.wav.{variant}.wav", dtype="float32")
        for name in ("dac_mel_44k", "dac_sisdr_22k", "dac_visqol_speech_44k"):
            assert rows[0][f"{variant}_{name}"] == pytest.approx(ours(name, reference, estimate), rel=1e-5), name
    assert yaml.safe_load((run / "config.yaml").read_text())["protocol"]["name"] == "dac"
    report = (run / "report.md").read_text()
    assert "descript-audio-codec 1.0.0 scripts/evaluate.py" in report and "dac_mel_44k = mel-44k" in report


ESPNET_REFERENCES = json.loads((Path(__file__).parent / "data" / "espnet_protocol_references.json").read_text())
ESPNET = compose("eval", ["model=demo", "protocol=espnet_codec"], schema=EvalConfig, validators=[resolve_sections])


@pytest.mark.parametrize("case", espnet_protocol.CASES)
def test_the_espnet_codec_columns_equal_versas_functions(case):
    """Each column of protocol=espnet_codec equals VERSA's own function on the same pair (mir_eval's SDR, ci_sdr,
    fast_bss_eval's SI-SDR, WORLD mel cepstra, pesq, pystoi, ViSQOL), at 16 kHz and, resampled, at 24 kHz."""
    x, y, rate = espnet_protocol.pair(case)
    expected = ESPNET_REFERENCES["cases"][case]
    protocol = ESPNET.protocol
    names = protocol.metrics if case == "lowpass" else [m for m in protocol.metrics if m != "visqol"]
    for name in names:
        assert ours(name, x, y, rate) == pytest.approx(expected[protocol.columns[name]], rel=1e-4), name


def test_versas_sdr_and_si_snr_differ_from_the_zero_mean_si_sdr_and_pesq_failures_score_zero():
    x, y, _ = espnet_protocol.pair("lowpass")
    # the distortion filter forgives the low-pass's phase: SDR far above SI-SNR, which does not remove the mean
    assert ours("espnet_sdr", x, y) > ours("espnet_si_snr", x, y) + 20
    assert ours("espnet_pesq", np.zeros_like(x), y) == 0.0  # VERSA writes 0.0 where PESQ fails
    assert np.isnan(ours("espnet_sdr", np.zeros_like(x), y))  # BSS Eval refuses a silent reference


def test_espnet_pesq_below_16_khz_and_mcd_without_world_are_refused_in_one_line(monkeypatch):
    with pytest.raises(ConfigError, match="espnet_pesq is defined from 16000 Hz.*runs at 8000 Hz"):
        build_metric("espnet_pesq", 8000)
    import audiovae.metrics.espnet as espnet

    monkeypatch.setattr(espnet, "find_spec", lambda name: None if name == "pysptk" else object())
    with pytest.raises(ConfigError, match=r"espnet_mcd needs pysptk .*pip install 'audiovae\[espnet\]'"):
        build_metric("espnet_mcd", RATE)


@pytest.mark.slow
def test_an_evaluation_under_protocol_espnet_codec_gives_versas_columns(tmp_path):
    clips = tmp_path / "clips"
    clips.mkdir()
    x, _, rate = espnet_protocol.pair("lowpass")
    write(clips / "a.wav", x, rate)
    words = ["model=demo", "logger=none", "protocol=espnet_codec", "outputs.save_plots=false"]
    run = evaluate_folder(clips, tmp_path / "run", *words, "outputs.listening_files=0").out_dir
    rows = read_csv(run / "results.csv")
    protocol = ESPNET.protocol
    assert {c.split("_", 1)[1] for c in rows[0] if c.startswith("base_")} >= set(protocol.metrics)
    reference, _ = sf.read(run / "audio" / "a.wav.reference.wav", dtype="float32")
    estimate, _ = sf.read(run / "audio" / "a.wav.enhanced.wav", dtype="float32")
    for name in ("espnet_mcd", "espnet_ci_sdr", "espnet_si_snr", "espnet_pesq"):
        assert rows[0][f"enhanced_{name}"] == pytest.approx(ours(name, reference, estimate, rate), rel=1e-5), name
    report = (run / "report.md").read_text()
    assert "VERSA" in report and "espnet_si_snr = si_snr" in report
