"""LightningModule that fine-tunes the enhancement of any model (`audiovae.models.interface`); the model's networks
stay frozen unless configured."""

import math
from typing import Any, Optional, Sequence

import pytorch_lightning as pl
import torch
from omegaconf import DictConfig, OmegaConf
from torch import nn

from audiovae.audio.frontend import MelFrontEnd
from audiovae.errors import ConfigError, NonFiniteLossError
from audiovae.metrics.base import MEL
from audiovae.metrics.registry import METRICS
from audiovae.metrics.scoring import scoring
from audiovae.metrics.synced import build_metric_collection
from audiovae.models.interface import AudioAutoencoder
from audiovae.pipeline import PipelineOutputs, ReconstructionPipeline, SharedOutputs
from audiovae.reporting.records import FROM_TARGET
from audiovae.training.adversarial import AdversarialTraining
from audiovae.training.encodings import CropEncodings, Encodings
from audiovae.training.export import CHECKPOINT_KEY, PLUGINS_KEY
from audiovae.training.losses import ReconstructionLoss

ENHANCED = "enhanced"  # the name of the trained enhancer's outputs in the pipeline's results


def target_distances(values: dict) -> dict:
    """`val/<variant>/<m>_from_target` (dB) for each target metric among `values` (`val/<variant>/<m>`)."""
    out = {}
    for key, value in values.items():
        name = key.rsplit("/", 1)[-1]
        if name in METRICS and scoring(name).is_target:
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


def trainable_modules(model: AudioAutoencoder, names: Sequence[str]) -> dict[str, nn.Module]:
    """`enhancer`, `vae.decoder`, … -> the submodules of the model to train."""
    out = {}
    for name in names:
        module = model
        for part in name.split("."):
            if not hasattr(module, part):
                raise ConfigError(
                    f"config key 'trainable': '{name}' is not a part of the model (try enhancer, vae.decoder)"
                )
            module = getattr(module, part)
        out[name] = module
    return out


def model_parts(model: AudioAutoencoder, *names: str) -> list[nn.Module]:
    """The model's submodules of these dotted names that it has (`vae.encoder`, `vae.quant_conv`, ...)."""
    out = []
    for name in names:
        module = model
        for part in name.split("."):
            module = getattr(module, part, None)
        if isinstance(module, nn.Module):
            out.append(module)
    return out


ENCODER_PARTS = ("vae.encoder", "vae.quant_conv", "codec.encoder", "codec.quantizer")
DECODER_PARTS = ("vae.decoder", "vae.post_quant_conv", "codec.decoder")


def trains_encoder(model: AudioAutoencoder, trainable: Sequence[str]) -> bool:
    """Whether `trainable` includes any parameter of the model's encoder (then latents change as it trains)."""
    encoder = {id(p) for part in model_parts(model, *ENCODER_PARTS) for p in part.parameters()}
    return any(id(p) in encoder for module in trainable_modules(model, trainable).values() for p in module.parameters())


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


def adamw_with_schedule(params, optim: DictConfig, total_steps: int) -> tuple[torch.optim.Optimizer, Any]:
    """AdamW over `params` and its LambdaLR schedule (`optim.*`, over `optim.total_steps` or `total_steps`)."""
    opt = torch.optim.AdamW(params, lr=optim.lr, weight_decay=optim.weight_decay, betas=tuple(optim.betas))
    schedule = lr_lambda(optim.schedule, optim.warmup_steps, optim.total_steps or total_steps, optim.min_lr_ratio)
    return opt, torch.optim.lr_scheduler.LambdaLR(opt, schedule)


