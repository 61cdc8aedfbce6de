"""Deterministic, music-like material: the fixed demo clips (`python -m audiovae.demo FOLDER` writes them if
missing) and seeded random clips of the same kinds that the bundled demo VAE was trained on."""

import sys
from pathlib import Path

import numpy as np
import soundfile as sf

SAMPLE_RATE = 22050


def _envelope(n: int, sr: int, attack: float, decay: float) -> np.ndarray:
    t = np.arange(n) / sr
    return np.minimum(t / attack, 1.0) * np.exp(-t / decay)


def _note(freq: float, seconds: float, sr: int, harmonics: int = 8, decay: float = 0.6) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    tone = sum(np.sin(2 * np.pi * freq * k * t) / k**1.2 for k in range(1, harmonics + 1) if freq * k < sr / 2)
    return tone * _envelope(len(t), sr, 0.01, decay)


def _place(track: np.ndarray, sound: np.ndarray, at: int) -> None:
    end = min(len(track), at + len(sound))
    if end > at:
        track[at:end] += sound[: end - at]


def _drums(seconds: float, sr: int, rng: np.random.Generator, bpm: float = 120) -> np.ndarray:
    track = np.zeros(int(seconds * sr))
    beat = int(sr * 60 / bpm)
    for i, at in enumerate(range(0, len(track), beat)):
        t = np.arange(int(0.25 * sr)) / sr
        kick = np.sin(2 * np.pi * (120 * t - 160 * t**2)) * np.exp(-t / 0.08)
        _place(track, kick, at)
        if i % 2:
            snare = rng.standard_normal(int(0.2 * sr)) * _envelope(int(0.2 * sr), sr, 0.001, 0.05)
            _place(track, 0.6 * snare, at)
        hat = rng.standard_normal(int(0.05 * sr))
        hat = np.diff(hat, prepend=0) * _envelope(len(hat), sr, 0.0005, 0.01)  # high-passed noise
        _place(track, 0.4 * hat, at + beat // 2)
    return track


def demo_clips(seconds: float = 4.0, sr: int = SAMPLE_RATE, seed: int = 0) -> dict[str, np.ndarray]:
    """name -> mono float32 clip: chord, melody, drums, chirp, and a band (melody + chords + drums)."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    chord = np.zeros(n)
    for i, root in enumerate((261.6, 220.0, 174.6, 196.0)):
        for ratio in (1.0, 1.26, 1.5):
            _place(chord, _note(root * ratio, 1.2, sr, decay=0.8), i * n // 4)
    melody = np.zeros(n)
    notes = (523.3, 587.3, 659.3, 784.0, 659.3, 587.3, 523.3, 440.0)
    for i, f in enumerate(notes):
        _place(melody, _note(f, 0.6, sr, harmonics=12, decay=0.3), i * n // len(notes))
    t = np.arange(n) / sr
    chirp = np.sin(2 * np.pi * 100 * seconds / np.log(80) * (np.exp(np.log(80) * t / seconds) - 1))
    drums = _drums(seconds, sr, rng)
    clips = {
        "chord": chord,
        "melody": melody,
        "drums": drums,
        "chirp": chirp,
        "band": 0.5 * melody + 0.4 * chord + 0.6 * drums,
    }
    return {k: (0.8 * v / np.max(np.abs(v))).astype(np.float32) for k, v in clips.items()}


def random_clip(rng: np.random.Generator, seconds: float = 4.0, sr: int = SAMPLE_RATE) -> np.ndarray:
    """A mix of 1-3 random layers: a note sequence, chords, drums, a chirp, noise bursts; peak 0.8."""
    n = int(seconds * sr)
    track = np.zeros(n)

    def notes() -> np.ndarray:
        layer, count = np.zeros(n), int(rng.integers(2, 12))
        for i in range(count):
            f = 110 * 2 ** rng.uniform(0, 4)
            _place(
                layer,
                _note(f, rng.uniform(0.2, 1.5), sr, int(rng.integers(2, 20)), rng.uniform(0.1, 1.0)),
                int(i * n / count),
            )
        return layer

    def chords() -> np.ndarray:
        layer, count = np.zeros(n), int(rng.integers(1, 5))
        for i in range(count):
            root = 80 * 2 ** rng.uniform(0, 2.5)
            for ratio in rng.choice([1.0, 1.19, 1.26, 1.335, 1.5, 1.68, 2.0], size=3, replace=False):
                _place(
                    layer,
                    _note(root * ratio, seconds / count + 0.3, sr, int(rng.integers(3, 12)), 0.8),
                    int(i * n / count),
                )
        return layer

    def chirp() -> np.ndarray:
        t = np.arange(n) / sr
        f0, f1 = 50 * 2 ** rng.uniform(0, 3), 400 * 2 ** rng.uniform(0, 4)
        return np.sin(2 * np.pi * f0 * seconds / np.log(f1 / f0) * (np.exp(np.log(f1 / f0) * t / seconds) - 1))

    def bursts() -> np.ndarray:
        layer = np.zeros(n)
        for _ in range(int(rng.integers(2, 10))):
            length = int(rng.uniform(0.02, 0.4) * sr)
            burst = rng.standard_normal(length)
            if rng.random() < 0.5:
                burst = np.diff(burst, prepend=0)  # brighter
            _place(layer, burst * _envelope(length, sr, 0.001, rng.uniform(0.01, 0.2)), int(rng.integers(0, n)))
        return layer

    layers = [notes, chords, lambda: _drums(seconds, sr, rng, bpm=rng.uniform(70, 170)), chirp, bursts]
    for pick in rng.choice(len(layers), size=int(rng.integers(1, 4)), replace=False):
        layer = layers[pick]()
        track += rng.uniform(0.3, 1.0) * layer / (np.max(np.abs(layer)) + 1e-9)
    return (0.8 * track / (np.max(np.abs(track)) + 1e-9)).astype(np.float32)


def write_random_clips(folder: Path, count: int, seconds: float = 4.0, seed: int = 1) -> list[Path]:
    """`count` seeded random clips as 16-bit wavs (the demo VAE's training material)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(count):
        clip = random_clip(rng, seconds)
        path = folder / f"clip{i:04d}.wav"
        sf.write(str(path), clip, SAMPLE_RATE, subtype="PCM_16")
        paths.append(path)
    return paths


def write_demo_clips(folder: Path, seconds: float = 4.0, seed: int = 0) -> list[Path]:
    """Write the demo clips as 16-bit wavs into `folder` unless they are already there."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, clip in demo_clips(seconds, seed=seed).items():
        path = folder / f"{name}.wav"
        if not path.exists():
            sf.write(str(path), clip, SAMPLE_RATE, subtype="PCM_16")
        paths.append(path)
    return paths


if __name__ == "__main__":
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "outputs/demo/clips")
    print(f"demo clips in {folder}: {', '.join(p.name for p in write_demo_clips(folder))}")
