"""Val examples for W&B: reference / base / enhanced audio and spectrograms of a few validation clips."""
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
import wandb

from audiovae.evaluation.plots import FilePlot, plot_file


@dataclass
class FileSignals:
    """Whole signals of one clip at its own length (training's validation examples)."""

    reference: torch.Tensor  # [N]
    vocoder: torch.Tensor
    base: torch.Tensor
    enhanced: torch.Tensor
    reference_mel: torch.Tensor  # [1, 1, N // hop, F]
    base_mel: torch.Tensor
    enhanced_mel: torch.Tensor


def wandb_example_sink(experiment, sample_rate: int, folder: Path) -> Callable[[list[FileSignals], int], None]:
    """A callable that logs `val/examples` (a table with audio and a spectrogram image per clip) at a step."""
    def sink(signals: list[FileSignals], step: int) -> None:
        rows = []
        for i, s in enumerate(signals):
            png = plot_file(folder / f"step{step:07d}_{i}.png", FilePlot.of_signals(s, sample_rate),
                            f"val example {i}, step {step}")
            audio = [wandb.Audio(x.float().cpu().numpy(), sample_rate=sample_rate)
                     for x in (s.reference, s.base, s.enhanced)]
            rows.append([i, *audio, wandb.Image(str(png))])
        table = wandb.Table(columns=["example", "reference", "base", "enhanced", "spectrogram"], data=rows)
        experiment.log({"val/examples": table, "trainer/global_step": step})
    return sink
