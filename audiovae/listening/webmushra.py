"""A run as a webMUSHRA experiment (github.com/audiolabs/webMUSHRA): `webmushra/configs/audiovae.yaml` with one
MUSHRA page per file (reference; stimuli vocoder, base and enhanced — webMUSHRA adds the hidden reference and
shuffles the order itself) and the audio as 16-bit PCM copies under `webmushra/configs/resources/audio/audiovae/`.
Copy the folder's `configs/` into a webMUSHRA installation and open `?config=audiovae.yaml`."""

import csv
from pathlib import Path
from typing import Optional

import numpy as np
import soundfile as sf
from omegaconf import OmegaConf

from audiovae.errors import ListeningError
from audiovae.listening.blind import listenable, run_results
from audiovae.written import claim_outputs

STIMULI = ("vocoder", "base", "enhanced")


def pcm16_copy(source: Path, target: Path) -> int:
    """`source` written as 16-bit PCM at its own rate; returns how many samples had to be clipped to ±1."""
    data, rate = sf.read(str(source), dtype="float32", always_2d=False)
    clipped = int(np.count_nonzero(np.abs(data) > 1.0))
    target.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(target), np.clip(data, -1.0, 1.0), rate, subtype="PCM_16")
    return clipped


def export_webmushra(run: Path, out: Optional[Path] = None, max_files: int = 20, force: bool = False) -> Path:
    """Write the experiment for up to `max_files` of the run's files (in results order) and return its config. A file
    in `out` that audiovae did not write is never replaced (OverwriteError) unless `force`."""
    run = Path(run)
    results = run_results(run)
    out = Path(out) if out else run / "webmushra"
    items = listenable(results, run)[:max_files]
    if not items:
        raise ListeningError(f"{run}: no evaluated file has its four wavs under audio/ (outputs.save_audio=false?)")
    resources = "configs/resources/audio/audiovae"
    names = [f"{resources}/t{i + 1:02d}/{name}.wav" for i in range(len(items)) for name in ("reference", *STIMULI)]
    claim_outputs(out, [*names, "configs/audiovae.yaml", "trials.csv"], force)
    pages = [
        {
            "type": "generic",
            "id": "welcome",
            "name": "Welcome",
            "content": "Rate how close each condition is to the reference (100: indistinguishable).",
        }
    ]
    clipped, mapping = 0, []
    for i, (file, stem) in enumerate(items):
        trial = f"t{i + 1:02d}"
        paths = {name: f"{resources}/{trial}/{name}.wav" for name in ("reference", *STIMULI)}
        for name, path in paths.items():
            clipped += pcm16_copy(run / "audio" / f"{stem}.{name}.wav", out / path)
        pages.append(
            {
                "type": "mushra",
                "id": trial,
                "name": f"Trial {i + 1} of {len(items)}",
                "content": "Rate each condition against the reference.",
                "showWaveform": True,
                "enableLooping": True,
                "reference": paths["reference"],
                "createAnchor35": False,
                "createAnchor70": False,
                "stimuli": {name: paths[name] for name in STIMULI},
            }
        )
        mapping.append({"trial": trial, "file": file})
    pages.append(
        {
            "type": "finish",
            "name": "Thank you",
            "content": "Thank you for listening.",
            "showResults": True,
            "writeResults": True,
        }
    )
    config = {
        "testname": f"audiovae {run.name}",
        "testId": f"audiovae_{run.name}".replace("-", "_"),
        "bufferSize": 2048,
        "stopOnErrors": True,
        "showButtonPreviousPage": True,
        "remoteService": "service/write.php",
        "pages": pages,
    }
    path = out / "configs" / "audiovae.yaml"
    path.write_text(OmegaConf.to_yaml(OmegaConf.create(config)))
    with open(out / "trials.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["trial", "file"])
        writer.writeheader()
        writer.writerows(mapping)
    if clipped:
        print(f"note: {clipped} samples beyond ±1 were clipped in the 16-bit copies")
    return path
