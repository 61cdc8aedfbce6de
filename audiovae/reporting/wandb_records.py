"""An offline W&B run's record log (`run-<id>.wandb`), read and rewritten, so that a run folder moved to another
path or machine still syncs with its table media.

W&B records the staged files of an artifact (a table's audio and images, the exported enhancer) by absolute path.
audiovae stages them under the run's `out_dir/wandb/data` (`tracking.keep_wandb_in`); after `out_dir` moves,
`relocate` points those paths at the new location. The log is LevelDB's format: a 7-byte header, then 32 KiB
blocks of chunks `<crc32 u32><length u16><type u8><data>` (type 1 full, 2 first, 3 middle, 4 last; crc32 over the
type byte and the data); a block with fewer than 7 bytes left is padded with zeros. Records other than artifacts
are copied byte for byte.
"""

import struct
import zlib
from pathlib import Path

from wandb.proto import wandb_internal_pb2 as pb

from audiovae.errors import AudiovaeError

BLOCK, HEADER = 32768, 7
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4
STAGING = "/wandb/data/"  # where audiovae stages artifact files, below out_dir


class RecordLogError(AudiovaeError):
    """A `.wandb` file that is not a readable W&B record log."""


def _crc(kind: int, data: bytes) -> int:
    return zlib.crc32(data, zlib.crc32(bytes([kind]))) & 0xFFFFFFFF


def read_records(path: Path) -> tuple[bytes, list[bytes]]:
    """The log's header and every record's serialized bytes, checksums verified."""
    data = Path(path).read_bytes()
    if data[:4] != b":W&B":
        raise RecordLogError(f"{path}: not a W&B record log")
    records, pending, pos = [], b"", HEADER
    while pos + HEADER <= len(data):
        left = BLOCK - pos % BLOCK
        if left < HEADER:
            pos += left
            continue
        crc, length, kind = struct.unpack("<IHB", data[pos : pos + HEADER])
        if kind == 0 and length == 0:
            break
        chunk = data[pos + HEADER : pos + HEADER + length]
        if _crc(kind, chunk) != crc:
            raise RecordLogError(f"{path}: checksum mismatch at byte {pos}")
        pos += HEADER + length
        pending = chunk if kind in (FULL, FIRST) else pending + chunk
        if kind in (FULL, LAST):
            records.append(pending)
    return data[:HEADER], records


def write_records(path: Path, header: bytes, records: list[bytes]) -> None:
    """A record log of `records` (serialized), framed as W&B writes it."""
    out = bytearray(header)
    for record in records:
        rest, first = record, True
        while True:
            left = BLOCK - len(out) % BLOCK
            if left < HEADER:
                out += bytes(left)
                continue
            take = rest[: left - HEADER]
            rest = rest[len(take) :]
            kind = (FULL if not rest else FIRST) if first else (LAST if not rest else MIDDLE)
            out += struct.pack("<IHB", _crc(kind, take), len(take), kind) + take
            first = False
            if not rest:
                break
    Path(path).write_bytes(bytes(out))


def relocate(log: Path) -> int:
    """Point the staged artifact files of the offline run whose record log is `log` at the `out_dir` that now
    holds it (`<out_dir>/wandb/offline-run-*/run-*.wandb`); returns how many paths changed. The log is rewritten
    only when some did."""
    out_dir = Path(log).absolute().parents[2]
    header, records = read_records(log)
    changed, rewritten = 0, []
    for raw in records:
        record = pb.Record()
        record.ParseFromString(raw)
        if record.WhichOneof("record_type") != "artifact":
            rewritten.append(raw)
            continue
        for entry in record.artifact.manifest.contents:
            if STAGING in entry.local_path:
                moved = str(out_dir) + STAGING + entry.local_path.split(STAGING, 1)[1]
                if moved != entry.local_path:
                    entry.local_path, changed = moved, changed + 1
        rewritten.append(record.SerializeToString())
    if changed:
        write_records(log, header, rewritten)
    return changed
