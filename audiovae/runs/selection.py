"""Which sweep setting is best, by a rule that cannot reward damage: the largest improvement over base in
`select.metric` among the settings that

- improve it (a setting no better than base is never "best"),
- are not significantly worse than base in any `select.guards` metric (corrected Wilcoxon p < α in the worse
  direction, or the 95 % bootstrap CI of Δ entirely on the worse side: at small n the test cannot reach α, the CI
  still can), and
- improve each `select.min_improvement` metric by at least its bound (headline Δ units; negative: may worsen).

"None: no setting beats the base" is a valid outcome. Improvement is the headline Δ of the scores signed so that
positive is better (a target metric's score is its distance to the target).
"""

import math
from typing import Optional, Sequence

from omegaconf import DictConfig

from audiovae.errors import ConfigError
from audiovae.metrics.sets import SET_METRICS
from audiovae.reporting.verdict import improvement, is_significantly_worse


def check_selection(select: DictConfig, metric_names: Sequence[str]) -> None:
    """ConfigError unless every metric `select` names is evaluated (checked before any file is evaluated)."""
    named = [
        ("select.metric", select.metric),
        *((f"select.guards.{i}", m) for i, m in enumerate(select.guards)),
        *((f"select.min_improvement.{m}", m) for m in select.min_improvement),
    ]
    for key, metric in named:
        if metric in SET_METRICS:
            raise ConfigError(
                f"config key '{key}': '{metric}' is a set metric (one value per setting, no per-file "
                "comparison); select on a per-file metric"
            )
        if metric not in metric_names:
            raise ConfigError(f"config key '{key}': metric '{metric}' is not in metrics.names {list(metric_names)}")


def metric_improvement(summary: dict, metric: str) -> float:
    """A setting's improvement in `metric`: its Δ signed so that positive is better."""
    m = summary["metrics"][metric]
    return improvement(m["comparison"], m["higher_is_better"])


def rejection(summary: dict, select: DictConfig, alpha: float) -> Optional[str]:
    """Why a setting cannot be the best (None: it can)."""
    gain = metric_improvement(summary, select.metric)
    if not math.isfinite(gain) or gain <= 0:
        return f"does not improve {select.metric}"
    for guard in select.guards:
        m = summary["metrics"][guard]
        if is_significantly_worse(m["comparison"], m["higher_is_better"], alpha):
            return f"significantly worse in {guard}"
    for metric, bound in select.min_improvement.items():
        if not metric_improvement(summary, metric) >= bound:
            return f"{metric} improvement below {bound}"
    return None


def select_best(summaries: dict[str, dict], select: DictConfig, alpha: float) -> tuple[Optional[str], str]:
    """The name of the best setting (None: no setting beats the base under the rule) and why."""
    rejected = {name: rejection(s, select, alpha) for name, s in summaries.items()}
    allowed = [name for name, why in rejected.items() if why is None]
    if not allowed:
        reasons = "; ".join(f"{name} {why}" for name, why in rejected.items())
        return None, f"no setting beats the base ({reasons})"
    best = max(allowed, key=lambda name: metric_improvement(summaries[name], select.metric))
    guards = ", ".join(select.guards) or "none"
    return best, (
        f"largest {select.metric} improvement ({metric_improvement(summaries[best], select.metric):.3f}) "
        f"among settings that improve it and are not significantly worse in the guards ({guards})"
    )
