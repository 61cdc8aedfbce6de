"""Which sweep setting is best: the largest improvement in `select.metric` among the settings whose improvement
in each `select.min_improvement` metric is at least its bound. Improvement is the headline Δ signed so that
positive is better.

>>> improvement({"headline_delta": -3.0}, higher_is_better=False)
3.0
"""
import math
from typing import Optional, Sequence

from omegaconf import DictConfig

from audiovae.errors import ConfigError


def check_selection(select: DictConfig, metric_names: Sequence[str]) -> None:
    """ConfigError unless every metric `select` names is evaluated (checked before any file is evaluated)."""
    for key, metric in [("select.metric", select.metric),
                        *((f"select.min_improvement.{m}", m) for m in select.min_improvement)]:
        if metric not in metric_names:
            raise ConfigError(f"config key '{key}': metric '{metric}' is not in metrics.names {list(metric_names)}")


def improvement(comparison: dict, higher_is_better: bool) -> float:
    """The headline Δ signed so that positive is better (NaN when undefined)."""
    delta = comparison["headline_delta"]
    if delta is None or not math.isfinite(delta):
        return float("nan")
    return delta if higher_is_better else -delta


def metric_improvement(summary: dict, metric: str) -> float:
    m = summary["metrics"][metric]
    return improvement(m["comparison"], m["higher_is_better"])


def select_best(summaries: dict[str, dict], select: DictConfig) -> tuple[Optional[str], str]:
    """The name of the best setting (None if no setting satisfies the constraints) and why."""
    bounds = dict(select.min_improvement)
    allowed = [name for name, s in summaries.items()
               if all(metric_improvement(s, m) >= bound for m, bound in bounds.items())
               and math.isfinite(metric_improvement(s, select.metric))]
    constraints = ", ".join(f"{m} improvement ≥ {b}" for m, b in bounds.items()) or "none"
    if not allowed:
        return None, f"no setting satisfies the constraints ({constraints})"
    best = max(allowed, key=lambda name: metric_improvement(summaries[name], select.metric))
    return best, (f"largest {select.metric} improvement ({metric_improvement(summaries[best], select.metric):.3f}) "
                  f"subject to {constraints}")
