"""Scripts that compute reference values with the reference tools' own code (kept as test data in tests/data/).

`use_downloaded` is what they share: packages from the registry, unpacked and importable without installing them."""

import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path


def use_downloaded(packages: dict[str, str], folder: Path) -> None:
    """Download `packages` (name -> version; no dependencies) into `folder`, unpack their wheels and source
    archives there and put them first on `sys.path`."""
    for name, version in packages.items():
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "--no-deps", f"{name}=={version}", "-d", str(folder)],
            check=True,
        )
    for wheel in folder.glob("*.whl"):
        with zipfile.ZipFile(wheel) as z:
            z.extractall(folder / "src")
    for sdist in folder.glob("*.tar.gz"):
        with tarfile.open(sdist) as t:
            t.extractall(folder / "sdist", filter="data")
    sys.path[:0] = [str(folder / "src"), *(str(p) for p in (folder / "sdist").glob("*"))]
