"""The log-mel front end AudioLDM2's VAE was trained on, batched and differentiable in torch."""

import librosa
import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf
from torch import nn


def normalisation_stats(total: float, count: int, low: float, high: float) -> tuple[float, float]:
    """AudioLDM's normalisation statistics from a signal's sum, length, min and max (so a file read block by block
    gets the same as a whole one): the float32 mean, and max |x − mean| in float32 arithmetic, which is reached at
    the max or the min."""
    mean = np.float32(total / count)
    return float(mean), float(max(np.float32(np.float32(high) - mean), np.float32(mean - np.float32(low))))


def normalise(x: torch.Tensor, mean: float, peak: float) -> torch.Tensor:
    """0.5 · (x − mean) / (peak + 1e-8), in x's dtype (a new tensor; x is not changed)."""
    mean_t, peak_t = torch.tensor(mean, dtype=x.dtype), torch.tensor(peak, dtype=x.dtype)
    return (x - mean_t).mul_(0.5).div_(peak_t + 1e-8)


FRAMINGS = ("training_repo", "audioldm2")  # frontend.framing


class MelFrontEnd(nn.Module):
    """Waveform -> log-mel `[B, 1, T, n_mels]` (time on H, mel on W).

    STFT with a periodic Hann window and reflect padding, then the first N // hop frames of a clip of N samples;
    magnitude (not power); librosa's slaney mel filterbank; log(clamp(mel, clamp_min)). `framing` says where
    frame t sits:

    - `training_repo`: pad (n_fft − hop) / 2 each side, frame t centred at t·hop + hop/2 (AudioLDM's training code,
      `mel_spectrogram_train`, and HiFi-GAN's mel, on which the VAE and its vocoder were trained);
    - `audioldm2`: pad n_fft / 2 each side, frame t centred at t·hop (AudioLDM2's inference code, `TacotronSTFT`
      in `utilities/audio/stft.py` with `_pad_spec` cutting its N // hop + 1 frames to N // hop).

    The two are the same frames hop / 2 samples apart. `frame_multiple` pads T with silence (log clamp_min) up to a
    multiple of the VAE's downsampling. The computation runs in the input's dtype (float64 in, float64 out).
    """

    def __init__(
        self,
        sample_rate: int,
        n_fft: int,
        win_length: int,
        hop_length: int,
        n_mels: int,
        fmin: float,
        fmax: float,
        clamp_min: float,
        normalize: bool,
        frame_multiple: int = 1,
        framing: str = "training_repo",
    ):
        super().__init__()
        if framing not in FRAMINGS:
            raise ValueError(f"framing must be one of {FRAMINGS}, got {framing!r}")
        self.framing = framing
        self.sample_rate, self.n_fft, self.win_length, self.hop_length = sample_rate, n_fft, win_length, hop_length
        self.n_mels, self.clamp_min, self.normalize, self.frame_multiple = n_mels, clamp_min, normalize, frame_multiple
        self.fmin, self.fmax = fmin, fmax
        mel = librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax, norm="slaney")
        self.register_buffer("mel_basis", torch.from_numpy(mel).double(), persistent=False)
        self.register_buffer("window", torch.hann_window(win_length, dtype=torch.float64), persistent=False)

    @property
    def band_centres(self) -> np.ndarray:
        """Centre frequency (Hz) of each mel band, low to high."""
        return mel_band_centres(self.n_mels, self.fmin, self.fmax)

    def prepare(self, waveform: torch.Tensor) -> torch.Tensor:
        """AudioLDM's waveform normalisation of one clip `[N]`: 0.5 · (x − mean) / (max|x − mean| + 1e-8).

        Applied per file at its true length, before any padding; identity when `normalize` is false.
        """
        if not self.normalize:
            return waveform
        stats = normalisation_stats(
            float(waveform.double().sum()), waveform.numel(), float(waveform.min()), float(waveform.max())
        )
        return normalise(waveform, *stats)

    def num_frames(self, num_samples: int) -> int:
        """Frames of the log-mel of `num_samples` samples: ⌊num_samples / hop_length⌋."""
        return num_samples // self.hop_length

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        """`[B, N]` or `[N]` prepared waveform -> `[B, 1, T, n_mels]` log-mel, T padded to `frame_multiple`."""
        if waveform.dim() == 1:
            waveform = waveform.unsqueeze(0)
        dtype, frames = waveform.dtype, self.num_frames(waveform.shape[-1])
        pad = (self.n_fft - self.hop_length) // 2 if self.framing == "training_repo" else self.n_fft // 2
        padded = nn.functional.pad(waveform.unsqueeze(1), (pad, pad), mode="reflect").squeeze(1)
        spec = torch.stft(
            padded,
            self.n_fft,
            hop_length=self.hop_length,
            win_length=self.win_length,
            window=self.window.to(dtype),
            center=False,
            return_complex=True,
        )[..., :frames].abs()
        mel = torch.matmul(self.mel_basis.to(dtype), spec)  # [B, n_mels, T]
        logmel = torch.log(torch.clamp(mel, min=self.clamp_min)).transpose(1, 2).unsqueeze(1)
        return self.pad_frames(logmel)

    def pad_frames(self, logmel: torch.Tensor) -> torch.Tensor:
        """Pad T up to a multiple of `frame_multiple` with the silence value log(clamp_min)."""
        extra = -logmel.shape[2] % self.frame_multiple
        if extra == 0:
            return logmel
        silence = torch.log(torch.tensor(self.clamp_min, dtype=logmel.dtype))
        return nn.functional.pad(logmel, (0, 0, 0, extra), value=float(silence))


def mel_band_centres(n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    """Centre frequency (Hz) of each band of the front end's slaney mel filterbank, low to high."""
    return librosa.mel_frequencies(n_mels + 2, fmin=fmin, fmax=fmax)[1:-1]


def build_frontend(frontend: DictConfig, frame_multiple: int) -> MelFrontEnd:
    """The front end of a `frontend` config section, T padded to a multiple of `frame_multiple`."""
    return MelFrontEnd(**OmegaConf.to_container(frontend), frame_multiple=frame_multiple)
