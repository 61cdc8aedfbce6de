"""The one data path of every run: waveform segments -> log-mel -> one encode -> base and enhanced decode
-> vocoder, with per-stage timings measured under device synchronisation."""
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
from torch import nn

from audiovae.audio.frontend import MelFrontEnd
from audiovae.models.enhanced_vae import EnhancedVAE

TIMED_STAGES = ("frontend", "encode", "base_decode", "enhanced_decode", "enhancer", "vocoder")


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


@dataclass
class PipelineOutputs:
    """Everything one pass produces for K equal-length segments `[K, S]`."""

    reference_mel: torch.Tensor  # [K, 1, T, F]
    base_mel: torch.Tensor
    enhanced_mel: torch.Tensor
    vocoder_wave: torch.Tensor  # [K, S] reference mel straight through the vocoder (the vocoder ceiling)
    base_wave: torch.Tensor
    enhanced_wave: torch.Tensor
    seconds: dict = field(default_factory=dict)  # stage -> wall seconds for all K segments


class ReconstructionPipeline(nn.Module):
    """Composes the front end and the enhanced VAE; owns no weights of its own."""

    def __init__(self, frontend: MelFrontEnd, model: EnhancedVAE):
        super().__init__()
        self.frontend, self.model = frontend, model

    @contextmanager
    def _timed(self, seconds: dict, stage: str, device: torch.device):
        synchronize(device)
        start = time.perf_counter()
        yield
        synchronize(device)
        seconds[stage] = seconds.get(stage, 0.0) + time.perf_counter() - start

    @torch.no_grad()
    def forward(self, segments: torch.Tensor, generator: torch.Generator | None = None) -> PipelineOutputs:
        device, seconds, num_samples = segments.device, {}, segments.shape[-1]
        with self._timed(seconds, "frontend", device):
            mel = self.frontend(segments)
        with self._timed(seconds, "encode", device):
            latent = self.model.encode(mel, generator)
        with self._timed(seconds, "base_decode", device):
            base_mel = self.model.decode(latent, enhanced=False)
        with self._timed(seconds, "enhanced_decode", device):
            enhanced_mel = self.model.decode(latent, enhanced=True)
        with self._timed(seconds, "enhancer", device):  # the enhancer's stages alone, on inputs of their shape
            self.model.enhancer.enhance_latent(latent)
            self.model.enhancer.enhance_mel(base_mel)
        with self._timed(seconds, "vocoder", device):
            vocoder_wave = self.model.vocode(mel, num_samples)
            base_wave = self.model.vocode(base_mel, num_samples)
            enhanced_wave = self.model.vocode(enhanced_mel, num_samples)
        seconds["vocoder"] /= 3  # one vocoder pass
        return PipelineOutputs(mel, base_mel, enhanced_mel, vocoder_wave, base_wave, enhanced_wave, seconds)