class TrainModule(pl.LightningModule):
    """Trains `trainable` parts of the enhanced VAE on the reconstruction loss, and with `adversarial` also against
    its discriminator (manual optimisation: per batch one discriminator step, then one generator step; only the
    generator's steps count as `global_step`). With `encodings`, training crops' encodings are computed once."""

    def __init__(
        self,
        frontend: MelFrontEnd,
        model: AudioAutoencoder,
        loss: ReconstructionLoss,
        trainable: Sequence[str],
        optim: DictConfig,
        val_metrics: Sequence[str],
        enhancement: DictConfig,
        total_steps: int,
        adversarial: Optional[AdversarialTraining] = None,
        adversarial_optim: Optional[DictConfig] = None,
        encodings: Optional[CropEncodings] = None,
        gradient_clip_val: Optional[float] = None,
        metric_settings: Optional[dict] = None,
        plugins: Sequence[str] = (),
    ):
        super().__init__()
        self.plugins = list(plugins)  # saved with each checkpoint: its export builds a plugin's enhancer
        self.pipeline = ReconstructionPipeline(frontend, model)
        self.model, self.frontend, self.loss = model, frontend, loss
        self.model.requires_grad_(False)
        self.trained = trainable_modules(model, trainable)
        for module in self.trained.values():
            module.requires_grad_(True)
        self.trains_encoder = trains_encoder(model, trainable)
        self.encodes_mel = self.pipeline.encodes_mel
        if self.trains_encoder and not self.encodes_mel:
            raise ConfigError(
                f"config key 'trainable': training the encoder is built for the mel family (its posterior "
                f"gives the KL term), not for the {model.family} model; train its decoder or enhancer"
            )
        if not any(p.requires_grad for p in self.parameters()):
            raise ConfigError(
                f"config key 'trainable': nothing to train: {list(trainable)} has no parameters (enhancement "
                f"'{enhancement.name}'); use enhancement=learnable_latent_filter or add vae.decoder"
            )
        self.optim_cfg, self.total_steps = optim, total_steps
        lr_lambda(optim.schedule, optim.warmup_steps, total_steps, optim.min_lr_ratio)  # checked before any step
        self.enhancement = OmegaConf.to_container(enhancement)
        self.val_metrics = nn.ModuleDict(
            {
                variant: nn.ModuleDict(
                    {
                        domain: build_metric_collection(
                            val_metrics, domain, frontend.sample_rate, metric_settings, f"val/{variant}/"
                        )
                        for domain in ("waveform", MEL)
                    }
                )
                for variant in ("base", "enhanced")
            }
        )
        self._val_loss = {variant: [0.0, 0] for variant in ("base", "enhanced")}  # Σ loss · clips, clips
        self.strict_loading = False  # checkpoints carry only the trained parameters
        self.adversarial, self.adversarial_optim = adversarial, adversarial_optim
        self.automatic_optimization = adversarial is None
        self.gradient_clip_val = gradient_clip_val  # applied here under manual optimisation
        self.encodings = encodings  # (None when the encoder trains: run.crop_encodings decides)
        self.decoder_frozen = not any(
            p.requires_grad for part in model_parts(model, *DECODER_PARTS) for p in part.parameters()
        )
        self.model_frozen = not any(p.requires_grad for part in model.weights() for p in part.parameters())
        self._val_shared: dict[int, SharedOutputs] = {}  # frozen model: batch -> its enhancer-independent outputs
        self._base_values: Optional[dict] = None  # frozen model: the base variant's validation values

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

    def _encodings(self, waveform: torch.Tensor) -> Encodings:
        """Reference log-mel and frozen encoder's latent of training crops (and, for a mel model, the base decode
        when the decoder is frozen), as pre-encoding keeps them."""
        with torch.no_grad():
            mel = self.frontend(waveform)
            out = {"mel": mel, "latent": self.model.encode(mel if self.encodes_mel else waveform)}
            if self.decoder_frozen and self.encodes_mel:
                out["base_mel"] = self.model.decode(out["latent"], enhanced=False)
        return out

    def _generate(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor, Any, Optional[torch.Tensor]]:
        """(enhanced log-mel with gradients to the trained parts, reference log-mel, posterior or None, enhanced
        waveform or None). A waveform model's enhanced log-mel is the front end's log-mel of its enhanced
        waveform (differentiable), so the same losses train it."""
        if "latent" in batch:  # a pre-encoded set's latents (`audiovae-data latents`): the frozen encoder's output
            with torch.no_grad():
                mel = self.frontend(batch["waveform"])
            latent, posterior = batch["latent"], None
        elif self.encodings is not None:
            known = self.encodings.fetch(batch, self._encodings)
            enhancer = self.model.enhancer
            if "base_mel" in known and not enhancer.latent_stages:
                return enhancer.enhance_mel(known["base_mel"]), known["mel"], None, None  # mel stages: no decode
            mel, latent, posterior = known["mel"], known["latent"], None
        else:
            with torch.no_grad():
                mel = self.frontend(batch["waveform"])
            latent, posterior = self._encode(mel if self.encodes_mel else batch["waveform"])
        decoded = self.model.decode(latent, enhanced=True)
        if self.encodes_mel:
            return decoded, mel, posterior, None
        wave = self.model.vocode(decoded, batch["waveform"].shape[-1], enhanced=True)
        return self.frontend(wave), mel, posterior, wave

    def _reconstruction_loss(self, batch: dict) -> tuple[torch.Tensor, dict, torch.Tensor, torch.Tensor, Any]:
        waveform = batch["waveform"]
        enhanced, mel, posterior, wave = self._generate(batch)
        needs_wave = self.loss.needs_waveform or (self.adversarial is not None and self.adversarial.on_audio)
        if wave is None and needs_wave:
            wave = self.model.vocode(enhanced, waveform.shape[-1], enhanced=True)
        total, terms = self.loss(enhanced, mel, wave if self.loss.needs_waveform else None, waveform, posterior)
        return total, terms, enhanced, mel, wave

    def _check_finite(self, total: torch.Tensor, terms: dict) -> None:
        if not torch.isfinite(total):
            raise NonFiniteLossError(
                f"non-finite training loss {total.item()} at step {self.global_step} "
                f"({', '.join(f'{k}={v.item():.4g}' for k, v in terms.items())}); the run stops and keeps its last "
                f"good checkpoint: lower optim.lr or check the data"
            )

    def _log_train(self, total: torch.Tensor, terms: dict, step: int) -> None:
        self.log("train/loss", total, prog_bar=True, logger=False)
        if step % self.trainer.log_every_n_steps == 0:
            self._to_logger({"train/loss": total, **{f"train/loss_{k}": v for k, v in terms.items()}}, step)

    def training_step(self, batch: dict, batch_idx: int) -> Optional[torch.Tensor]:
        if self.adversarial is not None:
            return self._adversarial_step(batch)
        total, terms, *_ = self._reconstruction_loss(batch)
        self._check_finite(total, terms)
        self._log_train(total, terms, self.global_step)
        return total

    def _adversarial_step(self, batch: dict) -> None:
        """One discriminator step (from `adversarial.start_step` on), then one generator step on the
        reconstruction loss plus the weighted adversarial and feature-matching terms (HiFi-GAN's order)."""
        opt_g, opt_d = self.optimizers()
        sched_g, sched_d = self.lr_schedulers()
        step = self.global_step  # generator steps taken
        total, terms, enhanced, mel, wave = self._reconstruction_loss(batch)
        if self.adversarial.active(step):
            if self.adversarial.on_audio:
                with torch.no_grad():  # real: the vocoder on the reference log-mel (the ceiling); the reference
                    real = (
                        self.model.vocode(mel, batch["waveform"].shape[-1])
                        if self.encodes_mel  # itself for a
                        else batch["waveform"]
                    )  # model without a vocoder
                fake = wave
            else:
                real, fake = mel, enhanced
            d_loss = self.adversarial.discriminator_step_loss(real, fake)
            self._check_finite(d_loss, {"disc": d_loss})
            opt_d.zero_grad(set_to_none=True)
            self.manual_backward(d_loss)
            self._clip(opt_d)
            opt_d.optimizer.step()  # the wrapped optimizer's step would count as a global step
            sched_d.step()
            adv = self.adversarial.generator_terms(real, fake)
            total = total + self.adversarial.weighted(adv)
            terms = {**terms, **adv, "disc": d_loss.detach()}
        self._check_finite(total, terms)
        opt_g.zero_grad(set_to_none=True)
        self.manual_backward(total)
        self._clip(opt_g)
        opt_g.step()
        sched_g.step()
        self._log_train(total, terms, step)

    def _clip(self, optimizer) -> None:
        if self.gradient_clip_val:
            self.clip_gradients(optimizer, gradient_clip_val=self.gradient_clip_val, gradient_clip_algorithm="norm")

    def _to_logger(self, values: dict, step: Optional[int] = None) -> None:
        """Log `values` at the optimizer step at which they were measured (`global_step`: the weights after that
        many steps), so train losses, validation metrics, example tables and checkpoint names share one axis and
        the step-0 validation is at 0. Lightning's own logging would put validation one step back."""
        if self.logger is not None and not self.trainer.sanity_checking and self.trainer.is_global_zero:
            self.logger.log_metrics(
                {k: float(v.detach()) if torch.is_tensor(v) else float(v) for k, v in values.items()},
                step=self.global_step if step is None else step,
            )

    def validation_step(self, batch: dict, batch_idx: int) -> PipelineOutputs:
        """Loss and metrics of the base and enhanced reconstructions; returns the pipeline's outputs (for callbacks
        such as the validation examples)."""
        waveform, lengths = batch["waveform"], batch["length"]
        shared = self._val_shared.get(batch_idx)
        if shared is None:
            shared = self.pipeline.shared(waveform)
            if self.model_frozen:  # the same every validation: computed once
                self._val_shared[batch_idx] = shared
        out = self.pipeline.enhance(shared, {ENHANCED: self.model.enhancer})
        frames = lengths // self.frontend.hop_length
        variants = [("base", out.base_mel, out.base_wave)] if self._base_values is None else []
        for variant, mel, wave in (*variants, ("enhanced", out.enhanced_mels[ENHANCED], out.enhanced_waves[ENHANCED])):
            total, _ = self.loss(mel, out.reference_mel, wave if self.loss.needs_waveform else None, waveform)
            self._val_loss[variant][0] += float(total) * waveform.shape[0]
            self._val_loss[variant][1] += waveform.shape[0]
            self.val_metrics[variant]["waveform"].update(wave, waveform, lengths)
            self.val_metrics[variant][MEL].update(mel, out.reference_mel, frames)
        return out

    def on_validation_epoch_end(self) -> None:
        """Every validation value (synchronised across ranks by torchmetrics) to the callbacks (checkpoint monitor)
        and, at this optimizer step, to the logger; a target metric also as its distance to the target."""
        values = dict(self._base_values or {})
        for variant in ("enhanced",) if self._base_values is not None else ("base", "enhanced"):
            sums = torch.tensor(self._val_loss[variant], dtype=torch.float64, device=self.device)
            total, clips = self.trainer.strategy.reduce(sums, reduce_op="sum")  # over DDP ranks
            values[f"val/{variant}/loss"] = total / clips.clamp(min=1)
            self._val_loss[variant] = [0.0, 0]
            for collection in self.val_metrics[variant].values():
                values.update(collection.compute())
                collection.reset()
        values.update(target_distances(values))
        if self.model_frozen and self._base_values is None:  # the base variant never changes: measured once
            self._base_values = {k: v for k, v in values.items() if k.startswith("val/base/")}
        self.log_dict(values, logger=False)
        self._to_logger(values)

    def configure_optimizers(self) -> Any:
        params = [p for name, p in self.named_parameters() if p.requires_grad and not name.startswith("adversarial.")]
        opt, schedule = adamw_with_schedule(params, self.optim_cfg, self.total_steps)
        if self.adversarial is None:
            return {"optimizer": opt, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}
        opt_d, schedule_d = adamw_with_schedule(self.adversarial.parameters(), self.adversarial_optim, self.total_steps)
        return [opt, opt_d], [schedule, schedule_d]

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        """Checkpoints hold the trained parameters (and the discriminator's) only: the frozen VAE and vocoder come
        from `model.path`."""
        prefixes = (*(f"model.{name}." for name in self.trained), "adversarial.")
        checkpoint["state_dict"] = {k: v for k, v in checkpoint["state_dict"].items() if k.startswith(prefixes)}
        checkpoint[CHECKPOINT_KEY] = self.enhancement
        checkpoint[PLUGINS_KEY] = self.plugins
