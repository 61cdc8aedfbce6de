"""A file's audio and plot, written while its reconstruction streams in (never held whole). matplotlib is
imported only by a run that draws plots."""

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Optional, Sequence

import torch

from audiovae.audio.io import wav_writer
from audiovae.reporting.records import WAVE_NAMES


@dataclass(frozen=True)
class PlotSpec:
    """A file's figure: its log-mels' `frames` over `seconds`, the mel bands' centres `hz` and the high band's edge
    `cutoff_hz` (a dashed line)."""

    frames: int
    seconds: float
    hz: object = None
    cutoff_hz: float = 0.0


class FileMedia:
    """`audio/<stem>.<name>.wav` (32-bit float) for each waveform of `names` (the reference and the model's
    variants) when `audio`, and with a `plot` spec `plots/<stem>.png`, under `out_dir`. Feed consecutive chunks
    with `add`; `close()` finishes the files and draws the plot."""

    def __init__(
        self,
        out_dir: Path,
        stem: str,
        title: str,
        sample_rate: int,
        audio: bool,
        plot: Optional[PlotSpec] = None,
        names: Sequence[str] = WAVE_NAMES,
    ):
        self.title, self.plot_path = title, out_dir / "plots" / f"{stem}.png"
        self.audio_dir, self.stem, self.sample_rate, self.names = out_dir / "audio", stem, sample_rate, list(names)
        self.writers = {}  # name -> its wav, opened at the first chunk (which says its channels)
        self.audio = audio
        self.plot = None
        if plot is not None:
            from audiovae.reporting.plots import FilePlot

            self.plot = FilePlot(plot.frames, plot.seconds, plot.hz, plot.cutoff_hz)

    def add(self, waves: Mapping[str, torch.Tensor], mels: Mapping[str, torch.Tensor]) -> None:
        """The next samples of every waveform of `names` and the next `[t, F]` frames of every log-mel."""
        for name, chunk in waves.items():
            if self.audio and name in self.names:
                if name not in self.writers:
                    self.writers[name] = wav_writer(
                        self.audio_dir / f"{self.stem}.{name}.wav",
                        self.sample_rate,
                        chunk.shape[1] if chunk.dim() == 2 else 1,
                    )
                self.writers[name].write(chunk.detach().float().cpu().numpy())
        if self.plot is not None:
            for name, chunk in mels.items():
                self.plot.add_mel(name, chunk)

    def abort(self) -> None:
        """The file failed part-way: its partial wavs are removed and no plot is drawn."""
        for writer in self.writers.values():
            writer.close()
            Path(writer.name).unlink(missing_ok=True)
        self.writers, self.plot, self.audio = {}, None, False

    def close(self) -> None:
        """Finish the file's audio writers and draw its plot."""
        for writer in self.writers.values():
            writer.close()
        if self.plot is not None:
            from audiovae.reporting.plots import plot_file

            plot_file(self.plot_path, self.plot, self.title)
