"""`audiovae-data` (or `python -m audiovae.data_cli`): move a dataset between the sources runs read.

    audiovae-data manifest FOLDER OUT.jsonl      # a JSON-lines manifest of a folder's audio (ids = its file keys)
    audiovae-data pack SOURCE OUT_DIR            # a folder or manifest packed into WebDataset shards
    audiovae-data latents RUN_DIR OUT_DIR        # an evaluation's latents as a pre-encoded shard set

Nothing existing is overwritten: a file the command would write (the manifest; a shard or the index of a folder of
shards) that exists is refused in one line, exit 2, before anything is written, unless `--force`, and then only the
files this command names are replaced; other files in the folder are never touched.
"""

import argparse
import sys
from pathlib import Path
from typing import Optional, Sequence

from audiovae.errors import exit_status
from audiovae.written import check_single_output

PATTERNS = [
    "*.wav",
    "*.flac",
    "*.ogg",
    "*.oga",
    "*.opus",
    "*.mp3",
    "*.aiff",
    "*.aif",
    "*.caf",
    "*.w64",
    "*.rf64",
    "*.au",
]


def _manifest(args) -> int:
    from omegaconf import OmegaConf

    from audiovae.data.manifests import write_manifest
    from audiovae.data.sources import list_entries

    out = Path(args.out)
    check_single_output(out, [Path(args.folder)], args.force)
    listing = list_entries(OmegaConf.create({"dir": args.folder, "patterns": args.patterns or PATTERNS}))
    check_single_output(out, [Path(str(e.sound)) for e in listing.entries], args.force)  # never one it lists
    out.parent.mkdir(parents=True, exist_ok=True)
    n = write_manifest(listing.entries, out)
    print(f"{listing.line()}; wrote {n} entries to {out}")
    return 0


def _pack(args) -> int:
    from audiovae.data.packing import pack_entries, read_source

    out = Path(args.out_dir)
    listing = read_source(args.source, args.patterns or PATTERNS)
    written = pack_entries(listing.entries, out, args.per_shard, args.force)
    print(f"{listing.line()}; packed into {len(written)} shard(s): {out}/shard-{{000000..{len(written) - 1:06d}}}.tar")
    return 0


def _latents(args) -> int:
    from audiovae.cli import admit_code
    from audiovae.evaluation.latent_export import export_latents

    saved = str(Path(args.run_dir) / "config.yaml")
    admit = admit_code(saved, [], args.trust_code)
    written, count = export_latents(Path(args.run_dir), Path(args.out_dir), args.per_shard, args.force, admit)
    print(f"wrote the latents of {count} entries into {len(written)} shard(s) under {args.out_dir}")
    return 0


def parser() -> argparse.ArgumentParser:
    """The command line of `audiovae-data`: `manifest`, `pack` and `latents`, each with `--force`."""
    p = argparse.ArgumentParser(prog="audiovae-data", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    m = sub.add_parser("manifest", help="write a JSON-lines manifest of a folder's audio")
    m.add_argument("folder")
    m.add_argument("out")
    m.add_argument("--patterns", nargs="+", help="file name patterns (default: every audio extension)")
    m.add_argument("--force", action="store_true")
    k = sub.add_parser("pack", help="pack a folder or a manifest into WebDataset shards")
    k.add_argument("source", help="a folder, or a manifest (.jsonl, .csv, .tsv, AudioLDM .json)")
    k.add_argument("out_dir")
    k.add_argument("--per-shard", type=int, default=1000, help="samples per shard (default 1000)")
    k.add_argument("--patterns", nargs="+")
    k.add_argument("--force", action="store_true")
    t = sub.add_parser("latents", help="an evaluation's base and enhanced latents as a pre-encoded shard set")
    t.add_argument("run_dir")
    t.add_argument("out_dir")
    t.add_argument("--per-shard", type=int, default=1000)
    t.add_argument("--force", action="store_true")
    t.add_argument("--trust-code", action="store_true", help="run the code the run's config names")
    return p


def cli(argv: Optional[Sequence[str]] = None) -> int:
    """`audiovae-data`'s entry point: the subcommand's status, a user's error as one line and its exit status."""
    args = parser().parse_args(argv)
    if getattr(args, "per_shard", 1) < 1:
        print("error: --per-shard must be >= 1", file=sys.stderr)
        return 2
    return exit_status(lambda: {"manifest": _manifest, "pack": _pack, "latents": _latents}[args.command](args))


if __name__ == "__main__":
    sys.exit(cli())
