"""Set metrics: one value per variant between the reference set and the variant's set of files (not a per-file
comparison), computed from the files' embeddings (`audiovae.models.embedding`) after every file is evaluated, with
a bootstrap over files. Light: the computation is imported when a summary is made, so start-up checks can ask
which metrics are set metrics without torch.

>>> set_metric_names(["snr", "fad"]), needs_embedding(["snr"])
(['fad'], False)
"""

from typing import ClassVar, Sequence


class SetMetric:
    """Base class: `name`, `direction` ("lower" or "higher" is better), `unit`, `note` (the report's sentence,
    formatted with n, embedding, level, boot) and `summarize(sets, n_boot, seed, alpha)` -> {n_files, direction,
    unit, bootstrap_samples, variants: {variant: {value, ci}}, delta: {value, ci, enhanced_vs_base}}, where
    `sets` maps "reference" and each variant to `[n, D]` embeddings paired by file."""

    name: ClassVar[str]
    direction: ClassVar[str]
    unit: ClassVar[str] = ""
    needs_embedding: ClassVar[bool] = True
    note: ClassVar[str] = ""

    def summarize(self, sets: dict, n_boot: int, seed: int, alpha: float) -> dict:  # pragma: no cover
        """`{n_files, direction, unit, bootstrap_samples, variants: {variant: {value, ci}}, delta: {value, ci,
        enhanced_vs_base}}` of `sets` (variant -> one row per file), with `n_boot` paired resamples seeded by `seed`
        and (1 − alpha) intervals."""
        raise NotImplementedError


class FAD(SetMetric):
    """Fréchet audio distance (`audiovae.metrics.fad`)."""

    name, direction = "fad", "lower"
    note = (
        "FAD between the reference set and each variant's set of the {n} files evaluated (lower is better; "
        "embeddings: {embedding}); [{level} % CI] from {boot} resamples of the files, re-centred on the "
        "estimate. FAD grows as sets shrink: compare values at equal set sizes only."
    )

    def summarize(self, sets: dict, n_boot: int, seed: int, alpha: float) -> dict:
        """FAD of each variant's set against the reference set, with bootstrap intervals
        (`audiovae.metrics.fad.summarize_fad`)."""
        from audiovae.metrics.fad import summarize_fad

        return summarize_fad(sets, n_boot, seed, alpha)


SET_METRICS: dict[str, SetMetric] = {m.name: m for m in (FAD(),)}


def set_metric_names(names: Sequence[str]) -> list[str]:
    """The set metrics among `metrics.names`."""
    return [name for name in names if name in SET_METRICS]


def needs_embedding(names: Sequence[str]) -> bool:
    """Whether a run measuring `names` needs the embedding model (`embedding` config group)."""
    return any(SET_METRICS[name].needs_embedding for name in set_metric_names(names))
