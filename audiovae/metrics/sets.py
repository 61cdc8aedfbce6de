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

    def summarize(self, sets: dict, n_boot: int, seed: int, alpha: float, paired: bool = True) -> dict:
        """`{n_files, direction, unit, bootstrap_samples, variants: {variant: {value, ci}}, delta: {value, ci,
        enhanced_vs_base}}` of `sets` (variant -> one row per file), with `n_boot` resamples seeded by `seed` and
        (1 − alpha) intervals; `paired`: the reference's rows are the variants' files (reconstruction), else an
        independent reference set (generation)."""
        raise NotImplementedError  # pragma: no cover


class FAD(SetMetric):
    """Fréchet audio distance (`audiovae.metrics.fad`)."""

    name, direction = "fad", "lower"
    note = (
        "FAD between the reference set and each variant's set of the {n} files evaluated (lower is better; "
        "embeddings: {embedding}); [{level} % CI] from {boot} resamples of the files, re-centred on the "
        "estimate. FAD grows as sets shrink: compare values at equal set sizes only."
    )

    def summarize(self, sets: dict, n_boot: int, seed: int, alpha: float, paired: bool = True) -> dict:
        """FAD of each variant's set against the reference set, with bootstrap intervals
        (`audiovae.metrics.fad.summarize_fad`)."""
        from audiovae.metrics.fad import summarize_fad

        return summarize_fad(sets, n_boot, seed, alpha, paired)


class KAD(SetMetric):
    """Kernel audio distance (`audiovae.metrics.kad`): unbiased, so comparable across set sizes."""

    name, direction = "kad", "lower"
    note = (
        "KAD (kernel audio distance ×100, Gaussian kernel with the reference set's median pairwise distance as "
        "bandwidth) between the reference set and each variant's set of the {n} files (lower is better, 0 in "
        "expectation for sets drawn alike, so slightly negative values occur; embeddings: {embedding}); "
        "[{level} % CI] from {boot} resamples of the files, re-centred on the estimate."
    )

    def summarize(self, sets: dict, n_boot: int, seed: int, alpha: float, paired: bool = True) -> dict:
        """KAD of each variant's set against the reference set, one bandwidth (the reference set's) for all
        variants and resamples, with bootstrap intervals (`audiovae.metrics.set_stats`)."""
        from audiovae.metrics.kad import MIN_FILES, kernel_distance, median_pairwise_distance
        from audiovae.metrics.set_stats import summarize_set_distance

        reference = sets["reference"]
        if len(reference) < MIN_FILES:
            bandwidth = float("nan")
        else:
            bandwidth = median_pairwise_distance(reference)
        out = summarize_set_distance(
            sets,
            lambda a, b: kernel_distance(a, b, bandwidth),
            {"direction": self.direction, "unit": self.unit},
            n_boot,
            seed,
            alpha,
            paired,
        )
        return {**out, "bandwidth": bandwidth}


class FADInf(SetMetric):
    """FAD∞ (`audiovae.metrics.fad.extrapolated_fad`): FAD extrapolated to infinitely many files."""

    name, direction = "fad_inf", "lower"
    note = (
        "FAD∞: FAD extrapolated to an infinite set by a line in 1/n through FAD of n files drawn from each variant's "
        "{n} (n from half the set to all of it; slope and R² per variant in summary.json; lower is better; "
        "embeddings: {embedding}); [{level} % CI] from {boot} resamples of the files, re-centred on the estimate. "
        "With few files the line is fitted over a short range: prefer it to FAD for comparing sets of different sizes."
    )

    def summarize(self, sets: dict, n_boot: int, seed: int, alpha: float, paired: bool = True) -> dict:
        """FAD∞ of each variant's set against the reference set (its draws seeded by `seed`), with bootstrap
        intervals (`audiovae.metrics.set_stats`) and the fit's slope and R² per variant."""
        from audiovae.metrics.fad import extrapolated_fad
        from audiovae.metrics.set_stats import summarize_set_distance

        out = summarize_set_distance(
            sets,
            lambda a, b: extrapolated_fad(a, b, seed)["value"],
            {"direction": self.direction, "unit": self.unit},
            n_boot,
            seed,
            alpha,
            paired,
        )
        for variant, stats in out["variants"].items():
            fit = extrapolated_fad(sets["reference"], sets[variant], seed)
            stats.update(slope=fit["slope"], r2=fit["r2"], n_min=fit["n_min"])
        return out


SET_METRICS: dict[str, SetMetric] = {m.name: m for m in (FAD(), FADInf(), KAD())}


def set_metric_names(names: Sequence[str]) -> list[str]:
    """The set metrics among `metrics.names`."""
    return [name for name in names if name in SET_METRICS]


def needs_embedding(names: Sequence[str]) -> bool:
    """Whether a run measuring `names` needs the embedding model (`embedding` config group)."""
    return any(SET_METRICS[name].needs_embedding for name in set_metric_names(names))
