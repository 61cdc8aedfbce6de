"""`python -m audiovae.cache info|clear [--dir DIR]`: what the cross-run cache holds, or empty it. Only the entries
the cache wrote are removed; a folder that is not a cache is refused with one line and left as it is."""

import argparse
import sys

from audiovae.cache.store import CacheStore
from audiovae.errors import exit_status


def main(argv=None) -> int:
    """`python -m audiovae.cache info | clear [--dir DIR]`: what the store holds, or remove the entries it wrote
    (nothing else)."""
    parser = argparse.ArgumentParser(prog="python -m audiovae.cache", description=__doc__)
    parser.add_argument("command", choices=["info", "clear"])
    parser.add_argument(
        "--dir", default=None, help="the cache folder (default: $AUDIOVAE_CACHE_DIR or $AUDIOVAE_HOME/cache)"
    )
    args = parser.parse_args(argv)
    store = CacheStore(args.dir)

    def run() -> None:
        if args.command == "info":
            if store.folder.exists():
                store.check()
            info = store.info()
            print(
                f"cache: {info['dir']}\nentries: {info['entries']} files ({info['unfinished']} unfinished)\n"
                f"size: {info['bytes'] / 1024**2:.1f} MiB"
            )
        else:
            print(f"removed {store.clear()} entries from {store.folder}")

    return exit_status(run)


if __name__ == "__main__":
    sys.exit(main())
