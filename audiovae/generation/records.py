"""A generated item's row: evaluation's FileResult (its `file` is the row key, e.g. `p003_s1`) with the prompt, seed
and candidate it came from. results.csv carries them as the columns prompt_id, prompt, seed, candidate after `file`.

>>> r = GeneratedResult(0, "p000_s1", "ok", prompt="rain", prompt_id="p000", seed=1)
>>> generated_row(r, [])["prompt"], generated_row(r, [])["seed"]
('rain', 1)
"""

from dataclasses import dataclass, field
from typing import Sequence

from audiovae.models.variants import BASE, ENHANCED
from audiovae.reporting.records import FileResult, to_row

VARIANTS = (BASE, ENHANCED)
ITEM_COLUMNS = ("prompt_id", "prompt", "seed", "candidate")


@dataclass
class GeneratedResult(FileResult):
    """A generated item's row: evaluation's FileResult with its prompt, seed, candidate and CLAP ranking."""

    prompt: str = ""
    prompt_id: str = ""
    seed: int = -1
    candidate: int = 0  # which of generation.waveforms_per_prompt candidates (0 with one)
    ranking: list = field(default_factory=list)  # generation.rerank: the candidates by CLAP score, best first


def generated_row(result: GeneratedResult, metric_names: Sequence[str]) -> dict:
    """The results.csv row: `file` (the item key, as evaluation names a row), the item columns, then evaluation's
    columns (`to_row`) less the input-file facts."""
    row = {"file": result.file, **{c: getattr(result, c) for c in ITEM_COLUMNS}}
    row.update(
        {
            k: v
            for k, v in to_row(result, metric_names, VARIANTS).items()
            if k not in ("file", "duration_s", "sample_rate_in", "channels_in")
        }
    )
    return row
