"""Writes tests/data/set_metric_references.json: KAD and FAD∞ as kadtk 1.1.0 and fadtk 1.1.0 compute them, on seeded
embedding sets, for tests/test_set_metrics.py.

Neither package installs beside this project (fadtk pins torch < 2.6 and numpy < 2 and pulls tensorflow; both
import torchaudio and their embedding models at import), so this script downloads their wheels (`pip download
--no-deps`, the package registry only), takes the functions that compute the numbers out of their sources as
they are (`calc_kernel_audio_distance`, `median_pairwise_distance`; `calc_embd_statistics`,
`calc_frechet_distance`, `FrechetAudioDistance.score_inf`) and runs them with the modules they use. Run:

    .venv/bin/python -m tests.reference_tools.set_metrics
"""

import ast
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch

OUT = Path(__file__).parents[1] / "data" / "set_metric_references.json"
WHEELS = {"kadtk": "1.1.0", "fadtk": "1.1.0"}
CASES = [  # name, files in the reference and evaluated sets, dimensions, how the evaluated set differs
    ("shifted", 40, 40, 8, 0.3),
    ("alike", 30, 30, 8, 0.0),
    ("scaled", 60, 48, 12, 0.1),
]


def source_of(wheel: Path, module: str) -> str:
    """The text of `module` (a path inside the wheel)."""
    with zipfile.ZipFile(wheel) as z:
        return z.read(module).decode()


def functions(source: str, names: tuple, scope: dict) -> dict:
    """The top-level functions `names` (or `Class.method`) of `source`, defined in `scope` as written there."""
    tree = ast.parse(source)
    found = {}
    for node in tree.body:
        members = node.body if isinstance(node, ast.ClassDef) else [node]
        for member in members:
            if not isinstance(member, ast.FunctionDef):
                continue
            qualified = f"{node.name}.{member.name}" if isinstance(node, ast.ClassDef) else member.name
            if qualified in names:
                found[qualified] = member
    module = ast.Module(body=list(found.values()), type_ignores=[])
    exec(compile(module, "<reference>", "exec"), scope)
    return {name: scope[found[name].name] for name in names}


def embeddings(seed: int, n: int, m: int, dim: int, shift: float) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    reference = rng.normal(size=(n, dim))
    evaluated = rng.normal(size=(m, dim)) * (1 + shift) + shift
    return reference, evaluated


def main() -> None:
    from scipy import linalg

    with tempfile.TemporaryDirectory() as folder:
        for name, version in WHEELS.items():
            subprocess.run(
                [sys.executable, "-m", "pip", "download", "-q", "--no-deps", f"{name}=={version}", "-d", folder],
                check=True,
            )
        kad_source = source_of(next(Path(folder).glob("kadtk-*.whl")), "kadtk/kad.py")
        fad_source = source_of(next(Path(folder).glob("fadtk-*.whl")), "fadtk/fad.py")
    quiet = SimpleNamespace(info=lambda *a: None, warning=lambda *a: None)
    kad = functions(
        kad_source,
        ("calc_kernel_audio_distance", "median_pairwise_distance"),
        {"torch": torch, "np": np, "SCALE_FACTOR": 100, "Path": Path},
    )
    fad = functions(
        fad_source,
        ("calc_embd_statistics", "calc_frechet_distance", "FrechetAudioDistance.score_inf"),
        {
            "np": np,
            "linalg": linalg,
            "scisqrt": np.lib.scimath.sqrt,
            "log": quiet,
            "tq": lambda x, **k: x,
            "Path": Path,
            "PathLike": object,
            "FADInfResults": lambda **k: k,
        },
    )
    cases = []
    for seed, (name, n, m, dim, shift) in enumerate(CASES):
        reference, evaluated = embeddings(seed, n, m, dim, shift)
        bandwidth = kad["median_pairwise_distance"](reference)
        value = {}
        for precision in (torch.float32, torch.float64):
            value[str(precision)] = float(
                kad["calc_kernel_audio_distance"](
                    torch.tensor(reference),
                    torch.tensor(evaluated),
                    (None, None),
                    "cpu",
                    bandwidth,
                    precision=precision,
                )
            )
        with tempfile.TemporaryDirectory() as folder:
            np.save(Path(folder) / "eval.npy", evaluated)
            owner = SimpleNamespace(
                load_stats=lambda _: fad["calc_embd_statistics"](reference), ml=SimpleNamespace(name="given")
            )
            np.random.seed(seed)  # score_inf draws from numpy's global generator
            inf = fad["FrechetAudioDistance.score_inf"](
                owner, "reference", [Path(folder) / "eval.npy"], steps=25, min_n=max(2, m // 2)
            )
        cases.append(
            {
                "name": name,
                "seed": seed,
                "reference": reference.tolist(),
                "evaluated": evaluated.tolist(),
                "kad_bandwidth": bandwidth,
                "kad_float32": value["torch.float32"],
                "kad_float64": value["torch.float64"],
                "fad_inf": float(inf["score"]),
                "fad_inf_slope": float(inf["slope"]),
                "fad_inf_r2": float(inf["r2"]),
            }
        )
    OUT.write_text(json.dumps({"tools": WHEELS, "cases": cases}, indent=1) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
