"""python -m audiovae.listening {pages,score,webmushra} ... (also `audiovae-listening`)."""

import argparse
import sys
from pathlib import Path

from audiovae.errors import exit_status


def main(argv: list[str]) -> int:
    """`python -m audiovae.listening pages | score | webmushra`: (re)write a run's blind pages, score answers, export to
    webMUSHRA; returns the exit status."""
    parser = argparse.ArgumentParser(prog="audiovae-listening", description="Listening tests of evaluation runs")
    commands = parser.add_subparsers(dest="command", required=True)
    pages = commands.add_parser("pages", help="(re)write a run's blind pages under RUN/listening/")
    pages.add_argument("run", type=Path)
    pages.add_argument("--max-files", type=int, default=20)
    pages.add_argument("--seed", type=int, help="default: the run's seed")
    scoring = commands.add_parser("score", help="un-blind downloaded answers and summarise them")
    scoring.add_argument("answers", nargs="+", type=Path, help="answers-*.json or .csv files of one page")
    scoring.add_argument("--key", type=Path, help="RUN/listening/keys/<mode>.json (default: found from the page)")
    scoring.add_argument("--out", type=Path, help="default: the run's listening/ folder")
    scoring.add_argument("--force", action="store_true", help="overwrite files in --out that audiovae did not write")
    export = commands.add_parser("webmushra", help="export a run as a webMUSHRA experiment (RUN/webmushra/)")
    export.add_argument("run", type=Path)
    export.add_argument("--out", type=Path)
    export.add_argument("--max-files", type=int, default=20)
    export.add_argument("--force", action="store_true", help="overwrite files in --out that audiovae did not write")
    args = parser.parse_args(argv)

    def run() -> None:
        if args.command == "pages":
            from audiovae.config.compose import load_run_config
            from audiovae.listening.blind import run_results, write_listening_pages

            results = run_results(args.run)
            seed = args.seed if args.seed is not None else load_run_config(args.run / "config.yaml").seed
            written = write_listening_pages(args.run, results, seed, args.max_files)
            for path in written.values():
                print(path)
            if not written:
                print(f"{args.run}: no file has saved audio; nothing written")
        elif args.command == "score":
            from audiovae.listening.score import score

            text, out = score(args.answers, args.key, args.out, args.force)
            print(text)
            print(f"written to {out}")
        else:
            from audiovae.listening.webmushra import export_webmushra

            print(export_webmushra(args.run, args.out, args.max_files, args.force))

    return exit_status(run)


def cli() -> None:
    """The `audiovae-listening` console entry point."""
    sys.exit(main(sys.argv[1:]))


if __name__ == "__main__":
    cli()
