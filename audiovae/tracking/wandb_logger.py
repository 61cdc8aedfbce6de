"""Build Lightning's WandbLogger from the `logger` config section."""
import os
from pathlib import Path
from typing import Optional

from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.loggers import WandbLogger


def make_wandb_logger(logger: DictConfig, run_config: DictConfig, out_dir: Path, job_type: str,
                      config_hash: str) -> Optional[WandbLogger]:
    """A WandbLogger whose run directory is `out_dir/wandb` and whose run config is the resolved config;
    None when `logger.enabled` is false. `WANDB_MODE` in the environment wins over `logger.mode`."""
    if not logger.enabled:
        return None
    os.environ.setdefault("WANDB_SILENT", "true")
    mode = os.environ.get("WANDB_MODE", logger.mode)
    config = OmegaConf.to_container(run_config, resolve=True)
    config["config_hash"] = config_hash
    return WandbLogger(project=logger.project, entity=logger.entity, group=logger.group, name=logger.name,
                       tags=list(logger.tags), mode=mode, save_dir=str(out_dir), job_type=job_type, config=config)
