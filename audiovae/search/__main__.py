"""`python -m audiovae.search`: the `audiovae-search` command."""

import sys

from audiovae.cli import search_main

if __name__ == "__main__":
    sys.exit(search_main(sys.argv[1:]))
