"""An exponential moving average of the trained weights, by Lightning's `EMAWeightAveraging` callback restricted
to the trained parts (the frozen VAE and vocoder are neither copied nor averaged):

    ema ← decay · ema + (1 − decay) · θ    after every `every_n_steps`-th optimizer step from `start_step` on
    (the first update copies θ)

Validation runs with the average swapped in (so the monitored checkpoint is chosen by it); checkpoints keep the
raw weights in `state_dict` (a resumed run continues them exactly) and the average under `EMA_KEY` in the
same names, which export takes instead of the raw weights. The raw weights stay in the module after training.
"""

from typing import Any

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks.weight_averaging import EMAWeightAveraging
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from audiovae.training.export import EMA_KEY  # checkpoint key: trained parameter name -> averaged value

EMA_COUNT_KEY = "audiovae_ema_updates"


def _trained(pl_module: pl.LightningModule) -> nn.ModuleList:
    return nn.ModuleList(pl_module.trained.values())


def _trained_names(pl_module: pl.LightningModule) -> list[str]:
    """The trained parameters' names in the module's state_dict (`model.<part>.<name>`), in parameter order."""
    return [
        f"model.{part}.{name}" for part, module in pl_module.trained.items() for name, _ in module.named_parameters()
    ]


class TrainedWeightsEMA(EMAWeightAveraging):
    """Lightning's EMA weight averaging of the trained parameters only (not the frozen ones), from a step on."""

    def __init__(self, decay: float, every_n_steps: int = 1, start_step: int = 0):
        super().__init__(
            use_buffers=False, decay=decay, update_every_n_steps=every_n_steps, update_starting_at_step=start_step
        )
        self._kwargs = {"multi_avg_fn": get_ema_multi_avg_fn(decay)}  # (one fused update over all tensors)

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if stage == "fit":
            self._average_model = AveragedModel(_trained(pl_module), use_buffers=False, **self._kwargs)

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        step_idx = trainer.global_step - 1
        if trainer.global_step > self._latest_update_step and self.should_update(step_idx=step_idx):
            self._average_model.update_parameters(_trained(pl_module))
            self._latest_update_step = trainer.global_step

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Updates are per step only."""

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """The raw weights stay in the module (the final checkpoint resumes them); export takes the average."""

    def _pairs(self, pl_module: pl.LightningModule):
        return zip(self._average_model.module.parameters(), _trained(pl_module).parameters())

    def _swap_models(self, pl_module: pl.LightningModule) -> None:
        if self._average_model is None or int(self._average_model.n_averaged) == 0:
            return  # nothing averaged yet: validation sees the raw weights
        for average, current in self._pairs(pl_module):
            tmp = average.data.clone()
            average.data.copy_(current.data)
            current.data.copy_(tmp)

    def averaged_state(self, pl_module: pl.LightningModule) -> dict[str, torch.Tensor]:
        """Trained parameter name (`model.<part>.<name>`, as in the module's state_dict) -> its average."""
        return {
            name: p.detach().clone()
            for name, p in zip(_trained_names(pl_module), self._average_model.module.parameters())
        }

    def on_save_checkpoint(self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict) -> None:
        if self._average_model is not None and int(self._average_model.n_averaged) > 0:
            checkpoint[EMA_KEY] = self.averaged_state(pl_module)
            checkpoint[EMA_COUNT_KEY] = int(self._average_model.n_averaged)

    def on_load_checkpoint(self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict) -> None:
        if self._average_model is None or EMA_KEY not in checkpoint:
            return  # (a checkpoint without an average: it starts at the next update)
        state = checkpoint[EMA_KEY]
        for name, average in zip(_trained_names(pl_module), self._average_model.module.parameters()):
            average.data.copy_(state[name])
        self._average_model.n_averaged.fill_(checkpoint[EMA_COUNT_KEY])
