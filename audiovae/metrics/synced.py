"""Metrics whose values are gathered across DDP ranks (training's validation): a `PerItemMetric` as a torchmetrics
state. Evaluation does not need this (each file's values are gathered as rows), so it never imports torchmetrics."""

from typing import Mapping, Optional, Sequence

from torch import Tensor
from torchmetrics import Metric, MetricCollection

from audiovae.metrics.base import ItemValues, PerItemMetric, concat_values
from audiovae.metrics.registry import build_metric, metric_info


class SyncedMetric(ItemValues, Metric):
    """`metric`'s per-item values as a torchmetrics state gathered across ranks (`dist_reduce_fx="cat"`); its
    mean and excluded count are the metric's own (`ItemValues`). The state is named after the
    metric (`<name>_values`) so that no two metrics in a MetricCollection look alike."""

    full_state_update = False

    def __init__(self, metric: PerItemMetric):
        super().__init__()
        self.metric, self._state = metric, f"{metric.name}_values"
        self.add_state(self._state, [], dist_reduce_fx="cat")

    @property
    def higher_is_better(self) -> Optional[bool]:
        """The wrapped metric's direction as torchmetrics reads it (None for a target metric)."""
        return self.metric.higher_is_better

    @property
    def is_differentiable(self) -> bool:
        """Whether the wrapped metric passes gradients."""
        return self.metric.is_differentiable

    def update(self, preds: Tensor, target: Tensor, lengths: Optional[Tensor] = None) -> None:
        getattr(self, self._state).append(self.metric.per_item(preds, target, lengths).detach().double())

    def values(self) -> Tensor:
        """Every item's value (all ranks' after a synchronised compute), `[N]`, NaN where undefined."""
        vals = getattr(self, self._state)
        return vals if isinstance(vals, Tensor) else concat_values(vals)


def build_metric_collection(
    names: Sequence[str], domain: str, sample_rate: int, settings: Optional[Mapping] = None, prefix: str = ""
) -> MetricCollection:
    """The configured metrics of one `domain` ("waveform" or "mel") at `sample_rate` as a synchronised collection,
    keys `<prefix><name>`; `settings`: the config's `metrics` section, as evaluation builds them from."""
    metrics = [build_metric(n, sample_rate, settings) for n in names if metric_info(n).domain == domain]
    return MetricCollection({m.name: SyncedMetric(m) for m in metrics}, prefix=prefix, compute_groups=False)
