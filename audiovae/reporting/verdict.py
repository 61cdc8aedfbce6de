"""Per metric, what the statistics allow one to say: improved, worsened, unchanged or undecided, and why. The
decision reads the test's p corrected for the number of metrics (`metrics.p_adjust`); a metric whose untied files
are too few for the test to reach `alpha` is undecided with that reason, whatever its sign agreement.

>>> c = {"n": 5, "wins": 5, "losses": 0, "ties": 0, "headline_delta": -9.0, "wilcoxon_p": 0.0625,
...      "p_adjusted": 0.0625, "min_p": 0.0625}
>>> verdict(c, higher_is_better=False, alpha=0.05)["outcome"]
'undecided'
>>> verdict(c, higher_is_better=False, alpha=0.05)["reason"]
'5 of 5 files better, but with 5 untied files the test cannot reach p < 0.05 (smallest possible p 0.0625)'
"""

from audiovae.metrics.stats import is_finite

IMPROVED, WORSENED, UNCHANGED, UNDECIDED = "improved", "worsened", "unchanged", "undecided"


def improvement(comparison: dict, higher_is_better: bool) -> float:
    """The headline Δ signed so that positive is better (NaN when undefined)."""
    delta = comparison["headline_delta"]
    if not is_finite(delta):
        return float("nan")
    return delta if higher_is_better else -delta


def _p(value) -> str:
    return f"{value:.3g}" if is_finite(value) else "n/a"


def verdict(comparison: dict, higher_is_better: bool, alpha: float) -> dict:
    """{"outcome": improved | worsened | unchanged | undecided, "signs": in how many files it is better and worse,
    "why": what decided it (or why nothing could be), "reason": both in one clause}."""
    n, wins, losses = comparison["n"], comparison["wins"], comparison["losses"]
    if n == 0:
        return _verdict(UNDECIDED, "", "no file has both values")
    if wins == 0 and losses == 0:
        return _verdict(UNCHANGED, "", f"all {n} files within the numerical tolerance")
    untied = wins + losses
    signs = f"{wins} of {n} files better" + (f", {losses} worse" if losses else "")
    p_adj, min_p = comparison["p_adjusted"], comparison["min_p"]
    if is_finite(p_adj) and p_adj < alpha:
        better = improvement(comparison, higher_is_better) > 0
        return _verdict(IMPROVED if better else WORSENED, signs, f"corrected p {_p(p_adj)}")
    if is_finite(min_p) and min_p >= alpha:
        return _verdict(
            UNDECIDED,
            signs,
            f"with {untied} untied files the test cannot reach p < {alpha:g} (smallest possible p {_p(min_p)})",
        )
    return _verdict(
        UNDECIDED, signs, f"corrected p {_p(p_adj)} ≥ {alpha:g} (uncorrected {_p(comparison['wilcoxon_p'])})"
    )


def _verdict(outcome: str, signs: str, why: str) -> dict:
    return {
        "outcome": outcome,
        "signs": signs,
        "why": why,
        "reason": f"{signs}, but {why}"
        if outcome == UNDECIDED and signs and "cannot" in why
        else ", ".join(part for part in (signs, why) if part),
    }


def conclusion_lines(metrics: dict, alpha: float, p_adjust: str) -> list[str]:
    """The report's conclusion: the metrics that improved, worsened, did not change, or could not be decided,
    with the reason; metrics undecided for one shared reason (too few files for the test) are named together."""
    heads = {
        IMPROVED: "Improved by the enhancement",
        WORSENED: "Worsened by the enhancement",
        UNCHANGED: "Unchanged",
        UNDECIDED: "Could not be decided",
    }
    groups: dict[tuple, list[str]] = {}
    for name, m in metrics.items():
        v = m["verdict"]
        shared = v["outcome"] in (UNDECIDED, UNCHANGED) and ("cannot" in v["why"] or v["outcome"] == UNCHANGED)
        key = (v["outcome"], v["why"] if shared else "")
        groups.setdefault(key, []).append(
            f"{name} ({v['signs']})" if shared and v["signs"] else name if shared else f"{name} ({v['reason']})"
        )
    order = [IMPROVED, WORSENED, UNCHANGED, UNDECIDED]
    lines = [
        f"- {heads[outcome]}" + (f", {why}" if why else "") + ": " + "; ".join(names) + "."
        for outcome in order
        for (o, why), names in groups.items()
        if o == outcome
    ]
    if not lines:
        return ["- Not enough evaluated files to compare base and enhanced."]
    method = {"holm": "Holm", "bh": "Benjamini–Hochberg", "none": "no"}[p_adjust]
    tested = sum(1 for m in metrics.values() if is_finite(m["comparison"]["wilcoxon_p"]))
    return lines + [
        f"- Wilcoxon signed-rank tests over files, two-sided, α = {alpha:g}, {method} correction for "
        f"the {tested} metrics tested together; ties are differences within the numerical tolerance."
    ]


def is_significantly_worse(comparison: dict, higher_is_better: bool, alpha: float) -> bool:
    """For a guard metric: worse with corrected p < alpha, or with the 95 % bootstrap CI of Δ entirely on the worse
    side of 0 (what still protects when too few files let the test reach alpha)."""
    low, high = comparison["ci_low"], comparison["ci_high"]
    ci_worse = is_finite(low) and is_finite(high) and (high < 0 if higher_is_better else low > 0)
    tested_worse = (
        is_finite(comparison["p_adjusted"])
        and comparison["p_adjusted"] < alpha
        and improvement(comparison, higher_is_better) < 0
    )
    return ci_worse or tested_worse
