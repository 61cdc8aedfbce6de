"""`metrics.common_rate`: waveform metrics at one rate for every model. The reference is read from the file at that
rate (so a 44.1 kHz file keeps its band above a 16 kHz model's Nyquist frequency) and each reconstruction, made at
the model's rate, is resampled to it as it streams (soxr HQ, streaming: equal to resampling the whole waveform at
once). A model that cannot produce a band then loses it in the metrics (lsd_hf, hf_retention) instead of having it
left out of its reference. Both are on the model-rate reference's scale: the common-rate reference is normalised
with the model-rate file's statistics (`PreparedAudio.mean`, `.peak`)."""

from dataclasses import replace
from typing import Mapping

import numpy as np
import soxr
import torch

from audiovae.audio.stream import PreparedAudio


def common_length(num_samples: int, model_rate: int, rate: int) -> int:
    """Samples at `rate` of `num_samples` at `model_rate` (what the streaming resampler yields in all)."""
    return round(num_samples * rate / model_rate)


class CommonRate:
    """One file's waveforms at `rate`: `push(waves)` resamples each named chunk (model rate) and returns the
    reference samples of the same span at `rate` with them; `flush(names)` the resamplers' last samples."""

    def __init__(self, audio: PreparedAudio, model_rate: int, rate: int):
        self.model_rate, self.rate = model_rate, rate
        at_rate = replace(
            audio,
            sample_rate=rate,
            num_samples=common_length(audio.num_samples, model_rate, rate),
            max_samples=common_length(audio.max_samples, model_rate, rate) if audio.max_samples else None,
        )
        self.reader, self.position, self.streams = at_rate.reader(), 0, {}
        self.channels = audio.n_channels  # `[n, C]` chunks for several channels

    def _resampled(self, key, chunk: torch.Tensor, last: bool) -> torch.Tensor:
        stream = self.streams.get(key)
        if stream is None:
            stream = self.streams[key] = soxr.ResampleStream(
                self.model_rate, self.rate, self.channels, dtype="float32", quality="HQ"
            )
        out = stream.resample_chunk(np.ascontiguousarray(chunk.detach().float().cpu().numpy()), last=last)
        return torch.from_numpy(np.ascontiguousarray(out)).to(chunk.device)

    def push(self, waves: Mapping, last: bool = False) -> tuple[torch.Tensor, dict]:
        """(reference chunk at `rate`, {name: resampled chunk}), all of one length."""
        out = {key: self._resampled(key, wave, last) for key, wave in waves.items()}
        lengths = {int(w.shape[0]) for w in out.values()}
        assert len(lengths) <= 1, lengths  # equal inputs give equal outputs
        n = lengths.pop() if lengths else 0
        device = next(iter(out.values())).device if out else torch.device("cpu")
        reference = self.reader.read(self.position, self.position + n).to(device)
        self.position += n
        self.reader.release(self.position)
        return reference, out

    def flush(self, names) -> tuple[torch.Tensor, dict]:
        """The samples the resamplers still hold, at the end of the file."""
        empty = torch.zeros((0, self.channels) if self.channels > 1 else 0)
        return self.push({key: empty for key in names}, last=True)
