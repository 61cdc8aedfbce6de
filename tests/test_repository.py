"""What the repository holds: source, configs, docs and the bundled model weights; no wheels, downloads or outputs."""

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LIMIT = 1 << 20  # bytes
BUNDLED_WEIGHTS = "audiovae/assets/models/"  # the demo and tiny models the project ships (safetensors)


def tracked_files() -> list[str]:
    try:
        listing = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout: nothing to say about what the repository holds")
    return [name for name in listing.decode().split("\0") if name]


def oversized(names: list[str], root: Path = ROOT) -> list[str]:
    """Tracked files over LIMIT outside the bundled weights, and any packaged distribution, whatever its size."""
    out = []
    for name in names:
        path = root / name
        if not path.is_file():
            continue
        bundled = name.startswith(BUNDLED_WEIGHTS) and name.endswith(".safetensors")
        if name.endswith((".whl", ".tar.gz", ".zip")) or (path.stat().st_size > LIMIT and not bundled):
            out.append(f"{name} ({path.stat().st_size} bytes)")
    return out


def test_the_repository_holds_no_file_over_1_mb_besides_the_bundled_weights():
    assert oversized(tracked_files()) == []


def test_a_committed_wheel_or_large_file_is_named(tmp_path):
    (tmp_path / "pkg-1.0-py3-none-any.whl").write_bytes(b"PK")
    (tmp_path / "data.npy").write_bytes(b"\0" * (LIMIT + 1))
    (tmp_path / "audiovae/assets/models/demo").mkdir(parents=True)
    (tmp_path / "audiovae/assets/models/demo/w.safetensors").write_bytes(b"\0" * (LIMIT + 1))
    found = oversized(["pkg-1.0-py3-none-any.whl", "data.npy", "audiovae/assets/models/demo/w.safetensors"], tmp_path)
    assert [entry.split(" ")[0] for entry in found] == ["pkg-1.0-py3-none-any.whl", "data.npy"]
