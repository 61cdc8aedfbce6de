"""Metrics between a reference log-mel and a decoded one, `[B, 1, T, F]` + lengths in frames."""

from audiovae.metrics.base import ABSOLUTE, HIGHER, LOWER, MEL, PERCENT, PerItemMetric
from audiovae.metrics.functional import mel_domain
from audiovae.metrics.table import register_metric


class MelL1(PerItemMetric):
    """mean |log-mel_y − log-mel_x| (natural-log mel units)."""

    name, direction, domain, delta_kind = "mel_l1", LOWER, MEL, PERCENT
    nan_reason = "never undefined"
    plot_lower_bound = 0.0

    def accumulator(self) -> mel_domain.MelL1:
        return mel_domain.MelL1()


class MelPSNR(PerItemMetric):
    """PSNR of the log-mels in dB, data range = the reference's max − min."""

    name, direction, domain, unit, delta_kind = "mel_psnr", HIGHER, MEL, "dB", ABSOLUTE
    nan_reason = "constant reference log-mel"

    def accumulator(self) -> mel_domain.MelPSNR:
        return mel_domain.MelPSNR()


register_metric("mel_l1", MelL1)
register_metric("mel_psnr", MelPSNR)
