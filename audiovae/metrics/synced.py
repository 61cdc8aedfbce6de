"""Metrics whose values are summed across DDP ranks (training's validation): a `PerItemMetric` as torchmetrics
states. Evaluation does not need this (each file's values are gathered as rows), so it never imports torchmetrics."""
from typing import Optional, Sequence

import torch
from torch import Tensor
from torchmetrics import Metric, MetricCollection

from audiovae.metrics.base import PerItemMetric
from audiovae.metrics.registry import build_metric, metric_info


class SyncedMetric(Metric):
    """`metric`'s per-item values, their float64 sum, count of valid items and count of NaN (excluded) items as
    states reduced across ranks. States are named after the metric (`<name>_sum`, …) so that no two metrics in a
    MetricCollection look alike."""

    full_state_update = False

    def __init__(self, metric: PerItemMetric):
        super().__init__()
        self.metric = metric
        self._state = {k: f"{metric.name}_{k}" for k in ("sum", "count", "excluded", "values")}
        self.add_state(self._state["sum"], torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state(self._state["count"], torch.tensor(0), dist_reduce_fx="sum")
        self.add_state(self._state["excluded"], torch.tensor(0), dist_reduce_fx="sum")
        self.add_state(self._state["values"], [], dist_reduce_fx="cat")

    @property
    def higher_is_better(self) -> Optional[bool]:
        return self.metric.higher_is_better

    @property
    def is_differentiable(self) -> bool:
        return self.metric.is_differentiable

    def update(self, preds: Tensor, target: Tensor, lengths: Optional[Tensor] = None) -> None:
        values = self.metric.per_item(preds, target, lengths).detach().double()
        valid = ~torch.isnan(values)
        setattr(self, self._state["sum"], getattr(self, self._state["sum"]) + values[valid].sum())
        setattr(self, self._state["count"], getattr(self, self._state["count"]) + valid.sum())
        setattr(self, self._state["excluded"], getattr(self, self._state["excluded"]) + (~valid).sum())
        getattr(self, self._state["values"]).append(values)

    def compute(self) -> Tensor:
        count = getattr(self, self._state["count"])
        total = getattr(self, self._state["sum"])
        return total / count if count > 0 else torch.tensor(float("nan"), dtype=torch.float64)

    @property
    def excluded(self) -> int:
        return int(getattr(self, self._state["excluded"]))

    def values(self) -> Tensor:
        """Every item's value (all ranks' after a synchronised compute), `[N]`, NaN where undefined."""
        vals = getattr(self, self._state["values"])
        if isinstance(vals, Tensor):
            return vals
        return torch.cat(vals) if vals else torch.zeros(0, dtype=torch.float64)


def build_metric_collection(names: Sequence[str], domain: str, prefix: str = "", **kwargs) -> MetricCollection:
    """The configured metrics of one `domain` ("waveform" or "mel") as a synchronised collection, keys
    `<prefix><name>`."""
    metrics = [build_metric(n, **kwargs) for n in names if metric_info(n).domain == domain]
    return MetricCollection({m.name: SyncedMetric(m) for m in metrics}, prefix=prefix, compute_groups=False)
