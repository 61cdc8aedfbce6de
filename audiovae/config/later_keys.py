"""Keys added after runs were written, with the value those runs behaved as: a saved `config.yaml` of an older
version still composes (`evaluate.py --config old/config.yaml` reproduces it) and `compare` reads it. A group
file's whole section (`embedding`) stands for a section added later."""

from pathlib import Path

from omegaconf import DictConfig, OmegaConf

LATER_KEYS = {
    "model": {"vae_precision": "fp32"},
    "frontend": {"framing": "training_repo"},
    "data": {
        "channels": "mix",
        "resampler": "soxr_hq",
        "pad": "silence",
        "pre_encode": False,
        "source": None,
        "manifest": None,
        "dataset_root": None,
        "shards": None,
    },
    "metrics": {
        "max_lag_samples": 0,
        "align": "fixed",
        "align_samples": 0,
        "fad_bootstrap_samples": 200,
    },
    "outputs": {"listening_files": 20},
    "cache": {"enabled": True, "dir": None, "max_gb": 20.0},
    "adversarial": {
        "discriminator": "none",
        "loss": "lsgan",
        "weight": 1.0,
        "feature_matching": 2.0,
        "start_step": 0,
        "channels": 32,
        "optim": {
            "lr": 2.0e-4,
            "weight_decay": 0.0,
            "betas": [0.8, 0.99],
            "schedule": "constant",
            "warmup_steps": 0,
            "total_steps": None,
            "min_lr_ratio": 0.1,
        },
    },
    "checkpoint": {"last_every_n_steps": None},
    "ema": {"enabled": False, "decay": 0.999, "every_n_steps": 1, "start_step": 0},
}
LATER_GROUPS = {"embedding": "clap"}  # sections added later: their group file's values
MEL_OPTIONS = ("vocoder", "vocoder_subfolder", "griffin_lim_iters", "vocoder_precision")  # the mel family's
# keys that moved -> where they are now (one key may now be several): Lightning's own loop settings are `trainer.*`
# (the Trainer's argument names); a metric's settings are its own section's (`metrics.<section>.<argument>`)
MOVED = {
    **{
        f"loop.{key}": (f"trainer.{key}",)
        for key in (
            "max_steps",
            "max_epochs",
            "val_check_interval",
            "check_val_every_n_epoch",
            "gradient_clip_val",
            "log_every_n_steps",
        )
    },
    "metrics.lsd_n_fft": ("metrics.lsd.n_fft",),
    "metrics.lsd_hop": ("metrics.lsd.hop",),
    "metrics.spectrum_n_fft": (
        "metrics.hf_retention.n_fft",
        "metrics.spectral_correlation.n_fft",
        "metrics.spectrum.n_fft",
    ),
    "metrics.spectrum_hop": ("metrics.hf_retention.hop", "metrics.spectral_correlation.hop", "metrics.spectrum.hop"),
    "metrics.audioldm_eval_offset": ("metrics.lsd_audioldm_eval.offset",),
    **{f"model.{key}": (f"model.options.{key}",) for key in MEL_OPTIONS},
}


def check_not_moved(key: str) -> None:
    """ConfigError naming the new key(s) when a command line uses a moved one."""
    from audiovae.errors import ConfigError

    if key in MOVED:
        now = MOVED[key]
        where = {"trainer": "an argument of Lightning's Trainer", "model": "the mel family's own option"}.get(
            now[0].split(".")[0], "a metric's own setting"
        )
        raise ConfigError(
            f"config key '{key}' is now {' and '.join(repr(k) for k in now)} ({where}): write {now[0]}=..."
        )


def migrate_moved(body: DictConfig) -> None:
    """A saved config's moved keys, put where they are now (in place; a key set there already wins)."""
    for old, new in MOVED.items():
        section, key = old.rsplit(".", 1)
        node = OmegaConf.select(body, section, default=None)
        if not isinstance(node, DictConfig) or key not in node:
            continue
        value = node.pop(key)
        for target in new if value is not None else ():  # null: the key did not apply (another family's)
            if OmegaConf.select(body, target, default=None) is None:
                OmegaConf.update(body, target, value, force_add=True)


def later_layer(schema_cfg: DictConfig, config_dir: Path) -> DictConfig:
    """The LATER_KEYS (and LATER_GROUPS files) that `schema_cfg`'s sections have, as one layer under a saved
    config."""
    layer = {}
    for section, keys in LATER_KEYS.items():
        if section in schema_cfg.keys():
            layer[section] = {k: v for k, v in keys.items() if k in schema_cfg[section].keys()}  # MISSING too
    for group, name in LATER_GROUPS.items():
        if group in schema_cfg.keys():
            layer[group] = OmegaConf.to_container(OmegaConf.load(config_dir / group / f"{name}.yaml"))
    return OmegaConf.create(layer)
