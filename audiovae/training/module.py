"""LightningModule that fine-tunes the enhancement; the VAE and vocoder stay frozen unless configured."""
import math
from typing import Any, Sequence

import pytorch_lightning as pl
import torch
from omegaconf import DictConfig, OmegaConf
from torch import nn

from audiovae.audio.frontend import MelFrontEnd
from audiovae.errors import ConfigError, NonFiniteLossError
from audiovae.metrics.base import MEL
from audiovae.metrics.registry import METRIC_NAMES, build_metric_collection
from audiovae.metrics.scoring import scoring
from audiovae.reporting.records import FROM_TARGET
from audiovae.models.enhanced_vae import EnhancedVAE
from audiovae.pipeline import PipelineOutputs, ReconstructionPipeline
from audiovae.training.export import CHECKPOINT_KEY
from audiovae.training.losses import ReconstructionLoss

ENHANCED = "enhanced"  # the name of the trained enhancer's outputs in the pipeline's results


def target_distances(values: dict) -> dict:
    """`val/<variant>/<m>_from_target` (dB) for each target metric among `values` (`val/<variant>/<m>`)."""
    out = {}
    for key, value in values.items():
        name = key.rsplit("/", 1)[-1]
        if name in METRIC_NAMES and scoring(name).is_target:
            out[f"{key}{FROM_TARGET}"] = torch.tensor(float(scoring(name).score(float(value))))
    return out


def validation_keys(val_metrics: Sequence[str]) -> dict[str, str]:
    """Every validation key this module logs -> the W&B summary its direction implies (min or max)."""
    out = {}
    for variant in ("base", "enhanced"):
        out[f"val/{variant}/loss"] = "min"
        for name in val_metrics:
            s = scoring(name)
            if s.is_target:
                out[f"val/{variant}/{name}{FROM_TARGET}"] = "min"
                out[f"val/{variant}/{name}"] = "last"
            else:
                out[f"val/{variant}/{name}"] = "max" if s.higher_is_better else "min"
    return out


def trainable_modules(model: EnhancedVAE, names: Sequence[str]) -> dict[str, nn.Module]:
    """`enhancer`, `vae.decoder`, … -> the submodules of the enhanced VAE to train."""
    out = {}
    for name in names:
        module = model
        for part in name.split("."):
            if not hasattr(module, part):
                raise ConfigError(f"config key 'trainable': '{name}' is not a part of the model (try enhancer, vae.decoder)")
            module = getattr(module, part)
        out[name] = module
    return out


def lr_lambda(schedule: str, warmup_steps: int, total_steps: int, min_lr_ratio: float):
    """Multiplier of the base rate at a step: linear warm-up, then cosine decay to min_lr_ratio (or constant)."""
    if schedule not in ("cosine", "constant"):
        raise ConfigError(f"config key 'optim.schedule': '{schedule}' is not cosine or constant")

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        if schedule == "constant":
            return 1.0
        progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
        return min_lr_ratio + (1 - min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))

    return factor


