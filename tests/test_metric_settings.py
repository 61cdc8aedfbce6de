"""A metric owns its settings: its constructor's arguments are its config section (`metrics.<section>.<arg>`),
with their defaults, types and ranges; evaluation, training validation and compare read them from there, a plugin
metric's are checked and documented like a built-in's, and the older flat keys move to their sections."""

import json
import textwrap

import pytest
from omegaconf import OmegaConf

from audiovae import cli
from audiovae.config import EvalConfig, compose
from audiovae.config.schema import TrainConfig
from audiovae.errors import ConfigError
from audiovae.evaluation.job import build_metrics, measured_arguments
from audiovae.metrics.registry import METRICS, build_metric, section_defaults
from audiovae.metrics.table import own_arguments, sections
from audiovae.reference import render_metric_settings
from audiovae.sections import resolve_sections
from tests.conftest import tone, write


def test_every_section_is_its_metrics_constructor_arguments_and_is_documented():
    assert set(sections()) >= {"lsd", "hf_retention", "spectral_correlation", "spectrum", "lsd_audioldm_eval"}
    assert section_defaults("lsd") == {"n_fft": 2048, "hop": 512, "scaling": "raw"}  # LSD.__init__'s
    assert {METRICS[n].section for n in ("lsd", "lsd_hf", "lsd_lf")} == {"lsd"}
    assert section_defaults("lsd_audioldm_eval") == {"offset": 1120}
    for spec in METRICS.values():  # the run's arguments and the name's are never a section's
        assert not set(own_arguments(spec)) & {"sample_rate", "cutoff_hz", "name", *spec.fixed}
    page = render_metric_settings()
    for section in sections():
        for argument in section_defaults(section):
            assert f"| `metrics.{section}.{argument}` |" in page, (section, argument)
    assert "| `metrics.lsd.n_fft` | int | `2048` | [2, 65536] | lsd, lsd_hf, lsd_lf |" in page


def test_evaluation_and_training_validation_build_the_same_metrics_from_the_same_keys():
    words = ["model=tiny", "metrics.hf_cutoff_hz=3000", "metrics.lsd.n_fft=1024", "metrics.lsd.hop=256"]
    words.append("metrics.lsd.scaling=low_band_energy")
    ev = compose("eval", [*words, "metrics.names=[lsd_hf]"], schema=EvalConfig, validators=[resolve_sections])
    tr = compose("train", words, schema=TrainConfig, validators=[resolve_sections])
    full = {"n_fft": 1024, "hop": 256, "scaling": "low_band_energy"}
    assert ev.metrics.lsd == tr.metrics.lsd == full  # the saved config says them in full
    from audiovae.metrics.synced import build_metric_collection

    trained = build_metric_collection(["lsd_hf"], "waveform", tr.frontend.sample_rate, tr.metrics)["lsd_hf"].metric
    evaluated = build_metrics(measured_arguments(ev))["lsd_hf"]
    assert (trained.cutoff_hz, trained.n_fft, trained.hop) == (evaluated.cutoff_hz, evaluated.n_fft, evaluated.hop)
    assert (evaluated.cutoff_hz, evaluated.n_fft, evaluated.hop) == (3000, 1024, 256)
    assert trained.scaling == evaluated.scaling == "low_band_energy"


