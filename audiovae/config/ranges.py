"""The allowed range of every numeric config key and the choices of every enumerated one, checked at start-up (one
line, exit 2, before any file is evaluated). Keys a job does not have are skipped. Every number anywhere in a config
(enhancer settings and sweep values included) must be finite; the keys that size memory have an upper bound
(`MEMORY_BOUNDS`, docs "Bad input and faults"), so no value can make a run take unbounded memory. A metric's own
settings (`metrics.<section>.*`) carry their ranges on its constructor (`audiovae.metrics.registry.check_section`).

>>> from omegaconf import OmegaConf
>>> check_ranges(OmegaConf.create({"data": {"batch_size": 0}}))
Traceback (most recent call last):
...
audiovae.errors.ConfigError: config key 'data.batch_size': must be in [1, 256], got 0
"""

import math

from omegaconf import DictConfig, OmegaConf

from audiovae.errors import ConfigError

INF = math.inf
# key -> (lowest, highest, lowest allowed itself, highest allowed itself); the keys of MEMORY_BOUNDS get their
# highest from it, below
RANGES = {
    "data.batch_size": (1, INF, True, True),
    "data.val_batch_size": (1, INF, True, True),
    "data.num_workers": (0, INF, True, True),
    "data.max_seconds": (0, INF, False, True),
    "data.chunk_overlap_seconds": (0, INF, True, True),
    "data.crop_seconds": (0, INF, False, True),
    "data.val_ratio": (0, 1, True, False),
    "data.silence_threshold_db": (-INF, 0, True, True),
    "metrics.bootstrap_samples": (1, INF, True, True),
    "metrics.hf_cutoff_hz": (0, INF, False, True),
    "metrics.tie_tolerance": (0, 1, True, False),
    "metrics.alpha": (0, 1, False, False),
    "outputs.max_plots": (0, INF, True, True),
    "outputs.report_files": (0, INF, True, True),
    "outputs.listening_files": (0, INF, True, True),
    "metrics.max_lag_samples": (0, INF, True, True),
    "metrics.align_samples": (-65536, 65536, True, True),
    "metrics.common_rate": (8000, 384000, True, True),
    "metrics.loudness_normalize": (-70, 0, False, True),  # BS.1770's absolute gate is -70 LUFS
    "metrics.fad_bootstrap_samples": (1, INF, True, True),
    "metrics.workers": (0, INF, True, True),
    "embedding.batch_size": (1, INF, True, True),
    "cache.max_gb": (0, INF, False, True),
    "logger.max_table_files": (0, INF, True, True),
    "seed": (0, 2**32 - 1, True, True),
    "generation.steps": (1, INF, True, True),
    "generation.guidance_scale": (0, 100, True, True),  # AudioLDM2 uses 3.5; far past 100 the latents overflow
    "generation.audio_length_s": (0, INF, False, True),
    "generation.waveforms_per_prompt": (1, INF, True, True),
    "optim.lr": (0, INF, False, True),
    "optim.weight_decay": (0, INF, True, True),
    "optim.warmup_steps": (0, INF, True, True),
    "optim.total_steps": (1, INF, True, True),
    "optim.min_lr_ratio": (0, 1, True, True),
    "trainer.max_steps": (1, INF, True, True),
    "trainer.max_epochs": (1, INF, True, True),
    "trainer.log_every_n_steps": (1, INF, True, True),
    "trainer.gradient_clip_val": (0, INF, False, True),
    "trainer.accumulate_grad_batches": (1, INF, True, True),
    "checkpoint.save_top_k": (-1, INF, True, True),
    "checkpoint.last_every_n_steps": (1, INF, True, True),
    "examples.every_n_val": (1, INF, True, True),
    "examples.count": (0, INF, True, True),
    "loss.mel_l1": (0, INF, True, True),
    "loss.mel_hf_l1": (0, INF, True, True),
    "loss.stft": (0, INF, True, True),
    "loss.kl": (0, INF, True, True),
    "loss.hf_band_weight": (0, INF, True, True),
    "loss.hf_cutoff_band": (0, INF, True, True),
    "trainer.num_nodes": (1, INF, True, True),
    "adversarial.weight": (0, INF, True, True),
    "adversarial.feature_matching": (0, INF, True, True),
    "adversarial.start_step": (0, INF, True, True),
    "adversarial.channels": (1, INF, True, True),
    "adversarial.optim.lr": (0, INF, False, True),
    "adversarial.optim.weight_decay": (0, INF, True, True),
    "adversarial.optim.warmup_steps": (0, INF, True, True),
    "adversarial.optim.total_steps": (1, INF, True, True),
    "adversarial.optim.min_lr_ratio": (0, 1, True, True),
    "ema.decay": (0, 1, True, False),
    "ema.every_n_steps": (1, INF, True, True),
    "ema.start_step": (0, INF, True, True),
    "frontend.sample_rate": (1, INF, True, True),
    "frontend.n_fft": (2, INF, True, True),
    "frontend.win_length": (1, INF, True, True),
    "frontend.hop_length": (1, INF, True, True),
    "frontend.n_mels": (1, INF, True, True),
    "frontend.fmin": (0, INF, True, True),
    "frontend.fmax": (0, INF, False, True),
    "frontend.clamp_min": (0, INF, False, True),
}
# upper bounds of the keys that size memory (docs "Bad input and faults"): a value past them is refused
MEMORY_BOUNDS = {
    "data.max_seconds": 60.0,  # one segment: the VAE's activations grow with it (demo: 1.2 GB at 60 s, 7.1 at 3600)
    "data.crop_seconds": 60.0,
    "data.batch_size": 256,
    "data.val_batch_size": 256,
    "embedding.batch_size": 256,
    "data.num_workers": 64,
    "metrics.max_lag_samples": 65536,  # the lag search keeps 2N+1 sums and correlates N-sample tails
    "metrics.bootstrap_samples": 100000,
    "metrics.fad_bootstrap_samples": 10000,
    "metrics.workers": 256,
    "frontend.sample_rate": 384000,
    "frontend.n_fft": 65536,
    "frontend.win_length": 65536,
    "frontend.hop_length": 65536,
    "frontend.n_mels": 1024,
    "adversarial.channels": 1024,
    "examples.count": 1024,
    "generation.audio_length_s": 600.0,  # the latent, the vocoder's output and every decode grow with it
    "generation.waveforms_per_prompt": 64,  # candidates of one diffusion, held together
    "generation.steps": 10000,
}
for _key, _high in MEMORY_BOUNDS.items():
    _low, _, _low_in, _ = RANGES[_key]
    RANGES[_key] = (_low, _high, _low_in, True)
