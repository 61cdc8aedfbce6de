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

from audiovae.metrics.functional.mel_domain import band_energies, retention_db  # noqa: E402
from audiovae.reporting.format import metric_label  # noqa: E402

MEL_NAMES = ("reference", "base", "enhanced")


@dataclass
class FilePlot:
    """What a file's figure shows, gathered as its log-mels stream in, in memory bounded by `columns` whatever the
    file's length: log-mels averaged over blocks of frames into at most `columns` time columns, and per mel band
    the energy Σ_t exp(2·log-mel) of each (for the per-band retention, as `metrics.functional.BandEnergySums`).
    `hz` are the mel bands' centre frequencies, `cutoff_hz` the high band's lower edge."""

    frames: int  # the file's log-mel frames
    seconds: float  # its duration
    hz: np.ndarray
    cutoff_hz: float
    columns: int = 1200
    _mels: dict = field(default_factory=dict)  # name -> (sum [columns, F], count [columns], frames seen)
    _bands: dict = field(default_factory=dict)  # name -> band energies [F] so far (`band_energies`)

    @property
    def block(self) -> int:
        """Frames averaged into one time column: ⌈frames / columns⌉."""
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
        energy = band_energies(chunk)
        self._bands[name] = energy if name not in self._bands else self._bands[name] + energy

    def mel(self, name: str) -> np.ndarray:
        """Variant `name`'s log-mel averaged over blocks of frames, `[columns, n_mels]`."""
        total, count, _ = self._mels[name]
        return (total / count.clamp(min=1)[:, None]).numpy()

    def retention_db(self, name: str) -> np.ndarray:
        """Per mel band, 10·log10(energy of `name` / energy of the reference) in dB."""
        return retention_db(self._bands[name], self._bands["reference"]).numpy()

    @classmethod
    def of_signals(cls, signals, hz: np.ndarray, cutoff_hz: float, sample_rate: int) -> "FilePlot":
        """A FilePlot of whole signals (an object with the attributes of MEL_NAMES as `<name>_mel` `[1, 1, T, F]`
        and `reference` as a waveform `[N]`)."""
        mels = {name: getattr(signals, f"{name}_mel")[0, 0] for name in MEL_NAMES}
        plot = cls(
            frames=mels["reference"].shape[0],
            seconds=signals.reference.shape[-1] / sample_rate,
            hz=hz,
            cutoff_hz=cutoff_hz,
        )
        for name, mel in mels.items():
            plot.add_mel(name, mel)
        return plot


DB_PER_NEPER = 20 / math.log(10)  # a natural-log magnitude difference in dB
# a file's figure has one size and the same labels whatever the file: fixed margins (figure fractions) cost nothing,
# where tight_layout measures every label of its ten axes (a quarter of the figure's time)
FILE_LAYOUT = dict(left=0.035, right=0.99, bottom=0.075, top=0.9, wspace=0.28, hspace=0.32)


def _hz_axis(ax, hz: np.ndarray, cutoff_hz: float) -> None:
    """Mel-band y axis labelled in Hz (mel-spaced ticks) with a line at the cutoff."""
    ticks = [f for f in (0, 250, 500, 1000, 2000, 4000, 8000, 16000, 24000) if hz[0] <= f <= hz[-1]]
    ax.set_yticks(
        np.interp(ticks, hz, np.arange(len(hz))) + 0.5, [f"{f // 1000}k" if f >= 1000 else str(f) for f in ticks]
    )
    ax.axhline(np.interp(cutoff_hz, hz, np.arange(len(hz))) + 0.5, color="w", linewidth=0.8, linestyle="--")
    ax.set_ylabel("Hz")