class TrainModule(pl.LightningModule):
    def __init__(self, frontend: MelFrontEnd, model: EnhancedVAE, loss: ReconstructionLoss, trainable: Sequence[str],
                 optim: DictConfig, val_metrics: Sequence[str], enhancement: DictConfig, total_steps: int):
        super().__init__()
        self.pipeline = ReconstructionPipeline(frontend, model)
        self.model, self.frontend, self.loss = model, frontend, loss
        self.model.requires_grad_(False)
        self.trained = trainable_modules(model, trainable)
        for module in self.trained.values():
            module.requires_grad_(True)
        encoder = (model.vae.encoder, model.vae.quant_conv)
        self.trains_encoder = any(p.requires_grad for part in encoder if part is not None for p in part.parameters())
        if not any(p.requires_grad for p in self.parameters()):
            raise ConfigError(f"config key 'trainable': nothing to train: {list(trainable)} has no parameters (enhancement "
                             f"'{enhancement.name}'); use enhancement=learnable_latent_filter or add vae.decoder")
        self.optim_cfg, self.total_steps = optim, total_steps
        lr_lambda(optim.schedule, optim.warmup_steps, total_steps, optim.min_lr_ratio)  # checked before any step
        self.enhancement = OmegaConf.to_container(enhancement)
        metric_args = dict(sample_rate=frontend.sample_rate)
        self.val_metrics = nn.ModuleDict({
            variant: nn.ModuleDict({domain: build_metric_collection(val_metrics, domain, f"val/{variant}/",
                                                                    **metric_args)
                                    for domain in ("waveform", MEL)})
            for variant in ("base", "enhanced")})
        self._val_loss = {variant: [0.0, 0] for variant in ("base", "enhanced")}  # Σ loss · clips, clips
        self.strict_loading = False  # checkpoints carry only the trained parameters

    def train(self, mode: bool = True):
        """Only the trained parts follow train/eval; frozen parts stay in eval mode (no dropout/norm updates)."""
        super().train(False)
        for module in self.trained.values():
            module.train(mode)
        self.training = mode
        return self

    def _encode(self, mel: torch.Tensor):
        """(latent, posterior): a posterior sample with gradients when the encoder trains (VAE training), else
        the frozen encoder's latent as in evaluation, and no posterior."""
        if not self.trains_encoder:
            with torch.no_grad():
                return self.model.encode(mel), None
        posterior = self.model.posterior(mel)
        return posterior.sample() * self.model.scaling_factor, posterior

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        waveform = batch["waveform"]
        with torch.no_grad():
            mel = self.frontend(waveform)
        latent, posterior = self._encode(mel)
        enhanced = self.model.decode(latent, enhanced=True)
        wave = self.model.vocode(enhanced, waveform.shape[-1]) if self.loss.needs_waveform else None
        total, terms = self.loss(enhanced, mel, wave, waveform, posterior)
        if not torch.isfinite(total):
            raise NonFiniteLossError(
                f"non-finite training loss {total.item()} at step {self.global_step} "
                f"({', '.join(f'{k}={v.item():.4g}' for k, v in terms.items())}); the run stops and keeps its last "
                f"good checkpoint: lower optim.lr or check the data")
        self.log("train/loss", total, prog_bar=True, logger=False)
        if self.global_step % self.trainer.log_every_n_steps == 0:
            self._to_logger({"train/loss": total, **{f"train/loss_{k}": v for k, v in terms.items()}})
        return total

    def _to_logger(self, values: dict) -> None:
        """Log `values` at the optimizer step at which they were measured (`global_step`: the weights after that
        many steps), so train losses, validation metrics, example tables and checkpoint names share one axis and
        the step-0 validation is at 0. Lightning's own logging would put validation one step back."""
        if self.logger is not None and not self.trainer.sanity_checking and self.trainer.is_global_zero:
            self.logger.log_metrics({k: float(v.detach()) if torch.is_tensor(v) else float(v)
                                     for k, v in values.items()}, step=self.global_step)

    def validation_step(self, batch: dict, batch_idx: int) -> PipelineOutputs:
        """Loss and metrics of the base and enhanced reconstructions; returns the pipeline's outputs (for callbacks
        such as the validation examples)."""
        waveform, lengths = batch["waveform"], batch["length"]
        out = self.pipeline(waveform, {ENHANCED: self.model.enhancer})
        frames = lengths // self.frontend.hop_length
        for variant, mel, wave in (("base", out.base_mel, out.base_wave),
                                   ("enhanced", out.enhanced_mels[ENHANCED], out.enhanced_waves[ENHANCED])):
            total, _ = self.loss(mel, out.reference_mel, wave if self.loss.needs_waveform else None, waveform)
            self._val_loss[variant][0] += float(total) * waveform.shape[0]
            self._val_loss[variant][1] += waveform.shape[0]
            self.val_metrics[variant]["waveform"].update(wave, waveform, lengths)
            self.val_metrics[variant][MEL].update(mel, out.reference_mel, frames)
        return out

    def on_validation_epoch_end(self) -> None:
        """Every validation value (synchronised across ranks by torchmetrics) to the callbacks (checkpoint monitor)
        and, at this optimizer step, to the logger; a target metric also as its distance to the target."""
        values = {}
        for variant in ("base", "enhanced"):
            sums = torch.tensor(self._val_loss[variant], dtype=torch.float64, device=self.device)
            total, clips = self.trainer.strategy.reduce(sums, reduce_op="sum")  # over DDP ranks
            values[f"val/{variant}/loss"] = total / clips.clamp(min=1)
            self._val_loss[variant] = [0.0, 0]
            for collection in self.val_metrics[variant].values():
                values.update(collection.compute())
                collection.reset()
        values.update(target_distances(values))
        self.log_dict(values, logger=False)
        self._to_logger(values)

    def configure_optimizers(self) -> dict[str, Any]:
        params = [p for p in self.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(params, lr=self.optim_cfg.lr, weight_decay=self.optim_cfg.weight_decay,
                                betas=tuple(self.optim_cfg.betas))
        schedule = lr_lambda(self.optim_cfg.schedule, self.optim_cfg.warmup_steps, self.total_steps,
                             self.optim_cfg.min_lr_ratio)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": torch.optim.lr_scheduler.LambdaLR(opt, schedule),
                                                   "interval": "step"}}

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        """Checkpoints hold the trained parameters only: the frozen VAE and vocoder come from `model.path`."""
        prefixes = tuple(f"model.{name}." for name in self.trained)
        checkpoint["state_dict"] = {k: v for k, v in checkpoint["state_dict"].items() if k.startswith(prefixes)}
        checkpoint[CHECKPOINT_KEY] = self.enhancement