# (model.options and optim.schedule are checked where they are used, also at start-up)
CHOICES = {
    "metrics.p_adjust": ("holm", "bh", "none"),
    "logger.mode": ("offline", "online", "disabled"),
    "checkpoint.mode": ("min", "max"),
    "data.channels": ("mix", "first", "model"),
    "data.resampler": ("soxr_hq", "audioldm2"),
    "data.pad": ("silence", "repeat", "log_mel_zeros"),
    "metrics.align": ("fixed", "vocoder_lag"),
    "model.vae_precision": ("fp32", "bf16"),
    "adversarial.discriminator": ("none", "mel", "stft"),
    "adversarial.loss": ("lsgan", "hinge"),
    "frontend.framing": ("training_repo", "audioldm2"),
}


def _bound(low: float, high: float, low_in: bool, high_in: bool) -> str:
    if high == INF:
        return f"must be {'>=' if low_in else '>'} {low:g}"
    if low == -INF:
        return f"must be {'<=' if high_in else '<'} {high:g}"
    return f"must be in {'[' if low_in else '('}{low:g}, {high:g}{']' if high_in else ')'}"


UNTYPED = ("enhancement", "sweep", "trainer")  # sections whose values are typed later: "nan" is still a string there


def _non_finite(value, untyped: bool) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if untyped and isinstance(value, str):
        try:
            return not math.isfinite(float(value))
        except ValueError:
            return False
    return False


