"""`metrics.align: vocoder_lag`: the vocoder ceiling's lag measured once before any file is evaluated, then
compensated as a constant in every file's waveform metrics (as audioldm_eval shifts its outputs by a constant).

The lag is a property of the front end and the vocoder, not of a file, so one measurement serves the run: the
first segment of the first file (in file order) that reads goes through the front end and the vocoder, and the
lag that maximises the cross-correlation of the ceiling with the reference within ±`metrics.max_lag_samples`
(`audiovae.metrics.functional.lag`) is the shift. A peak without clear correlation (ρ below `CLEAR_PEAK`, e.g. a
Griffin-Lim vocoder that invents its phase) is no measurement: the shift is then 0 and the run says so.
"""

from dataclasses import dataclass
from typing import Iterable, Optional

import torch

from audiovae.audio.io import Sound
from audiovae.audio.stream import PreparedAudio
from audiovae.data.padding import pad_wave
from audiovae.errors import AudioError
from audiovae.metrics.functional.lag import CLEAR_PEAK, LagSearch
from audiovae.pipeline import ReconstructionPipeline


@dataclass(frozen=True)
class MeasuredLag:
    """The vocoder ceiling's lag measured before a run: the shift applied, the lag, its correlation, the file."""

    shift: int  # applied to the waveform metrics (0 when not measured)
    lag: int  # the lag found
    corr: float  # ρ at that lag
    file: str  # the file it was measured on ("" if none could be read)

    @property
    def measured(self) -> bool:
        """Whether the cross-correlation peak was clear enough (ρ ≥ CLEAR_PEAK) to trust the lag."""
        return self.corr >= CLEAR_PEAK

    def line(self) -> str:
        """The console line saying what was measured on which file and which shift the waveform metrics use."""
        if not self.file:
            return "metrics.align=vocoder_lag: no file could be read to measure the vocoder's lag; shift 0"
        if not self.measured:
            return (
                f"metrics.align=vocoder_lag: no clear cross-correlation peak on {self.file} (ρ {self.corr:.2f} < "
                f"{CLEAR_PEAK:g}): the vocoder does not follow the waveform closely enough to measure a lag; "
                "shift 0"
            )
        return (
            f"metrics.align=vocoder_lag: the vocoder ceiling is {self.lag} samples late on {self.file} "
            f"(ρ {self.corr:.2f}); waveform metrics compare reconstruction sample t + {self.shift} with reference "
            "sample t"
        )


@torch.no_grad()
def measure_vocoder_lag(
    pipeline: ReconstructionPipeline,
    sounds: Iterable[tuple[str, Sound]],
    segment: int,
    max_lag: int,
    silence_threshold_db: float,
    channels: str,
    resampler: str,
    pad: str = "silence",
    device: Optional[torch.device] = None,
) -> MeasuredLag:
    """The ceiling's lag on the first segment of the first readable one of `sounds` ((entry key, sound) pairs, read
    lazily: see the module docstring)."""
    frontend = pipeline.frontend
    device = device or next(pipeline.model.parameters()).device
    for key, path in sounds:
        try:
            audio = PreparedAudio.scan(
                path,
                frontend.sample_rate,
                segment,
                silence_threshold_db,
                frontend.normalize,
                channels=channels,
                resampler=resampler,
            )
            piece = audio.reader().read(0, min(segment, audio.num_samples))
        except AudioError:
            continue
        reference = pad_wave(piece, segment, pad).to(device)
        ceiling = pipeline(reference[None], {}).vocoder_wave[0]  # the same path as the files' ceiling
        search = LagSearch(max_lag)
        search.update(ceiling[: piece.shape[0]], reference[: piece.shape[0]])
        lag, corr = search.value()
        return MeasuredLag(lag if corr >= CLEAR_PEAK else 0, lag, corr, key)
    return MeasuredLag(0, 0, float("nan"), "")
