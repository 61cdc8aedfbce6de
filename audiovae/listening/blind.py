"""Blind listening pages of a run: `listening/<mode>/index.html` with its audio under neutral names
(`audio/t03.B.wav`), the variant behind each letter shuffled per file with a seeded RNG, and the key that
un-blinds it in `listening/keys/<mode>.json` (outside the page's folder: hand out `listening/<mode>/` alone).

Modes: `mushra` rates the hidden reference, vocoder ceiling, base and enhanced on 0–100 against the open
reference (MUSHRA-style, ITU-R BS.1534 without anchors); `ab` asks which of base and enhanced is closer to it.
"""

import hashlib
import json
import os
import random
import shutil
from dataclasses import asdict, dataclass
from html import escape
from pathlib import Path
from typing import Optional, Sequence

from audiovae.data.files import output_stem
from audiovae.errors import ListeningError
from audiovae.reporting.html import player_html, write_page
from audiovae.reporting.records import OK, WAVE_NAMES, FileResult, read_results
from audiovae.reporting.report_html import LISTENING_PAGES

MODES = {
    "mushra": ("reference", "vocoder", "base", "enhanced"),
    "ab": ("base", "enhanced"),
    "preference": ("base", "enhanced"),
}  # preference: generated audio, no reference; which is better
EVALUATION_MODES = ("mushra", "ab")
WITHOUT_REFERENCE = ("preference",)
KEY_FORMAT = "audiovae-listening-key"


@dataclass
class Trial:
    """One blind trial: its public name, the file it hides, its output stem and which variant each letter plays."""

    trial: str  # t01, t02, ...: the only name a listener sees
    file: str
    stem: str
    slots: dict  # letter -> variant


def run_results(run: Path) -> list[FileResult]:
    """An evaluation folder's results.csv (every file, with its output stem); a ListeningError if it is none."""
    if not (Path(run) / "results.csv").exists():
        raise ListeningError(f"{run}: not an evaluation output folder (results.csv is missing)")
    return read_results(Path(run) / "results.csv", [])


REQUIRED = ("reference", "base", "enhanced")  # every model's; a mel model's vocoder ceiling joins when saved


def listenable(
    results: Sequence[FileResult], folder: Path, required: Sequence[str] = REQUIRED
) -> list[tuple[str, str]]:
    """(file, output stem) of the evaluated files whose `required` wavs (reference, base and enhanced) are in
    `folder/audio`."""
    items = []
    for r in results:
        stem = r.stem or output_stem(r.file)
        if r.status == OK and all((folder / "audio" / f"{stem}.{v}.wav").exists() for v in required):
            items.append((r.file, stem))
    return items


def mode_variants(mode: str, folder: Path, items: Sequence[tuple[str, str]]) -> tuple[str, ...]:
    """The variants a mode rates: the vocoder ceiling only where every file has it (mel models)."""
    ceiling = all((folder / "audio" / f"{stem}.{WAVE_NAMES[1]}.wav").exists() for _, stem in items)
    return tuple(v for v in MODES[mode] if ceiling or v != WAVE_NAMES[1])


def plan_trials(
    items: Sequence[tuple[str, str]], mode: str, seed: int, max_files: int, variants: Sequence[str] | None = None
) -> list[Trial]:
    """Up to `max_files` files in a seeded random order; in each, the mode's variants behind letters A, B, ... in
    an order drawn from (seed, mode, file), so a file's letters do not depend on which other files take part."""
    chosen = sorted(items)
    random.Random(f"{seed}:{mode}").shuffle(chosen)
    trials = []
    for i, (file, stem) in enumerate(chosen[:max_files]):
        order = list(MODES[mode] if variants is None else variants)
        random.Random(f"{seed}:{mode}:{file}").shuffle(order)
        trials.append(Trial(f"t{i + 1:02d}", file, stem, {chr(65 + j): v for j, v in enumerate(order)}))
    return trials


def key_of(mode: str, seed: int, trials: Sequence[Trial]) -> dict:
    """The un-blinding key; `key_id` (a hash of the mapping) ties answers to it."""
    body = {"mode": mode, "seed": seed, "trials": [asdict(t) for t in trials]}
    key_id = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]
    return {"format": KEY_FORMAT, "version": 1, "key_id": key_id, **body}


