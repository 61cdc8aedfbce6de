"""Val examples for W&B: reference / base / enhanced audio and spectrograms of a few validation clips."""
from pathlib import Path
from typing import Callable

import wandb

from audiovae.evaluation.engine import FileSignals
from audiovae.evaluation.plots import FilePlot, plot_file


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
