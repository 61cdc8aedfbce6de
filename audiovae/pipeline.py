"""The one data path of every run, for every model (`audiovae.models.interface`): waveform segments -> analysis
(the front end's log-mel) -> one encode -> base and enhanced decode -> synthesis (a mel model's vocoder), with
per-stage timings measured under device synchronisation. A waveform model encodes the waveform itself; the front
end's log-mel of its input and outputs is what mel-domain metrics, band retention and plots measure."""

import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Mapping

import torch
from torch import nn

from audiovae.audio.frontend import MelFrontEnd
from audiovae.data.padding import zero_log_mel
from audiovae.enhancers.base import MEL
from audiovae.models.interface import AudioAutoencoder, mix


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued work (CUDA, MPS), so that a timing measures it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


@contextmanager
def timed(seconds: dict, stage: str, device: torch.device):
    """Adds the block's wall seconds, measured under device synchronisation, to `seconds[stage]`."""
    synchronize(device)
    start = time.perf_counter()
    yield
    synchronize(device)
    seconds[stage] = seconds.get(stage, 0.0) + time.perf_counter() - start


SHARED = ("latent", "reference_mel", "base_mel", "vocoder_wave", "base_wave")  # what no enhancer changes


@dataclass
class SharedOutputs:
    """The enhancer-independent part of a pass over K equal-length segments `[K, S]` (what the cross-run cache
    keeps): the latent, the reference and base log-mels `[K, 1, T, F]`, the vocoder-ceiling (mel models; None
    otherwise) and base waveforms `[K, S]`, and the stages' seconds (`vocoder_passes`: 2 when computed here, 0
    when loaded)."""

    latent: torch.Tensor
    reference_mel: torch.Tensor
    base_mel: torch.Tensor
    vocoder_wave: torch.Tensor | None
    base_wave: torch.Tensor
    seconds: dict = field(default_factory=dict)
    vocoder_passes: int = 2

    def row(self, i: int) -> dict[str, torch.Tensor]:
        """Item i's enhancer-independent tensors (what a cache entry stores per segment)."""
        return {name: getattr(self, name)[i] for name in SHARED if getattr(self, name) is not None}

    @classmethod
    def stack(cls, rows: list[dict[str, torch.Tensor]], device: torch.device, seconds: dict) -> "SharedOutputs":
        """Rows saved with `row` (e.g. loaded from the cache) as one batch on `device`."""
        return cls(
            **{name: torch.stack([r[name] for r in rows]).to(device) if name in rows[0] else None for name in SHARED},
            seconds=seconds,
            vocoder_passes=0,
        )


@dataclass
class PipelineOutputs:
    """Everything one pass produces for K equal-length segments `[K, S]` (`[K, S, C]` for a run that keeps a
    model's C channels: waveforms keep them, log-mels are of their mix), for one or several enhancers."""

    reference_mel: torch.Tensor  # [K, 1, T, F]
    base_mel: torch.Tensor
    vocoder_wave: torch.Tensor | None  # [K, S] reference mel through the vocoder (the ceiling; mel models only)
    base_wave: torch.Tensor
    enhanced_mels: dict  # enhancer setting -> [K, 1, T, F]
    enhanced_waves: dict  # enhancer setting -> [K, S]
    seconds: dict = field(default_factory=dict)  # enhancer setting -> stage -> wall seconds for all K segments
    shared: SharedOutputs | None = None