def plot_file(path: Path, plot: FilePlot, title: str) -> Path:
    """Top: log-mels of reference, base and enhanced (one colour scale). Bottom: |base − reference| and
    |enhanced − reference| in dB (one colour scale) and their difference (blue: enhanced closer, red: farther).
    Right: energy kept per band (dB, 0 = the reference's). Mel axes in Hz, the dashed line at the cutoff."""
    fig = plt.figure(figsize=(19, 7))
    grid = fig.add_gridspec(2, 4, width_ratios=[1, 1, 1, 1.1], **FILE_LAYOUT)
    mels = {name: plot.mel(name) for name in MEL_NAMES}
    extent = (0, plot.seconds, 0, mels["reference"].shape[1])
    low, high = float(mels["reference"].min()), float(mels["reference"].max())
    errors = {name: DB_PER_NEPER * np.abs(mels[name] - mels["reference"]) for name in ("base", "enhanced")}
    top = max(1e-6, float(np.percentile(np.concatenate([e.ravel() for e in errors.values()]), 99)))
    change = errors["enhanced"] - errors["base"]
    spread = max(1e-6, float(np.percentile(np.abs(change), 99)))
    panels = [(0, i, f"{name} log-mel", mels[name], "magma", low, high) for i, name in enumerate(MEL_NAMES)]
    panels += [
        (1, 0, "|base − reference| (dB)", errors["base"], "viridis", 0, top),
        (1, 1, "|enhanced − reference| (dB)", errors["enhanced"], "viridis", 0, top),
        (1, 2, "enhanced error − base error (dB)", change, "RdBu_r", -spread, spread),
    ]
    first = None  # one time axis: panels narrowed by a colour bar keep their neighbours' ticks
    for row, col, name, image, cmap, vmin, vmax in panels:
        ax = fig.add_subplot(grid[row, col], sharex=first)
        first = first or ax
        shown = ax.imshow(image.T, origin="lower", aspect="auto", cmap=cmap, vmin=vmin, vmax=vmax, extent=extent)
        ax.set(title=name, xlabel="s")
        _hz_axis(ax, plot.hz, plot.cutoff_hz)
        if col == 2 or (row == 1 and col == 1):
            fig.colorbar(shown, ax=ax, fraction=0.046)
    ax = fig.add_subplot(grid[:, 3])
    for i, name in enumerate(("base", "enhanced")):
        ax.plot(plot.hz, plot.retention_db(name), color=f"C{i}", linewidth=1.6, label=name)
    ax.axhline(0, color="0.3", linewidth=0.9, linestyle="--")
    ax.axvline(plot.cutoff_hz, color="0.3", linewidth=0.9, linestyle=":")
    ax.set(title="energy kept per mel band", xlabel="Hz", ylabel="dB relative to the reference")
    ax.legend(fontsize=8)
    fig.suptitle(title)
    return save_figure(fig, path, laid_out=True)


def metric_panels(names: Sequence[str]):
    """A figure with one panel per metric (up to 4 a row); returns it and the panels in `names` order."""
    cols = max(1, min(4, len(names)))
    fig, axes = plt.subplots(
        max(1, math.ceil(len(names) / cols)),
        cols,
        figsize=(4 * cols, 3.2 * math.ceil(len(names) / cols)),
        squeeze=False,
    )
    for ax in list(axes.flat)[len(names) :]:
        ax.axis("off")
    return fig, list(axes.flat)[: len(names)]


def metric_title(name: str, prefix: str = "", suffix: str = "") -> str:
    """`<prefix>name (unit) ↑<suffix>`: a panel title that says which way is better."""
    return f"{prefix}{metric_label(name, unit=True)}{suffix}"


def save_figure(fig, path: Path, laid_out: bool = False) -> Path:
    """Lay out (`tight_layout`, unless the figure's grid fixes its margins: `laid_out`), save (80 dpi, PNG at zlib
    level 1: a quarter of the encoding time for 10–15 % more bytes) and close a figure; returns its path."""
    if not laid_out:
        fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80, pil_kwargs={"compress_level": 1})
    plt.close(fig)
    return path


MAX_LINES = 40  # past this many files a figure shows distributions: hundreds of lines are a grey mass


def paired_plot(path: Path, columns: Sequence[str], values: dict[str, np.ndarray]) -> Path:
    """One panel per metric (`values`: metric -> `[files, columns]`): the column means (over files defined in every
    column) as a thick line over, for up to MAX_LINES files, each file's values across the columns as a grey line,
    and for more, each column's distribution (a violin with its 10th, 50th and 90th percentiles marked)."""
    names = list(values)
    fig, panels = metric_panels(names)
    x = np.arange(len(columns))
    for ax, name in zip(panels, names):
        table = np.asarray(values[name], dtype=float).reshape(-1, len(columns))
        finite = table[np.isfinite(table).all(axis=1)]
        if len(finite) > MAX_LINES:
            parts = ax.violinplot(
                [finite[:, j] for j in range(len(columns))],
                positions=x,
                widths=0.7,
                showextrema=False,
                quantiles=[[0.1, 0.5, 0.9]] * len(columns),
            )
            for body in parts["bodies"]:
                body.set(facecolor="0.75", edgecolor="0.5", alpha=0.8)
            parts["cquantiles"].set(color="0.3", linewidth=0.9)
        else:
            for line in finite:
                ax.plot(x, line, color="0.6", linewidth=0.8, marker="o", markersize=3)
        if len(finite):
            ax.plot(x, finite.mean(axis=0), color="C3", linewidth=2.5, marker="D")
        suffix = f" · {len(finite)} files" if len(finite) > MAX_LINES else ""
        ax.set(
            xticks=x,
            xlim=(-0.5, len(columns) - 0.5) if len(finite) > MAX_LINES else (-0.2, len(columns) - 0.8),
            title=metric_title(name, suffix=suffix),
        )
        ax.set_xticklabels([c[-12:] for c in columns])
    return save_figure(fig, path)


