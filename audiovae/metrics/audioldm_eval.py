"""audioldm_eval's paired autoencoder metrics under their own names (`audiovae.metrics.functional.audioldm_eval`
has the definitions): the numbers AudioLDM-family papers print, defined at 16 kHz on whole files."""

from functools import partial
from typing import Annotated

from audiovae.config.keywords import Range
from audiovae.metrics.base import ABSOLUTE, HIGHER, LOWER, PERCENT, PerItemMetric, check_rate
from audiovae.metrics.functional import audioldm_eval as upstream
from audiovae.metrics.perceptual import WholeSignal
from audiovae.metrics.table import register_metric


class _AudioLDMEvalMetric(PerItemMetric):
    is_differentiable = False

    def __init__(self, sample_rate: int, **kwargs):
        check_rate(self.name, sample_rate, upstream.SAMPLE_RATE)
        super().__init__(**kwargs)
        self.sample_rate = sample_rate


class LSDAudioLDMEval(_AudioLDMEvalMetric):
    """audioldm_eval's LSD (ssr_eval `AudioMetrics`), in Bels: n_fft 743, hop 160, both signals peak-normalised,
    the estimate's first `offset` samples dropped (`metrics.lsd_audioldm_eval.offset`, upstream 1120); log10 of
    power ratios, like `lsd`."""

    name, direction, unit, delta_kind = "lsd_audioldm_eval", LOWER, "", PERCENT
    nan_reason = "a silent signal (its peak normalisation divides by 0)"

    def __init__(self, sample_rate: int, offset: Annotated[int, Range(0, 1 << 20)] = upstream.OFFSET, **kwargs):
        super().__init__(sample_rate, **kwargs)
        self.offset = offset

    @property
    def min_samples(self) -> int:
        return self.offset + upstream.LSD_N_FFT

    def accumulator(self) -> WholeSignal:
        return WholeSignal(partial(upstream.lsd, offset=self.offset))  # a partial pickles for a metric worker


class PSNRAudioLDMEval(_AudioLDMEvalMetric):
    """audioldm_eval's PSNR (dB) of its [0, 1]-scaled 64-band log-mels (skimage, data range 1)."""

    name, direction, unit, delta_kind = "psnr_audioldm_eval", HIGHER, "dB", ABSOLUTE
    nan_reason = "identical mels (infinite PSNR; audioldm_eval leaves such files out)"

    @property
    def min_samples(self) -> int:
        return upstream.MEL_N_FFT // 2 + 1  # its reflect padding

    def accumulator(self) -> WholeSignal:
        return WholeSignal(upstream.psnr)


class SSIMAudioLDMEval(_AudioLDMEvalMetric):
    """audioldm_eval's SSIM of its [0, 1]-scaled 64-band log-mels (skimage's 7×7 uniform-window SSIM)."""

    name, direction, unit, delta_kind = "ssim_audioldm_eval", HIGHER, "", ABSOLUTE
    nan_reason = "identical mels (audioldm_eval leaves such files out)"

    @property
    def min_samples(self) -> int:
        return upstream.MEL_HOP * (upstream.SSIM_WIN - 1)  # at least a 7-frame image

    def accumulator(self) -> WholeSignal:
        return WholeSignal(upstream.ssim)


register_metric("lsd_audioldm_eval", LSDAudioLDMEval)
register_metric("psnr_audioldm_eval", PSNRAudioLDMEval)
register_metric("ssim_audioldm_eval", SSIMAudioLDMEval)