class ReconstructionPipeline(nn.Module):
    """Composes the front end and the model; owns no weights of its own."""

    def __init__(self, frontend: MelFrontEnd, model: AudioAutoencoder):
        super().__init__()
        self.frontend, self.model = frontend, model

    @property
    def encodes_mel(self) -> bool:
        """The model encodes the front end's log-mel (a mel model), not the waveform."""
        return self.model.analysis == MEL

    @torch.no_grad()
    def shared(
        self,
        segments: torch.Tensor,
        generator: torch.Generator | None = None,
        zero_frames_after: list[int] | None = None,
    ) -> SharedOutputs:
        """Front end, one encode, the base decode and its synthesis (for a mel model two vocoder passes: reference
        and base): what every enhancer shares. `zero_frames_after[k]`: segment k's log-mel frames from its sample
        zero_frames_after[k] on are set to 0 (`data.pad=log_mel_zeros`, mel models)."""
        device, seconds, num_samples = segments.device, {}, segments.shape[1]
        with timed(seconds, "frontend", device):
            mel = self.frontend(mix(segments))  # several channels: the log-mel of their mix
            if zero_frames_after is not None:
                mel = zero_log_mel(mel, zero_frames_after, self.frontend.hop_length)
        with timed(seconds, "encode", device):
            latent = self.model.encode(mel if self.encodes_mel else segments, generator)
        with timed(seconds, "base_decode", device):
            base = self.model.decode(latent, enhanced=False)
        if self.encodes_mel:
            with timed(seconds, "vocoder", device):
                vocoder_wave = self.model.synthesise(mel, num_samples)
                base_wave = self.model.synthesise(base, num_samples)
            return SharedOutputs(latent, mel, base, vocoder_wave, base_wave, seconds)
        base_wave = self.model.synthesise(base, num_samples)
        with timed(seconds, "analysis", device):
            base_mel = self.frontend(mix(base_wave))
        return SharedOutputs(latent, mel, base_mel, None, base_wave, seconds, vocoder_passes=0)

    def _enhanced_mel(
        self, shared: SharedOutputs, enhancer, seconds: dict, device
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(enhanced log-mel, enhanced waveform) of a mel model: the decode through the enhancer, one vocoder pass."""
        num_samples = shared.base_wave.shape[1]
        with timed(seconds, "enhanced_decode", device):
            if all(stage.is_identity() for stage in enhancer.latent_stages):  # the base decode, then its mel
                mel = enhancer.enhance_mel(shared.base_mel)  # stages: one decode fewer, same numbers
            else:
                mel = self.model.decode(shared.latent, enhanced=True, enhancer=enhancer)
        with timed(seconds, "enhancer", device):  # the enhancer's stages alone, on inputs of their shape
            enhancer.enhance_latent(shared.latent)
            enhancer.enhance_mel(shared.base_mel)
            enhancer.enhance_wave(shared.base_wave)
        with timed(seconds, "vocoder", device):
            wave = self.model.vocode(mel, num_samples, enhanced=True, enhancer=enhancer)
        seconds["vocoder_all"] = seconds["vocoder"]  # every pass made for this enhancer (the shared ones included)
        seconds["vocoder"] /= shared.vocoder_passes + 1  # one vocoder pass
        return mel, wave

    def _enhanced_wave(
        self, shared: SharedOutputs, enhancer, seconds: dict, device
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(enhanced log-mel, enhanced waveform) of a waveform model: the decode through the enhancer, then the
        front end's log-mel of its waveform."""
        num_samples = shared.base_wave.shape[1]
        with timed(seconds, "enhanced_decode", device):
            if all(stage.is_identity() for stage in enhancer.latent_stages):  # the base decode's waveform
                wave = enhancer.enhance_wave(shared.base_wave)
            else:
                decoded = self.model.decode(shared.latent, enhanced=True, enhancer=enhancer)
                wave = self.model.vocode(decoded, num_samples, enhanced=True, enhancer=enhancer)
        with timed(seconds, "enhancer", device):
            enhancer.enhance_latent(shared.latent)
            enhancer.enhance_wave(shared.base_wave)
        with timed(seconds, "analysis", device):
            mel = self.frontend(mix(wave))
        return mel, wave

    @torch.no_grad()
    def enhance(self, shared: SharedOutputs, enhancers: Mapping[str, nn.Module]) -> PipelineOutputs:
        """Per named enhancer its decode and synthesis on top of `shared`. Each name's seconds include the shared
        stages; `vocoder` (mel models) is the mean of the passes made for it."""
        device = shared.latent.device
        mels, waves, seconds = {}, {}, {}
        for setting, enhancer in enhancers.items():
            own = dict(shared.seconds)
            if enhancer.is_identity():  # the base decode exactly: rounding noise is not an effect
                mels[setting], waves[setting] = shared.base_mel, shared.base_wave
                own.update(enhanced_decode=0.0, enhancer=0.0)
                if shared.vocoder_passes and "vocoder" in own:
                    own["vocoder_all"] = own["vocoder"]
                    own["vocoder"] = own["vocoder"] / shared.vocoder_passes
                seconds[setting] = own
                continue
            enhanced = self._enhanced_mel if self.encodes_mel else self._enhanced_wave
            mels[setting], waves[setting] = enhanced(shared, enhancer, own, device)
            seconds[setting] = own
        return PipelineOutputs(
            shared.reference_mel, shared.base_mel, shared.vocoder_wave, shared.base_wave, mels, waves, seconds, shared
        )

    @torch.no_grad()
    def forward(
        self,
        segments: torch.Tensor,
        enhancers: Mapping[str, nn.Module],
        generator: torch.Generator | None = None,
        zero_frames_after: list[int] | None = None,
    ) -> PipelineOutputs:
        """`shared` then `enhance`: one front end, encode, base decode and synthesis shared by every enhancer; per
        named enhancer only its decode and synthesis."""
        return self.enhance(self.shared(segments, generator, zero_frames_after), enhancers)