@pytest.mark.parametrize(
    "word, message",
    [
        (
            "metrics.lsd.n_fft=abc",
            "config key 'metrics.lsd.n_fft': the metric lsd takes a whole number here, got 'abc'",
        ),
        (
            "metrics.lsd.n_fft=1024.5",
            "config key 'metrics.lsd.n_fft': the metric lsd takes a whole number here, got 1024.5",
        ),
        ("metrics.lsd.n_fft=1", "config key 'metrics.lsd.n_fft': must be in [2, 65536], got 1"),
        ("metrics.lsd.n_fft=1048576", "config key 'metrics.lsd.n_fft': must be in [2, 65536], got 1048576"),
        ("metrics.lsd.hop=4096", "config key 'metrics.lsd.hop': must be <= n_fft = 2048, got 4096"),
        (
            "metrics.lsd.window=4",
            "config key 'metrics.lsd.window': the metrics lsd, lsd_hf, lsd_lf take n_fft, hop, scaling",
        ),
        (
            "metrics.lsd.scaling=peak",
            "config key 'metrics.lsd.scaling': the metric lsd takes one of raw, low_band_energy here, got 'peak'",
        ),
        ("metrics.lsd_hf.n_fft=1024", "config key 'metrics.lsd_hf': neither a metrics key nor a metric's settings"),
        (
            "metrics.hf_retention.power=maybe",
            "config key 'metrics.hf_retention.power': the metric hf_retention takes true or false here",
        ),
        ("metrics.lsd_n_fft=1024", "config key 'metrics.lsd_n_fft' is now 'metrics.lsd.n_fft'"),
        (
            "metrics.spectrum_n_fft=1024",
            "config key 'metrics.spectrum_n_fft' is now 'metrics.hf_retention.n_fft' and "
            "'metrics.spectral_correlation.n_fft' and 'metrics.spectrum.n_fft'",
        ),
    ],
)
def test_a_bad_setting_is_one_line_naming_its_key(word, message, tmp_path, capsys):
    assert cli.main("eval", ["model=tiny", "logger=none", f"out_dir={tmp_path / 'out'}", word]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err
    assert not (tmp_path / "out").exists()


PLUGIN = '''
from typing import Annotated

import torch

from audiovae.config.keywords import Range
from audiovae.metrics.base import HIGHER, PerItemMetric
from audiovae.metrics.functional.items import Accumulator
from audiovae.metrics.registry import register_metric


class PeakSums(Accumulator):
    def __init__(self, frames):
        self.frames, self.peaks = frames, []

    def update(self, y, x):
        self.peaks.append(float(y.abs().max()) if y.numel() else 0.0)
        return self

    def value(self):
        top = sorted(self.peaks, reverse=True)[: self.frames]
        return torch.tensor(sum(top) / max(len(top), 1), dtype=torch.float64)


class LoudestChunks(PerItemMetric):
    """The mean of the `frames` largest chunk peaks of the estimate."""

    name, direction, unit = "loudest_chunks", HIGHER, ""
    nan_reason = "never undefined"

    def __init__(self, frames: Annotated[int, Range(1, 64)] = 2, **kwargs):
        super().__init__(**kwargs)
        self.frames = frames

    def accumulator(self):
        return PeakSums(self.frames)


register_metric("loudest_chunks", LoudestChunks)
'''


def test_a_plugin_metric_owns_a_setting_checked_and_documented_like_a_builtin(tmp_path, capsys, monkeypatch):
    """The worked change: a new metric with a new setting is one plugin file (a built-in: one family file)."""
    plugin = tmp_path / "loudest.py"
    plugin.write_text(textwrap.dedent(PLUGIN))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(__import__("sys").modules, "loudest", raising=False)
    write(tmp_path / "clips" / "a.wav", tone(440, 1.0, 16000), 16000)
    base = [
        "model=tiny",
        "logger=none",
        f"plugins=[{plugin}]",
        f"data.dir={tmp_path / 'clips'}",
        "metrics.names=[snr,loudest_chunks]",
        "outputs.save_audio=false",
        "outputs.save_plots=false",
    ]
    assert cli.main("eval", [*base, "metrics.loudest_chunks.frames=0", f"out_dir={tmp_path / 'no'}"]) == 2
    assert "config key 'metrics.loudest_chunks.frames': must be in [1, 64], got 0" in capsys.readouterr().err
    assert cli.main("eval", [*base, "metrics.loudest_chunks.frames=two", f"out_dir={tmp_path / 'no'}"]) == 2
    assert "'metrics.loudest_chunks.frames': the metric loudest_chunks takes a whole number here, got 'two'" in (
        capsys.readouterr().err
    )
    assert cli.main("eval", [*base, "metrics.loudest_chunks.frame=2", f"out_dir={tmp_path / 'no'}"]) == 2
    assert "the metric loudest_chunks takes frames" in capsys.readouterr().err
    assert cli.main("eval", [*base, "metrics.loudest_chunks.frames=3", f"out_dir={tmp_path / 'run'}"]) == 0
    saved = OmegaConf.load(tmp_path / "run" / "config.yaml")
    assert saved.metrics.loudest_chunks == {"frames": 3}  # the saved config says the setting
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert "loudest_chunks" in summary["metrics"]
    assert "| `metrics.loudest_chunks.frames` | int | `2` | [1, 64] | loudest_chunks |" in render_metric_settings()
    METRICS.pop("loudest_chunks")


def test_a_section_of_metrics_that_disagree_on_a_default_is_refused():
    from audiovae.metrics.registry import register_metric
    from audiovae.metrics.waveform import LSD

    class CoarseLSD(LSD):
        def __init__(self, sample_rate: int, n_fft: int = 512, hop: int = 128, **kwargs):
            super().__init__(sample_rate, n_fft, hop, **kwargs)

    with pytest.raises(ConfigError, match="metric section 'lsd': CoarseLSD defaults n_fft to 512, LSD to 2048"):
        register_metric("coarse_lsd", CoarseLSD, "lsd")
    assert "coarse_lsd" not in METRICS


def test_build_metric_takes_a_config_section_or_nothing():
    assert build_metric("lsd_lf", 16000).n_fft == 2048
    metric = build_metric("hf_retention", 16000, {"hf_cutoff_hz": 5000, "hf_retention": {"n_fft": 512, "hop": 128}})
    assert (metric.cutoff_hz, metric.n_fft, metric.hop, metric.power) == (5000, 512, 128, False)
