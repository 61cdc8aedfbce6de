"""The reconstructions a model yields per file (`AudioAutoencoder.variants`), by name: light, so reports and
listening tools can name them without loading a model."""

CEILING = "vocoder"  # a mel model's reference log-mel straight through its vocoder: the best its synthesis can do
BASE = "base"  # the base decode
ENHANCED = "enhanced"  # the decode through the enhancer
REFERENCE = "reference"  # the input itself, scored by the reference-free metrics only: what the original gives them


def scored(variants) -> tuple[str, ...]:
    """What an evaluation scores: the reference (by its reference-free metrics; `records.variants_of`) and the
    model's `variants`. Generation has no reference: it scores the model's alone."""
    return (REFERENCE, *variants)
