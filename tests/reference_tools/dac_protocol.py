"""Writes tests/data/dac_protocol_references.json: the columns of DAC's evaluation as descript-audio-codec 1.0.0's
`scripts/evaluate.py` computes them (its `get_metrics`: audiotools 0.7.2's `AudioSignal.resample`, dac's
`MelSpectrogramLoss`, `MultiScaleSTFTLoss`, `L1Loss`, `SISDRLoss` and audiotools' `metrics.quality.visqol`), on
seeded test pairs, for tests/test_protocols.py.

The two packages do not install beside this project (audiotools pins torchaudio, which pins another torch), so this
script downloads their wheels and argbind's and flatten-dict's (the package registry only, no dependencies) and
imports them as they are; the modules they import but that the columns never call (torchaudio, ffmpy, randomname,
einops, docstring_parser, tensorboard) are placeholders that raise if called. Google's C++ ViSQOL binding
(`visqol.visqol_lib_py`) is not on the registry: a shim of its `VisqolApi.Create/Measure` and config messages runs
visqol-python's model of the same mode, and numpy's removed `np.float` alias (which audiotools' `visqol` still
uses) is restored as `float`. Run:

    .venv/bin/python -m tests.reference_tools.dac_protocol
"""

import importlib.resources
import json
import sys
import tempfile
import types
from pathlib import Path

import numpy as np
import torch

from tests.reference_tools import use_downloaded

OUT = Path(__file__).parents[1] / "data" / "dac_protocol_references.json"
PACKAGES = {
    "descript-audiotools": "0.7.2",
    "descript-audio-codec": "1.0.0",
    "argbind": "0.3.9",
    "flatten-dict": "0.5.0",
}
RATE, SECONDS = 16000, 1.5
CASES = ("lowpass", "gain_noise", "quantised")


def pair(case: str) -> tuple[np.ndarray, np.ndarray]:
    """(reference, estimate) float32 at RATE: a seeded clip of the demo's generator and a degraded copy."""
    from scipy.signal import butter, sosfilt

    from audiovae.demo import random_clip

    seed = CASES.index(case)
    rng = np.random.default_rng(100 + seed)
    x = (0.5 * random_clip(rng, SECONDS, RATE)).astype(np.float32)
    noise = np.random.default_rng(200 + seed).standard_normal(len(x))
    if case == "lowpass":
        y = sosfilt(butter(8, 4000, fs=RATE, output="sos"), x) + 0.003 * noise
    elif case == "gain_noise":
        y = 0.7 * x + 0.01 * noise
    else:
        y = np.round(x * 64) / 64
    return x, y.astype(np.float32)


class _Placeholder:
    """Stands for a name of a module that is not installed; calling it fails loudly."""

    def __init__(self, name: str):
        self._name = name

    def __call__(self, *args, **kwargs):
        raise RuntimeError(f"{self._name} called: it is not installed for this reference run")

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        return _Placeholder(f"{self._name}.{name}")


class _Absent(types.ModuleType):
    __path__: list = []

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        return _Placeholder(f"{self.__name__}.{name}")


def _visqol_binding() -> None:
    """`visqol.visqol_lib_py` and `visqol.pb2` as audiotools calls them, on visqol-python."""
    import visqol

    class Options(types.SimpleNamespace):
        pass

    class VisqolConfig:
        def __init__(self):
            self.audio = types.SimpleNamespace(sample_rate=48000)
            self.options = Options(use_speech_scoring=False, svr_model_path="")

    class VisqolApi:
        def Create(self, config):
            self.mode = "speech" if config.options.use_speech_scoring else "audio"
            self.rate = config.audio.sample_rate
            self.api = visqol.VisqolApi()
            self.api.create(mode=self.mode)

        def Measure(self, reference, degraded):
            from audiovae.metrics.visqol import one_numba_thread

            with one_numba_thread():
                return self.api.measure_from_arrays(
                    np.ascontiguousarray(reference), np.ascontiguousarray(degraded), self.rate
                )

    lib = types.ModuleType("visqol.visqol_lib_py")
    lib.VisqolApi, lib.__file__ = VisqolApi, visqol.__file__
    pb2 = types.ModuleType("visqol.pb2")
    config_pb2 = types.ModuleType("visqol.pb2.visqol_config_pb2")
    config_pb2.VisqolConfig = VisqolConfig
    pb2.visqol_config_pb2, pb2.similarity_result_pb2 = config_pb2, types.ModuleType("visqol.pb2.similarity_result_pb2")
    sys.modules.update(
        {
            "visqol.visqol_lib_py": lib,
            "visqol.pb2": pb2,
            "visqol.pb2.visqol_config_pb2": config_pb2,
            "visqol.pb2.similarity_result_pb2": pb2.similarity_result_pb2,
        }
    )


def _import_dac(folder: Path):
    """(audiotools, dac.nn.loss) from the downloaded sources."""
    use_downloaded(PACKAGES, folder)
    sys.modules["importlib_resources"] = importlib.resources
    sys.modules["torch.utils.tensorboard"] = _Absent("torch.utils.tensorboard")
    np.float = float  # removed from numpy in 1.24; audiotools' visqol casts with it
    _visqol_binding()
    for _ in range(20):
        try:
            import audiotools
            import dac.nn.loss as losses

            return audiotools, losses
        except ModuleNotFoundError as missing:
            sys.modules[missing.name] = _Absent(missing.name)
    raise RuntimeError("audiotools does not import")


def dac_columns(audiotools, losses, x: np.ndarray, y: np.ndarray) -> dict:
    """`get_metrics` of DAC's evaluate.py on reference `x` and reconstruction `y` (its body, on arrays, not files)."""
    state = {
        "mel": losses.MelSpectrogramLoss(),
        "stft": losses.MultiScaleSTFTLoss(),
        "waveform": losses.L1Loss(),
        "sisdr": losses.SISDRLoss(),
    }
    signal = audiotools.AudioSignal(torch.from_numpy(x)[None, None], RATE)
    recons = audiotools.AudioSignal(torch.from_numpy(y)[None, None], RATE)
    output = {}
    for sr in [22050, 44100]:
        xs, ys = signal.clone().resample(sr), recons.clone().resample(sr)
        k = "22k" if sr == 22050 else "44k"
        output.update(
            {
                f"mel-{k}": state["mel"](xs, ys),
                f"stft-{k}": state["stft"](xs, ys),
                f"waveform-{k}": state["waveform"](xs, ys),
                f"sisdr-{k}": -state["sisdr"](xs, ys),
                f"visqol-audio-{k}": audiotools.metrics.quality.visqol(xs, ys),
                f"visqol-speech-{k}": audiotools.metrics.quality.visqol(xs, ys, "speech"),
            }
        )
    return {k: float(v) for k, v in output.items()}


def main() -> None:
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        audiotools, losses = _import_dac(Path(tmp))
        cases = {case: dac_columns(audiotools, losses, *pair(case)) for case in CASES}
    payload = {"packages": PACKAGES, "rate": RATE, "seconds": SECONDS, "cases": cases}
    OUT.write_text(json.dumps(payload, indent=1) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
