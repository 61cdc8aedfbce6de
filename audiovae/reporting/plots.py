"""Figures: per-file spectrograms and spectra, and one paired plot of per-file values across columns (base vs
enhanced, or several runs)."""
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import matplotlib  # audiovae/__init__ has pointed its cache at $AUDIOVAE_HOME

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from audiovae.metrics.functional.frames import StftStream  # noqa: E402
from audiovae.reporting.format import metric_label  # noqa: E402

MEL_NAMES = ("reference", "base", "enhanced")
WAVE_NAMES = ("reference", "vocoder", "base", "enhanced")


@dataclass
class FilePlot:
    """What a file's figure shows, gathered as its signals stream in, in memory bounded by `columns` whatever
    the file's length: log-mels averaged over blocks of frames into at most `columns` time columns, and each
    waveform's mean power spectrum (Hann `n_fft`, hop n_fft/4: Welch's estimate)."""

    frames: int  # the file's log-mel frames
    seconds: float  # its duration
    sample_rate: int
    columns: int = 1200
    n_fft: int = 2048
    _mels: dict = field(default_factory=dict)  # name -> (sum [columns, F], count [columns], frames seen)
    _spectra: dict = field(default_factory=dict)  # name -> (StftStream, power sum [bins], frame count)

    @property
    def block(self) -> int:
        return max(1, math.ceil(self.frames / self.columns))

    def add_mel(self, name: str, chunk: torch.Tensor) -> None:
        """The next `[t, F]` frames of log-mel `name`."""
        chunk = chunk.detach().float().cpu()
        n_cols = max(1, math.ceil(self.frames / self.block))
        total, count, seen = self._mels.get(name) or (torch.zeros(n_cols, chunk.shape[-1]), torch.zeros(n_cols), 0)
        column = ((torch.arange(chunk.shape[0]) + seen) // self.block).clamp(max=n_cols - 1)
        total.index_add_(0, column, chunk)
        count.index_add_(0, column, torch.ones(chunk.shape[0]))
        self._mels[name] = (total, count, seen + chunk.shape[0])

    def add_wave(self, name: str, chunk: torch.Tensor) -> None:
        """The next samples of waveform `name`."""
        stream, power, count = self._spectra.get(name) or (StftStream(self.n_fft, self.n_fft // 4), 0.0, 0)
        frames = stream.push(chunk.detach().double().cpu())
        self._spectra[name] = (stream, power + (frames.abs() ** 2).sum(-1), count + frames.shape[-1])

    def mel(self, name: str) -> np.ndarray:
        total, count, _ = self._mels[name]
        return (total / count.clamp(min=1)[:, None]).numpy()

    def spectrum_db(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """Frequencies (Hz) and the mean power spectrum (dB) of waveform `name`; the stream is finished here."""
        stream, power, count = self._spectra[name]
        frames = stream.finish()
        power, count = power + (frames.abs() ** 2).sum(-1), count + frames.shape[-1]
        self._spectra[name] = (stream, power, count)
        freqs = np.arange(self.n_fft // 2 + 1) * self.sample_rate / self.n_fft
        return freqs, 10 * np.log10((power / max(count, 1)).numpy() + 1e-12)

    @classmethod
    def of_signals(cls, signals, sample_rate: int) -> "FilePlot":
        """A FilePlot of whole signals (an object with the attributes of MEL_NAMES as `<name>_mel` `[1, 1, T, F]`
        and of WAVE_NAMES as waveforms `[N]`)."""
        mels = {name: getattr(signals, f"{name}_mel")[0, 0] for name in MEL_NAMES}
        plot = cls(frames=mels["reference"].shape[0], seconds=signals.reference.shape[-1] / sample_rate,
                   sample_rate=sample_rate)
        for name, mel in mels.items():
            plot.add_mel(name, mel)
        for name in WAVE_NAMES:
            plot.add_wave(name, getattr(signals, name))
        return plot


def plot_file(path: Path, plot: FilePlot, title: str) -> Path:
    """Log-mel of reference / base / enhanced side by side, and the mean spectrum (dB vs Hz) of all four."""
    fig, axes = plt.subplots(1, 4, figsize=(18, 3.8), gridspec_kw={"width_ratios": [1, 1, 1, 1.2]})
    mels = {name: plot.mel(name) for name in MEL_NAMES}
    low, high = float(mels["reference"].min()), float(mels["reference"].max())
    for ax, (name, mel) in zip(axes, mels.items()):
        image = ax.imshow(mel.T, origin="lower", aspect="auto", vmin=low, vmax=high, cmap="magma",
                          extent=(0, plot.seconds, 0, mel.shape[1]))
        ax.set(title=f"{name} log-mel", xlabel="s", ylabel="mel band")
    fig.colorbar(image, ax=axes[2], fraction=0.046)
    for name in WAVE_NAMES:
        axes[3].plot(*plot.spectrum_db(name), label=name, linewidth=1)
    axes[3].set(title="mean spectrum", xlabel="Hz", ylabel="dB")
    axes[3].legend(fontsize=8)
    fig.suptitle(title)
    return save_figure(fig, path)


def metric_panels(names: Sequence[str]):
    """A figure with one panel per metric (up to 4 a row); returns it and the panels in `names` order."""
    cols = max(1, min(4, len(names)))
    fig, axes = plt.subplots(max(1, math.ceil(len(names) / cols)), cols, figsize=(4 * cols, 3.2 * math.ceil(len(names) / cols)),
                             squeeze=False)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    return fig, list(axes.flat)[: len(names)]


def metric_title(name: str, prefix: str = "", suffix: str = "") -> str:
    """`<prefix>name (unit) ↑<suffix>`: a panel title that says which way is better."""
    return f"{prefix}{metric_label(name, unit=True)}{suffix}"


def save_figure(fig, path: Path) -> Path:
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def paired_plot(path: Path, columns: Sequence[str], values: dict[str, np.ndarray]) -> Path:
    """One panel per metric (`values`: metric -> `[files, columns]`): each file's values across the columns as a
    grey line, the column means (over files defined in every column) as a thick line."""
    names = list(values)
    fig, panels = metric_panels(names)
    x = np.arange(len(columns))
    for ax, name in zip(panels, names):
        table = np.asarray(values[name], dtype=float).reshape(-1, len(columns))
        finite = table[np.isfinite(table).all(axis=1)]
        for line in finite:
            ax.plot(x, line, color="0.6", linewidth=0.8, marker="o", markersize=3)
        if len(finite):
            ax.plot(x, finite.mean(axis=0), color="C3", linewidth=2.5, marker="D")
        ax.set(xticks=x, xlim=(-0.2, len(columns) - 0.8), title=metric_title(name))
        ax.set_xticklabels([c[-12:] for c in columns])
    return save_figure(fig, path)


def plot_band_retention(path: Path, table: np.ndarray, bands: dict) -> Path:
    """Per mel band, energy kept relative to the reference (dB) of base and enhanced: each file thin, the mean over
    files thick; 0 dB is the reference, the dotted line the high-band cutoff."""
    fig, ax = plt.subplots(figsize=(8, 3.6))
    hz = np.array(bands["hz"])
    for i, variant in enumerate(bands["mean_db"]):
        colour = f"C{i}"
        for curve in table[:, i] if len(table) else []:
            ax.plot(hz, curve, color=colour, alpha=0.25, linewidth=0.7)
        ax.plot(hz, bands["mean_db"][variant], color=colour, linewidth=2.2,
                label=f"{variant} (mean above cutoff {bands['above_cutoff_db'][variant]:+.2f} dB)")
    ax.axhline(0, color="0.3", linewidth=0.9, linestyle="--")
    ax.axvline(bands["cutoff_hz"], color="0.3", linewidth=0.9, linestyle=":")
    means = np.array([m for m in bands["mean_db"].values()], dtype=float)
    if np.isfinite(means).any():  # the means decide the scale; single files' near-empty bands may leave it
        ax.set_ylim(min(-6.0, np.nanmin(means) - 3), max(6.0, np.nanmax(means) + 3))
    ax.set(title=f"energy kept per mel band ({bands['n_files']} files)", xlabel="mel band centre (Hz)",
           ylabel="dB relative to the reference")
    ax.legend(fontsize=8)
    return save_figure(fig, path)
