"""Experiment tracking (Weights & Biases through Lightning's WandbLogger)."""
from audiovae.tracking.wandb_logger import make_wandb_logger

__all__ = ["make_wandb_logger"]
