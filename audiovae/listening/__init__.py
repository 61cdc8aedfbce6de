"""Listening tests of an evaluation run: blind pages (`blind`), un-blinding and summarising their answers
(`score`), and an export for webMUSHRA (`webmushra`). Command line: `python -m audiovae.listening --help`."""