def plot_band_retention(path: Path, table: np.ndarray, bands: dict) -> Path:
    """Per mel band, energy kept relative to the reference (dB) of base and enhanced: each file thin (past
    MAX_LINES files: the band between the files' 10th and 90th percentiles, their median dashed), the mean over
    files thick; 0 dB is the reference, the dotted line the high-band cutoff."""
    fig, ax = plt.subplots(figsize=(8, 3.6))
    hz = np.array(bands["hz"])
    for i, variant in enumerate(bands["mean_db"]):
        colour = f"C{i}"
        if len(table) > MAX_LINES:  # many files: the 10–90 % band of the files' curves and their median
            with np.errstate(all="ignore"):
                low, mid, high = np.nanpercentile(table[:, i], [10, 50, 90], axis=0)
            ax.fill_between(hz, low, high, color=colour, alpha=0.18, linewidth=0, label=f"{variant}: 10–90 % of files")
            ax.plot(hz, mid, color=colour, linewidth=1.0, linestyle="--")
        else:
            for curve in table[:, i] if len(table) else []:
                ax.plot(hz, curve, color=colour, alpha=0.25, linewidth=0.7)
        ax.plot(
            hz,
            bands["mean_db"][variant],
            color=colour,
            linewidth=2.2,
            label=f"{variant} (mean above cutoff {bands['above_cutoff_db'][variant]:+.2f} dB)",
        )
    ax.axhline(0, color="0.3", linewidth=0.9, linestyle="--")
    ax.axvline(bands["cutoff_hz"], color="0.3", linewidth=0.9, linestyle=":")
    means = np.array([m for m in bands["mean_db"].values()], dtype=float)
    if np.isfinite(means).any():  # the means decide the scale; single files' near-empty bands may leave it
        ax.set_ylim(min(-6.0, np.nanmin(means) - 3), max(6.0, np.nanmax(means) + 3))
    ax.set(
        title=f"energy kept per mel band ({bands['n_files']} files)",
        xlabel="mel band centre (Hz)",
        ylabel="dB relative to the reference",
    )
    ax.legend(fontsize=8)
    return save_figure(fig, path)


def plot_generated(
    path: Path, mels: dict, waves: dict, hz: np.ndarray, cutoff_hz: float, sample_rate: int, title: str
) -> Path:
    """A generated item (no reference): base and enhanced log-mels (one colour scale), enhanced − base (dB; red:
    more energy) and the long-term power spectra of both waveforms (dB, 0 = the base's peak) with the cutoff."""
    fig = plt.figure(figsize=(19, 4.6))
    grid = fig.add_gridspec(1, 4, width_ratios=[1, 1, 1, 1.1])
    seconds = len(next(iter(waves.values()))) / sample_rate
    extent = (0, seconds, 0, mels["base"].shape[1])
    low, high = float(mels["base"].min()), float(mels["base"].max())
    change = DB_PER_NEPER * (mels["enhanced"] - mels["base"])
    spread = max(1e-6, float(np.percentile(np.abs(change), 99)))
    panels = [
        ("base log-mel", mels["base"], "magma", low, high),
        ("enhanced log-mel", mels["enhanced"], "magma", low, high),
        ("enhanced − base (dB)", change, "RdBu_r", -spread, spread),
    ]
    first = None
    for col, (name, image, cmap, vmin, vmax) in enumerate(panels):
        ax = fig.add_subplot(grid[0, col], sharex=first)
        first = first or ax
        shown = ax.imshow(image.T, origin="lower", aspect="auto", cmap=cmap, vmin=vmin, vmax=vmax, extent=extent)
        ax.set(title=name, xlabel="s")
        _hz_axis(ax, hz, cutoff_hz)
        if col >= 1:
            fig.colorbar(shown, ax=ax, fraction=0.046)
    ax = fig.add_subplot(grid[0, 3])
    n_fft = 2048
    spectra = {}
    for name, wave in waves.items():
        x = torch.as_tensor(np.asarray(wave, dtype=np.float64))
        spec = (
            torch.stft(
                x,
                n_fft,
                n_fft // 4,
                window=torch.hann_window(n_fft, dtype=torch.float64),
                center=True,
                return_complex=True,
            )
            .abs()
            .pow(2)
            .sum(-1)
        )
        spectra[name] = spec.numpy()
    peak = max(float(spectra["base"].max()), 1e-30)
    freqs = np.arange(n_fft // 2 + 1) * sample_rate / n_fft
    for i, (name, spec) in enumerate(spectra.items()):
        ax.plot(freqs, 10 * np.log10(np.maximum(spec, 1e-30) / peak), color=f"C{i}", linewidth=1.2, label=name)
    ax.axvline(cutoff_hz, color="0.3", linewidth=0.9, linestyle=":")
    ax.set(title="long-term power spectrum", xlabel="Hz", ylabel="dB (0 = base peak)")
    ax.set_ylim(bottom=max(ax.get_ylim()[0], -120))
    ax.legend(fontsize=8)
    fig.suptitle(title)
    return save_figure(fig, path)
