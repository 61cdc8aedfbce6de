"""A weight-free vocoder: log-mel -> linear magnitude -> fast Griffin-Lim, batched in torch."""

import torch
from torch import nn

from audiovae.audio.frontend import MelFrontEnd
from audiovae.errors import ConfigError


class GriffinLimVocoder(nn.Module):
    """Inverts `MelFrontEnd`'s log-mel `[B, T, n_mels]` to a waveform `[B, T · hop]`, like `SpeechT5HifiGan`.

    exp(log-mel) -> linear magnitude: the filterbank's pseudo-inverse clamped at 0, refined by `nnls_iters`
    multiplicative non-negative least-squares updates (halves the log-mel error of the pseudo-inverse alone)
    -> `n_iter` fast Griffin-Lim iterations (Perraudin et al. 2013, `momentum`) from zero phase, so the result
    is deterministic. Frames are centred where the front end centres them (hop / 2 into each hop).
    """

    def __init__(self, frontend: MelFrontEnd, n_iter: int, momentum: float = 0.99, nnls_iters: int = 50):
        super().__init__()
        if n_iter < 1:
            raise ConfigError(f"config key 'model.options.griffin_lim_iters': must be >= 1, got {n_iter}")
        self.n_fft, self.hop_length, self.win_length = frontend.n_fft, frontend.hop_length, frontend.win_length
        self.n_iter, self.momentum, self.nnls_iters = n_iter, momentum, nnls_iters
        # float64 throughout: Griffin-Lim with momentum amplifies rounding, and in float32 a clip's result would
        # depend on its batch-mates (batched matmuls round differently) by up to ~0.1 of full scale
        self.register_buffer("basis", frontend.mel_basis.double(), persistent=False)
        self.register_buffer("inverse_basis", torch.linalg.pinv(frontend.mel_basis.double()), persistent=False)
        self.register_buffer("window", frontend.window.double(), persistent=False)

    def _stft(self, wave: torch.Tensor) -> torch.Tensor:
        return torch.stft(
            wave,
            self.n_fft,
            self.hop_length,
            self.win_length,
            self.window,
            center=True,
            pad_mode="reflect",
            return_complex=True,
        )

    def _istft(self, spec: torch.Tensor, length: int) -> torch.Tensor:
        return torch.istft(spec, self.n_fft, self.hop_length, self.win_length, self.window, center=True, length=length)

    def magnitude(self, logmel: torch.Tensor) -> torch.Tensor:
        """`[B, T, n_mels]` log-mel -> `[B, n_fft/2+1, T+1]` linear magnitude (last frame repeated for centring)."""
        mel = torch.exp(logmel.double()).transpose(1, 2)
        linear = torch.clamp(self.inverse_basis @ mel, min=1e-8)
        numerator = self.basis.T @ mel
        for _ in range(self.nnls_iters):
            linear = linear * numerator / (self.basis.T @ (self.basis @ linear) + 1e-12)
        return torch.cat([linear, linear[..., -1:]], dim=-1)

    def forward(self, spectrogram: torch.Tensor) -> torch.Tensor:
        squeeze = spectrogram.dim() == 2
        if squeeze:
            spectrogram = spectrogram.unsqueeze(0)
        frames = spectrogram.shape[1]
        length = frames * self.hop_length
        magnitude = self.magnitude(spectrogram)
        angles = torch.ones_like(magnitude, dtype=torch.complex128)
        previous = torch.zeros_like(angles)
        for _ in range(self.n_iter):
            rebuilt = self._stft(self._istft(magnitude * angles, length))
            accelerated = rebuilt - (self.momentum / (1 + self.momentum)) * previous
            angles = accelerated / accelerated.abs().clamp_min(1e-16)
            previous = rebuilt
        wave = self._istft(magnitude * angles, length)
        # front-end frame t is centred at t·hop + hop/2; Griffin-Lim's (center=True) at t·hop
        wave = nn.functional.pad(wave, (self.hop_length // 2, 0))[..., :length].to(spectrogram.dtype)
        return wave.squeeze(0) if squeeze else wave
