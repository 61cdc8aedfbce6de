"""Pure metric functions: per-item values `[B]` of padded batches, NaN where undefined."""

from audiovae.metrics.functional.lsd import lsd
from audiovae.metrics.functional.mel_distance import mel_distance
from audiovae.metrics.functional.mel_domain import mel_l1, mel_psnr
from audiovae.metrics.functional.snr import si_sdr, snr
from audiovae.metrics.functional.spectrum import hf_retention, spectral_correlation

__all__ = ["lsd", "mel_distance", "mel_l1", "mel_psnr", "si_sdr", "snr", "hf_retention", "spectral_correlation"]
