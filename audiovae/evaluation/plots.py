"""Figures of an evaluation: per-file spectrograms and spectra, and a paired summary across files."""
import math
from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from scipy.signal import welch  # noqa: E402

from audiovae.evaluation.engine import FileSignals  # noqa: E402
from audiovae.metrics.collection import metric_info  # noqa: E402


def plot_file(path: Path, signals: FileSignals, sample_rate: int, title: str) -> Path:
    """Log-mel of reference / base / enhanced side by side, and the mean spectrum (dB vs Hz) of all four."""
    fig, axes = plt.subplots(1, 4, figsize=(18, 3.8), gridspec_kw={"width_ratios": [1, 1, 1, 1.2]})
    mels = {"reference": signals.reference_mel, "base": signals.base_mel, "enhanced": signals.enhanced_mel}
    low = float(signals.reference_mel.min())
    high = float(signals.reference_mel.max())
    for ax, (name, mel) in zip(axes, mels.items()):
        image = ax.imshow(mel[0, 0].float().cpu().numpy().T, origin="lower", aspect="auto", vmin=low, vmax=high,
                          cmap="magma")
        ax.set(title=f"{name} log-mel", xlabel="frame", ylabel="mel band")
    fig.colorbar(image, ax=axes[2], fraction=0.046)
    waves = {"reference": signals.reference, "vocoder": signals.vocoder, "base": signals.base,
             "enhanced": signals.enhanced}
    for name, wave in waves.items():
        x = wave.float().cpu().numpy()
        freqs, power = welch(x, fs=sample_rate, nperseg=min(2048, len(x)))
        axes[3].plot(freqs, 10 * np.log10(power + 1e-12), label=name, linewidth=1)
    axes[3].set(title="mean spectrum", xlabel="Hz", ylabel="dB")
    axes[3].legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def metric_panels(names: Sequence[str]):
    """A figure with one panel per metric (up to 4 a row); returns it and the panels in `names` order."""
    cols = max(1, min(4, len(names)))
    fig, axes = plt.subplots(max(1, math.ceil(len(names) / cols)), cols, figsize=(4 * cols, 3.2 * math.ceil(len(names) / cols)),
                             squeeze=False)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    return fig, list(axes.flat)[: len(names)]


def metric_title(name: str, prefix: str = "", suffix: str = "") -> str:
    arrow = "↑" if metric_info(name).higher_is_better else "↓"
    return f"{prefix}{name} ({arrow} better){suffix}"


def save_figure(fig, path: Path) -> Path:
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def plot_summary(path: Path, rows: list[dict], metric_names: Sequence[str]) -> Path:
    """One panel per metric: each file's base → enhanced value as a line, means as thick markers."""
    ok = [r for r in rows if r["status"] == "ok"]
    fig, panels = metric_panels(metric_names)
    for ax, name in zip(panels, metric_names):
        base = np.array([r[f"base_{name}"] for r in ok], dtype=float)
        enhanced = np.array([r[f"enhanced_{name}"] for r in ok], dtype=float)
        finite = np.isfinite(base) & np.isfinite(enhanced)
        for b, e in zip(base[finite], enhanced[finite]):
            ax.plot([0, 1], [b, e], color="0.6", linewidth=0.8, marker="o", markersize=3)
        if finite.any():
            ax.plot([0, 1], [base[finite].mean(), enhanced[finite].mean()], color="C3", linewidth=2.5, marker="D")
        ax.set(xticks=[0, 1], xticklabels=["base", "enhanced"], title=metric_title(name), xlim=(-0.2, 1.2))
    return save_figure(fig, path)
