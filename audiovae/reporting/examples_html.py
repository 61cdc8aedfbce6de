"""examples/index.html: a training run's validation examples, newest validation first, each clip with
synchronised players for reference, vocoder ceiling, base and enhanced (keys 1–4) and its figure. Built from the
files in the folder (`step<N>_<i>.png`, `step<N>_<i>.<variant>.wav`), so it is rewritten whole after each
validation that adds examples, and a resumed run's page lists every validation."""

import re
from pathlib import Path

from audiovae.reporting.html import figure_html, player_html, write_page
from audiovae.reporting.records import WAVE_NAMES

EXAMPLE = re.compile(r"step(\d+)_(\d+)\.png")


def write_examples_page(folder: Path) -> Path:
    """examples.html of a training: the validation examples' figures and audio by step, newest first."""
    examples = sorted(
        ((int(m[1]), int(m[2]), m[0]) for p in folder.glob("step*_*.png") if (m := EXAMPLE.fullmatch(p.name))),
        key=lambda e: (-e[0], e[1]),
    )
    articles = []
    for step, i, png in examples:
        stem = png[: -len(".png")]
        sources = [(v, f"{stem}.{v}.wav") for v in WAVE_NAMES]
        articles.append(
            f'<article class="file" tabindex="-1"><h3>step {step}, example {i}</h3>'
            f"{player_html(sources, folder)}{figure_html(png, f'step {step}, example {i}', folder)}"
            "</article>"
        )
    body = (
        '<header><h1>Validation examples</h1><p class="note">Newest first. Click an example, then 1–4: '
        "reference, vocoder, base, enhanced at the same position; space: play/pause; j/k: next/previous.</p>"
        f"</header>{''.join(articles) or '<p>No validation has written examples yet.</p>'}"
    )
    return write_page(folder / "index.html", "audiovae validation examples", body)
