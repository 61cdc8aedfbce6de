"""Metrics between a reference log-mel and a decoded one, `[B, 1, T, F]` + lengths in frames."""
from typing import Optional

from torch import Tensor

from audiovae.metrics import functional as F
from audiovae.metrics.base import ABSOLUTE, MEL, PERCENT, PerItemMetric


class MelL1(PerItemMetric):
    """mean |log-mel_y − log-mel_x| (natural-log mel units)."""

    name, higher_is_better, domain, delta_kind = "mel_l1", False, MEL, PERCENT
    nan_reason = "never undefined"
    plot_lower_bound = 0.0

    def per_item(self, preds: Tensor, target: Tensor, lengths: Optional[Tensor]) -> Tensor:
        return F.mel_l1(preds, target, lengths)


class MelPSNR(PerItemMetric):
    """PSNR of the log-mels in dB, data range = the reference's max − min."""

    name, higher_is_better, domain, unit, delta_kind = "mel_psnr", True, MEL, "dB", ABSOLUTE
    nan_reason = "constant reference log-mel"

    def per_item(self, preds: Tensor, target: Tensor, lengths: Optional[Tensor]) -> Tensor:
        return F.mel_psnr(preds, target, lengths)
