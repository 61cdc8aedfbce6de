"""A metric setting is defined once, by its metric's constructor: the configs mirror it, and evaluation, training
validation and compare read it from there."""

import dataclasses

from omegaconf import OmegaConf

from audiovae import compare
from audiovae.config import EvalConfig, compose
from audiovae.config.compose import CONFIG_DIR
from audiovae.config.ranges import RANGES
from audiovae.config.schema import MetricSettingsConfig, TrainConfig
from audiovae.enhancers import resolve_enhancement
from audiovae.evaluation.job import metric_settings
from audiovae.metrics.registry import METRICS, SETTINGS, build_metric


def test_every_setting_comes_from_a_constructor_and_the_configs_mirror_its_default():
    assert set(SETTINGS) == {
        "hf_cutoff_hz",
        "lsd_n_fft",
        "lsd_hop",
        "spectrum_n_fft",
        "spectrum_hop",
        "audioldm_eval_offset",
    }
    schema = {f.name: f.default for f in dataclasses.fields(MetricSettingsConfig)}
    eval_yaml = OmegaConf.load(CONFIG_DIR / "eval.yaml").metrics
    for key, default in SETTINGS.items():
        assert schema[key] == default and eval_yaml[key] == default, key
        assert default is None or f"metrics.{key}" in RANGES, key
    used = {key for spec in METRICS.values() for key in spec.from_settings.values()} - {"sample_rate"}
    assert used == set(SETTINGS)
    assert set(SETTINGS) <= set(compare.METRIC_DEFINITION)  # compare refuses runs whose settings differ


def test_evaluation_and_training_validation_build_the_same_metrics_from_the_same_keys(tmp_path):
    words = ["model=tiny", "metrics.hf_cutoff_hz=3000", "metrics.lsd_n_fft=1024", "metrics.lsd_hop=256"]
    ev = compose("eval", words, schema=EvalConfig, validators=[resolve_enhancement])
    tr = compose("train", words, schema=TrainConfig, validators=[resolve_enhancement])
    from audiovae.metrics.registry import settings_of
    from audiovae.models.factory import build_model, frontend_for
    from audiovae.training.losses import ReconstructionLoss
    from audiovae.training.module import TrainModule

    model = build_model(tr.model, tr.enhancement, tr.frontend)
    module = TrainModule(
        frontend_for(tr.frontend, model),
        model,
        ReconstructionLoss(**tr.loss),
        tr.trainable,
        tr.optim,
        ["lsd_hf"],
        tr.enhancement,
        10,
        metric_settings=settings_of(tr.metrics),
    )
    trained = module.val_metrics["enhanced"]["waveform"]["lsd_hf"].metric
    evaluated = build_metric("lsd_hf", **metric_settings(ev))
    assert (
        (trained.cutoff_hz, trained.n_fft, trained.hop)
        == (evaluated.cutoff_hz, evaluated.n_fft, evaluated.hop)
        == (3000, 1024, 256)
    )
