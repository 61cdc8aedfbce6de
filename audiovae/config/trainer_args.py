"""`trainer.*`: pytorch_lightning.Trainer's own arguments (`max_steps`, `accumulate_grad_batches`, `precision`,
…), checked against its signature; the ones a job sets itself are refused with the reason."""

import inspect
from typing import Iterable

from omegaconf import DictConfig, OmegaConf

from audiovae.errors import ConfigError

PRECISIONS = (
    "32-true",
    "32",
    32,
    "64-true",
    "64",
    64,
    "16-mixed",
    "16",
    16,
    "bf16-mixed",
    "bf16",
    "16-true",
    "bf16-true",
    "transformer-engine",
    "transformer-engine-float16",
)  # what Lightning's Trainer accepts


def trainer_args(trainer: DictConfig, owned: Iterable[str]) -> dict:
    """The `trainer` section as Trainer keyword arguments; ConfigError naming an unknown key, one the job sets
    (`owned`) or a precision Lightning does not know."""
    import pytorch_lightning as pl

    accepted = set(inspect.signature(pl.Trainer.__init__).parameters) - {"self"}
    args, owned = OmegaConf.to_container(trainer, resolve=True), set(owned)
    for key in args:
        if key in owned:
            raise ConfigError(f"config key 'trainer.{key}': set by audiovae for this job, not configurable")
        if key not in accepted:
            raise ConfigError(f"config key 'trainer.{key}': not an argument of pytorch_lightning.Trainer")
    if "precision" in args and args["precision"] not in PRECISIONS:
        raise ConfigError(
            f"config key 'trainer.precision': must be one of {', '.join(map(str, PRECISIONS[::3]))} "
            f"(or another of Lightning's), got {args['precision']!r}"
        )
    return args


def build_trainer(**kwargs):
    """`pytorch_lightning.Trainer(**kwargs)`; a value Lightning refuses (devices=-3, an unknown strategy) is a
    ConfigError in one line instead of a traceback."""
    import pytorch_lightning as pl

    try:
        return pl.Trainer(**kwargs)
    except (ValueError, TypeError, RuntimeError) as err:  # MisconfigurationException is a ValueError
        raise ConfigError(f"config key 'trainer': {' '.join(str(err).split())}") from None
