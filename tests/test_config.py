import pytest
from omegaconf import OmegaConf

from audiovae.config import ConfigError, EvalConfig, compose, config_hash, save_config
from audiovae.sections import resolve_sections


def eval_cfg(*overrides):
    return compose("eval", list(overrides), schema=EvalConfig, validators=[resolve_sections])


def test_groups_are_chosen_by_name_and_keys_overridden():
    cfg = eval_cfg("model=tiny", "enhancement=mel_hf_shelf", "enhancement.gain=1.6", "data.dir=/x")
    assert cfg.model.name == "tiny"
    assert cfg.enhancement.name == "mel_hf_shelf" and cfg.enhancement.gain == 1.6
    assert cfg.data.dir == "/x"
    assert cfg.frontend.hop_length == 160


def test_default_model_is_the_real_audioldm2():
    assert eval_cfg().model.path == "cvssp/audioldm2"


@pytest.mark.parametrize(
    "override, key",
    [
        ("data.bogus=1", "data.bogus"),
        ("data.batch_size=abc", "data.batch_size"),
        ("enhancement.gian=2", "enhancement.gian"),
        ("enhancement.gain=loud", "enhancement.gain"),
        ("seed=1.5x", "seed"),
    ],
)
def test_unknown_key_or_wrong_type_fails_naming_the_key(override, key):
    with pytest.raises(ConfigError, match=f"'{key}'"):
        eval_cfg("model=tiny", override)


def test_unknown_group_choice_lists_the_choices():
    with pytest.raises(ConfigError, match=r"unknown model 'nope'.*tiny"):
        eval_cfg("model=nope")


def test_chain_stages_are_validated_and_overridable_by_index():
    cfg = eval_cfg("enhancement=fft_boost_and_shelf", "enhancement.stages.0.gain=1.8")
    assert cfg.enhancement.stages[0].gain == 1.8
    with pytest.raises(ConfigError, match="enhancement.stages.1.cutoff_band"):
        eval_cfg("enhancement=fft_boost_and_shelf", "enhancement.stages.1.cutoff_band=high")


def test_saved_config_recomposes_to_the_same_config_and_hash(tmp_path):
    cfg = eval_cfg("model=tiny", "enhancement.gain=1.7")
    path = save_config(cfg, tmp_path)
    again = compose(str(path), schema=EvalConfig, validators=[resolve_sections])
    assert OmegaConf.to_container(again) == OmegaConf.to_container(cfg)
    assert (tmp_path / "config_hash.txt").read_text().strip() == config_hash(cfg)


def test_saved_config_accepts_group_swaps_and_overrides(tmp_path):
    path = save_config(eval_cfg("model=tiny"), tmp_path)
    swapped = compose(
        str(path), ["enhancement=latent_laplacian", "seed=3"], schema=EvalConfig, validators=[resolve_sections]
    )
    assert swapped.enhancement.name == "latent_laplacian" and "cutoff" not in swapped.enhancement
    assert swapped.seed == 3


def test_hash_changes_with_values_not_with_key_order():
    a, b = eval_cfg("model=tiny"), eval_cfg("model=tiny", "enhancement.gain=1.5")
    assert config_hash(a) != config_hash(b)
    reordered = OmegaConf.create(dict(reversed(list(OmegaConf.to_container(a).items()))))
    assert config_hash(reordered) == config_hash(a)


def test_config_is_read_only():
    cfg = eval_cfg("model=tiny")
    with pytest.raises(Exception):
        cfg.seed = 5


def test_a_primary_can_extend_another_and_override_its_defaults_and_keys():
    demo = compose("eval_demo", schema=EvalConfig, validators=[resolve_sections])
    base = eval_cfg()
    assert demo.model.name == "demo" and base.model.name == "audioldm2"
    assert demo.data.max_seconds == 4.0 and demo.data.batch_size == base.data.batch_size
    assert list(demo.metrics.names) == list(base.metrics.names) and list(demo.logger.tags) == ["demo"]
    assert compose("eval_demo", ["model=audioldm2"], schema=EvalConfig).model.name == "audioldm2"


def test_a_saved_config_from_before_later_keys_still_composes_as_it_behaved(tmp_path):
    """`evaluate.py --config old/config.yaml`: keys added since (config/later_keys.py) take the value those runs
    behaved as; the keys it has are kept."""
    import yaml

    from audiovae.config import EvalConfig, compose
    from audiovae.config.later_keys import LATER_KEYS

    current = compose("eval", ["data.dir=/x", "frontend.framing=audioldm2"], schema=EvalConfig)
    old = yaml.safe_load(yaml.safe_dump(__import__("omegaconf").OmegaConf.to_container(current)))
    for section, keys in LATER_KEYS.items():
        for key in keys:
            if key != "framing":
                old.get(section, {}).pop(key, None)
    old.pop("embedding"), old.pop("cache")
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(old))
    cfg = compose(str(tmp_path / "config.yaml"), schema=EvalConfig)
    assert cfg.data.pad == "silence" and cfg.metrics.align == "fixed" and cfg.metrics.max_lag_samples == 0
    assert cfg.model.options.vocoder == "hifigan" and cfg.embedding.name == "clap" and cfg.cache.enabled
    assert cfg.frontend.framing == "audioldm2"  # what the saved config says wins
