"""Validation examples: reference / vocoder / base / enhanced audio and figures of a few validation clips, kept
under `examples/` with a page to listen (`examples/index.html`) and logged to W&B, by a Lightning Callback every
`every_n_val` validations."""

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import pytorch_lightning as pl
import soundfile as sf
import torch

from audiovae.metrics.functional.frames import hf_cutoff
from audiovae.pipeline import PipelineOutputs
from audiovae.reporting.examples_html import write_examples_page
from audiovae.reporting.plots import FilePlot, plot_file
from audiovae.reporting.records import WAVE_NAMES


@dataclass
class FileSignals:
    """Whole signals of one clip at its own length (training's validation examples)."""

    reference: torch.Tensor  # [N]
    vocoder: Optional[torch.Tensor]  # the vocoder ceiling (mel models; None for a model without one)
    base: torch.Tensor
    enhanced: torch.Tensor
    reference_mel: torch.Tensor  # [1, 1, N // hop, F]
    base_mel: torch.Tensor
    enhanced_mel: torch.Tensor

    @classmethod
    def of_outputs(
        cls, out: PipelineOutputs, key: str, waveform: torch.Tensor, i: int, n: int, hop: int
    ) -> "FileSignals":
        """Clip `i` of a validation batch (its first `n` samples) from the pipeline's outputs for enhancer `key`."""
        frames = n // hop
        ceiling = out.vocoder_wave[i, :n] if out.vocoder_wave is not None else None
        return cls(
            waveform[i, :n],
            ceiling,
            out.base_wave[i, :n],
            out.enhanced_waves[key][i, :n],
            out.reference_mel[i : i + 1, :, :frames],
            out.base_mel[i : i + 1, :, :frames],
            out.enhanced_mels[key][i : i + 1, :, :frames],
        )


class ValidationExamples(pl.Callback):
    """Every `every_n_val`-th validation (the first included), on rank 0: the first `count` clips of the first
    validation batch as wavs and figures under `folder` with its index.html, and with a logger as `val/examples`,
    a W&B table of audio and figure per clip. The validation count is saved in checkpoints, so a resumed run logs
    at the same validations as an uninterrupted one."""

    def __init__(self, folder: Path, every_n_val: int, count: int, enhancer_key: str):
        self.folder, self.every_n_val, self.count, self.key = Path(folder), every_n_val, count, enhancer_key
        self.validations = 0

    def on_validation_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs,
        batch,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        if (
            batch_idx != 0
            or self.count <= 0
            or trainer.sanity_checking
            or not trainer.is_global_zero
            or self.validations % self.every_n_val != 0
        ):
            return

        frontend, step = pl_module.frontend, trainer.global_step
        waveform, lengths = batch["waveform"], batch["length"]
        rows = []
        for i in range(min(self.count, waveform.shape[0])):
            signals = FileSignals.of_outputs(outputs, self.key, waveform, i, int(lengths[i]), frontend.hop_length)
            shown = FilePlot.of_signals(
                signals, frontend.band_centres, hf_cutoff(frontend.sample_rate), frontend.sample_rate
            )
            png = plot_file(self.folder / f"step{step:07d}_{i}.png", shown, f"val example {i}, step {step}")
            for name in self.names(signals):
                sf.write(
                    str(png.with_name(f"{png.stem}.{name}.wav")),
                    getattr(signals, name).float().cpu().numpy(),
                    frontend.sample_rate,
                    subtype="FLOAT",
                )
            rows.append((i, signals, png))
        write_examples_page(self.folder)
        if trainer.logger is not None:
            self._log(trainer, rows, step, frontend.sample_rate)

    @staticmethod
    def _log(trainer: pl.Trainer, rows, step: int, sample_rate: int) -> None:
        import wandb

        names = ValidationExamples.names(rows[0][1])
        data = [
            [
                i,
                *(wandb.Audio(getattr(s, name).float().cpu().numpy(), sample_rate=sample_rate) for name in names),
                wandb.Image(str(png)),
            ]
            for i, s, png in rows
        ]
        table = wandb.Table(columns=["example", *names, "spectrogram"], data=data)
        trainer.logger.experiment.log({"val/examples": table, "trainer/global_step": step})

    @staticmethod
    def names(signals: FileSignals) -> list[str]:
        """The waveforms a clip has: the vocoder ceiling only for mel models."""
        return [name for name in WAVE_NAMES if getattr(signals, name) is not None]

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.sanity_checking:
            self.validations += 1

    def state_dict(self) -> dict:
        return {"validations": self.validations}

    def load_state_dict(self, state_dict: dict) -> None:
        self.validations = state_dict.get("validations", 0)
