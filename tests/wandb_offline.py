"""Read an offline W&B run back from disk (test oracle): summary and config from the `.wandb` record log,
tables from `files/media/table`. The log is LevelDB-style: a 7-byte file header (':W&B', magic, version),
then records in 32 KiB blocks, each chunk `<crc32 u32><length u16><type u8><data>` (1 full, 2 first, 3 middle,
4 last)."""

import json
import struct
import time
from pathlib import Path
from typing import Iterator

from wandb.proto import wandb_internal_pb2 as pb

BLOCK, HEADER = 32768, 7


def _records(path: Path):
    data = path.read_bytes()
    assert data[:4] == b":W&B", f"{path} is not a W&B record log"
    pos, pending = HEADER, b""
    while pos + HEADER <= len(data):
        left_in_block = BLOCK - pos % BLOCK
        if left_in_block < HEADER:
            pos += left_in_block
            continue
        _, length, kind = struct.unpack("<IHB", data[pos : pos + HEADER])
        chunk = data[pos + HEADER : pos + HEADER + length]
        pos += HEADER + length
        if kind == 0 and length == 0:
            break
        pending = chunk if kind in (1, 2) else pending + chunk
        if kind in (1, 4):
            record = pb.Record()
            record.ParseFromString(pending)
            yield record


def read_offline_run(run_dir: Path, wait_s: float = 20.0) -> dict:
    """`_read_offline_run`, once the run's exit record is on disk: within one Python process W&B's core (a separate
    process) may still be writing the log when `run.finish()` returns; a finished process has flushed it."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            logged = _read_offline_run(run_dir)
        except Exception:  # a record still being written
            if time.monotonic() > deadline:
                raise
            logged = None
        if logged is not None and (logged["exit_code"] is not None or time.monotonic() > deadline):
            return logged
        time.sleep(0.2)


def _read_offline_run(run_dir: Path) -> dict:
    """{'summary', 'config', 'job_type', 'group', 'tables': {key: table json}, 'artifacts': [{type, name}],
    'exit_code': the run's recorded exit code (None: never finished), 'history': [{key: value} per log call],
    'id': the run id}; artifacts also carry their aliases, metadata (JSON) and the local paths of their files."""
    run_dir = Path(run_dir)
    summary, config, run, artifacts, exit_code, history = {}, {}, None, [], None, []
    for record in _records(next(run_dir.glob("run-*.wandb"))):
        kind = record.WhichOneof("record_type")
        if kind == "summary":
            for item in record.summary.update:
                summary[item.key or "/".join(item.nested_key)] = json.loads(item.value_json)
        elif kind == "config":
            for item in record.config.update:
                config[item.key] = json.loads(item.value_json)
        elif kind == "exit":
            exit_code = record.exit.exit_code
        elif kind == "artifact":
            artifacts.append(
                {
                    "type": record.artifact.type,
                    "name": record.artifact.name,
                    "aliases": list(record.artifact.aliases),
                    "metadata": record.artifact.metadata,
                    "paths": [e.local_path for e in record.artifact.manifest.contents],
                    "entries": {e.path: e.local_path for e in record.artifact.manifest.contents},
                }
            )
        elif kind == "history":
            history.append(
                {item.key or "/".join(item.nested_key): json.loads(item.value_json) for item in record.history.item}
            )
        elif kind == "run":
            run = record.run
            for item in run.config.update:
                config[item.key] = json.loads(item.value_json)
    tables = {}
    for path in (run_dir / "files" / "media" / "table").rglob("*.table.json"):
        key = str(path.relative_to(run_dir / "files" / "media" / "table").parent / path.name.split("_")[0])
        tables[key] = json.loads(path.read_text())
    return {
        "summary": summary,
        "config": config,
        "job_type": run.job_type if run else None,
        "group": run.run_group if run else None,
        "tables": tables,
        "artifacts": artifacts,
        "exit_code": exit_code,
        "history": history,
        "id": run.run_id if run else None,
        "project": run.project if run else None,
    }


def artifact_paths(records: list[bytes]) -> Iterator[str]:
    """Every local path an artifact record of the log refers to."""
    for raw in records:
        record = pb.Record()
        record.ParseFromString(raw)
        if record.WhichOneof("record_type") == "artifact":
            yield from (entry.local_path for entry in record.artifact.manifest.contents if entry.local_path)
