"""`trainer.*`: pytorch_lightning.Trainer's own arguments (`max_steps`, `accumulate_grad_batches`, `precision`,
…), checked against its signature; the ones a job sets itself are refused with the reason."""
import inspect
from typing import Iterable

from omegaconf import DictConfig, OmegaConf

from audiovae.errors import ConfigError


def trainer_args(trainer: DictConfig, owned: Iterable[str]) -> dict:
    """The `trainer` section as Trainer keyword arguments; ConfigError naming an unknown key or one the job sets
    (`owned`)."""
    import pytorch_lightning as pl

    accepted = set(inspect.signature(pl.Trainer.__init__).parameters) - {"self"}
    args, owned = OmegaConf.to_container(trainer, resolve=True), set(owned)
    for key in args:
        if key in owned:
            raise ConfigError(f"config key 'trainer.{key}': set by audiovae for this job, not configurable")
        if key not in accepted:
            raise ConfigError(f"config key 'trainer.{key}': not an argument of pytorch_lightning.Trainer")
    return args