def place(source: Path, target: Path) -> None:
    """`target` as a hard link to `source` (no second copy of the audio), or a copy where links are refused."""
    target.unlink(missing_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def trial_html(trial: Trial, index: int, total: int, mode: str, page_dir: Path, caption: str = "") -> str:
    """One trial's article: the players (with the reference unless the mode has none) and the answer controls of the
    mode."""
    reference = [] if mode in WITHOUT_REFERENCE else [("reference", f"audio/{trial.trial}.ref.wav")]
    sources = reference + [(letter, f"audio/{trial.trial}.{letter}.wav") for letter in trial.slots]
    shown = f'<p class="caption">“{escape(caption)}”</p>' if caption else ""
    if mode == "mushra":
        answer = (
            '<div class="rating">'
            + "".join(
                f'<label for="{trial.trial}-{s}">{s}</label>'
                f'<input id="{trial.trial}-{s}" type="range" min="0" max="100" '
                f'step="1" value="50" data-slot="{s}"><output data-slot="{s}">–</output>'
                for s in trial.slots
            )
            + "</div>"
        )
    else:
        question = "Better" if mode in WITHOUT_REFERENCE else "Closer to the reference"
        answer = (
            f'<div class="choices"><span>{question}: </span>'
            + "".join(
                f'<label><input type="radio" name="{trial.trial}" value="{v}"> {label}</label>'
                for v, label in (("A", "A"), ("B", "B"), ("none", "no preference"))
            )
            + "</div>"
        )
    return (
        f'<article class="trial" tabindex="-1" data-trial="{trial.trial}"><h3>Trial {index + 1} of {total}</h3>'
        f"{shown}{player_html(sources, page_dir)}{answer}</article>"
    )


INSTRUCTIONS = {
    "mushra": "Listen to the reference, then rate how close each lettered sound is to it: 100 = indistinguishable, "
    "0 = very different. One of them is the reference itself. Keys 1, 2, ... switch between the reference "
    "and the letters at the same position; space plays and pauses. A slider you did not move is saved as "
    "empty.",
    "ab": "Listen to the reference, then say which of A and B is closer to it (or no preference). Keys 1–3 switch "
    "between reference, A and B at the same position; space plays and pauses.",
    "preference": "Each trial is one generated sound, decoded two ways. Listen to A and B (the prompt is above them) "
    "and say which sounds better — clearer, more detailed, more natural — or no preference. Keys 1–2 "
    "switch between A and B at the same position; space plays and pauses.",
}


def write_mode(
    folder: Path,
    items: Sequence[tuple[str, str]],
    mode: str,
    seed: int,
    max_files: int,
    captions: Optional[dict] = None,
) -> Path:
    """A blind page of one mode over up to `max_files` items in a seeded order, its audio copied under anonymous names,
    and its key written apart."""
    page_dir = (folder / LISTENING_PAGES[mode]).parent  # where report.html links it
    keys_dir = page_dir.parent / "keys"
    trials = plan_trials(items, mode, seed, max_files, mode_variants(mode, folder, items))
    key = key_of(mode, seed, trials)
    shutil.rmtree(page_dir / "audio", ignore_errors=True)
    (page_dir / "audio").mkdir(parents=True)
    audio = folder / "audio"
    for t in trials:
        if mode not in WITHOUT_REFERENCE:
            place(audio / f"{t.stem}.reference.wav", page_dir / "audio" / f"{t.trial}.ref.wav")
        for letter, variant in t.slots.items():
            place(audio / f"{t.stem}.{variant}.wav", page_dir / "audio" / f"{t.trial}.{letter}.wav")
    keys_dir.mkdir(parents=True, exist_ok=True)
    (keys_dir / f"{mode}.json").write_text(json.dumps(key, indent=1))
    title = {
        "mushra": "Blind listening: rate against the reference",
        "ab": "Blind listening: A or B",
        "preference": "Blind listening: which is better, A or B",
    }[mode]
    body = (
        f"<header><h1>{title}</h1><p>{escape(INSTRUCTIONS[mode])}</p></header>"
        + "".join(
            trial_html(t, i, len(trials), mode, page_dir, (captions or {}).get(t.file, ""))
            for i, t in enumerate(trials)
        )
        + '<div class="submit"><label>Your name or id <input id="listener" autocomplete="off"></label>'
        '<button type="button" id="download-json">Download answers (JSON)</button>'
        '<button type="button" id="download-csv">Download answers (CSV)</button><span id="status"></span></div>'
    )
    return write_page(
        page_dir / "index.html",
        title,
        body,
        scripts=("player.js", "listening.js"),
        data={"listening-data": {"mode": mode, "key_id": key["key_id"], "trials": len(trials)}},
    )


def write_listening_pages(
    folder: Path,
    results: Sequence[FileResult],
    seed: int,
    max_files: int,
    modes: Sequence[str] = EVALUATION_MODES,
    captions: Optional[dict] = None,
) -> dict[str, Path]:
    """The blind pages of `modes` over up to `max_files` of the run's files with saved audio; none when there
    are none (or `max_files` is 0). `captions`: file -> text shown with its trial (a generated item's prompt)."""
    out = {}
    for mode in modes:
        items = listenable(results, folder, MODES[mode] if mode in WITHOUT_REFERENCE else REQUIRED)
        if items and max_files > 0:
            out[mode] = write_mode(folder, items, mode, seed, max_files, captions)
    return out