def non_finite_key(node, where: str = "") -> str:
    """The dotted key of the first NaN or infinite number in `node` (a container), or "" (in the untyped sections,
    strings such as "nan" or "inf", which become numbers once typed, count too).

    >>> non_finite_key({"enhancement": {"gain": "nan"}, "logger": {"name": "nan"}, "seed": 0})
    'enhancement.gain'
    """
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, value in items:
        path = f"{where}.{key}" if where else str(key)
        if _non_finite(value, path.split(".")[0] in UNTYPED):
            return path
        if isinstance(value, (dict, list)) and (found := non_finite_key(value, path)):
            return found
    return ""


def check_ranges(cfg: DictConfig) -> None:
    """ConfigError naming the first key that is not finite, outside its range or not one of its choices (null
    values are left to their key's own meaning)."""
    bad = non_finite_key(OmegaConf.to_container(cfg, resolve=True))
    if bad:
        raise ConfigError(f"config key '{bad}': must be a finite number, got {OmegaConf.select(cfg, bad)}")
    for key, (low, high, low_in, high_in) in RANGES.items():
        value = OmegaConf.select(cfg, key, default=None)
        if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        if not ((low < value or (low_in and value == low)) and (value < high or (high_in and value == high))):
            raise ConfigError(f"config key '{key}': {_bound(low, high, low_in, high_in)}, got {value}")
    for key, choices in CHOICES.items():
        value = OmegaConf.select(cfg, key, default=None)
        if value is not None and value not in choices:
            raise ConfigError(f"config key '{key}': must be one of {', '.join(choices)}, got {value!r}")
    for key, (low, high) in LIST_RANGES.items():
        for i, value in enumerate(OmegaConf.select(cfg, key, default=None) or []):
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ConfigError(f"config key '{key}[{i}]': must be a whole number in [{low}, {high}], got {value!r}")
    check_consistency(cfg)


LIST_RANGES = {"seeds": (0, 2**63 - 1)}  # each item of a list key (torch seeds a generator with a signed 64-bit int)


def _get(cfg: DictConfig, key: str):
    value = OmegaConf.select(cfg, key, default=None)
    return None if isinstance(value, bool) or not isinstance(value, (int, float)) else value


# keys whose range depends on another: (key, other key, how `key` compares with `factor` · other, in words)
RELATIONS = (
    ("frontend.fmax", "frontend.sample_rate", "<=", 0.5, "frontend.sample_rate / 2"),
    ("frontend.fmin", "frontend.fmax", "<", 1, "frontend.fmax"),
    ("frontend.win_length", "frontend.n_fft", "<=", 1, "frontend.n_fft"),
    ("frontend.hop_length", "frontend.win_length", "<=", 1, "frontend.win_length"),
    ("frontend.n_mels", "frontend.n_fft", "<=", 0.5, "frontend.n_fft / 2"),
    ("metrics.hf_cutoff_hz", "frontend.sample_rate", "<", 0.5, "frontend.sample_rate / 2"),
)


def check_consistency(cfg: DictConfig) -> None:
    """ConfigError naming the first key whose value does not fit another's (a mel band above the Nyquist frequency,
    a window longer than its FFT, ...): each alone is in range, together they describe nothing.

    >>> check_consistency(OmegaConf.create({"frontend": {"sample_rate": 16000, "fmax": 9000}}))
    Traceback (most recent call last):
    ...
    audiovae.errors.ConfigError: config key 'frontend.fmax': must be <= frontend.sample_rate / 2 = 8000, got 9000
    """
    compare = {"<": lambda a, b: a < b, "<=": lambda a, b: a <= b}
    for key, other, relation, factor, words in RELATIONS:
        value, limit = _get(cfg, key), _get(cfg, other)
        if value is not None and limit is not None and not compare[relation](value, factor * limit):
            raise ConfigError(f"config key '{key}': must be {relation} {words} = {factor * limit:g}, got {value:g}")
