"""The audio classifier of `kl_softmax` (`classifier` config group): PANNs' Cnn14 (Kong et al. 2020, the AudioSet
tagger audioldm_eval and AudioLDM's papers use), loaded from its released checkpoint (`Cnn14_mAP=0.431.pth`: a
torch file whose "model" entry is the state dict) or from a seeded tiny one built offline (`build: tiny_cnn14`).

Cnn14 at `sample_rate` (32 kHz): power STFT (Hann `window`, `hop`, centred, reflect padding) → `mel_bins` slaney
mel filters over [fmin, fmax] → 10·log10(max(·, 1e-10)) → BatchNorm over mel bins → six conv blocks (two 3×3
conv + BN + ReLU, 2×2 average pooling but the last) → mean over mel → max + mean over time → fc1 + ReLU →
`fc_audioset` logits. The STFT and mel matrices are computed here (torch.stft, librosa), not read from the
checkpoint's torchlibrosa buffers; everything else loads by the checkpoint's own names.

A clip's label probabilities: its waveform resampled to the classifier's rate (soxr HQ), the softmax of the logits.
"""

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import librosa
import numpy as np
import soxr
import torch
from omegaconf import DictConfig
from torch import nn
from torch.nn import functional as F

from audiovae.errors import ConfigError, ModelUnavailableError
from audiovae.models.builders import BUILDERS
from audiovae.models.loading import ensure_built

SPECTRAL_BUFFERS = ("spectrogram_extractor.", "logmel_extractor.", "spec_augmenter.")  # torchlibrosa's, not loaded


@dataclass(frozen=True)
class Cnn14Shape:
    """PANNs Cnn14's front end and layout: 32 kHz, 1024-sample window, 320 hop, 64 mel bins, channels, classes."""

    sample_rate: int = 32000
    window: int = 1024
    hop: int = 320
    mel_bins: int = 64
    fmin: float = 50.0
    fmax: float = 14000.0
    classes: int = 527
    channels: tuple = (64, 128, 256, 512, 1024, 2048)


class ConvBlock(nn.Module):
    """Cnn14's block: two 3×3 convolutions with batch norm and ReLU, then average pooling."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1, bias=False)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn1, self.bn2 = nn.BatchNorm2d(cout), nn.BatchNorm2d(cout)

    def forward(self, x: torch.Tensor, pool: tuple[int, int]) -> torch.Tensor:
        x = F.relu(self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x))))))
        return F.avg_pool2d(x, pool) if pool != (1, 1) else x


class Cnn14(nn.Module):
    """`forward(wave [B, S] at shape.sample_rate)` → logits `[B, classes]` (eval mode: no dropout)."""

    def __init__(self, shape: Cnn14Shape = Cnn14Shape()):
        super().__init__()
        self.shape = shape
        mel = librosa.filters.mel(
            sr=shape.sample_rate, n_fft=shape.window, n_mels=shape.mel_bins, fmin=shape.fmin, fmax=shape.fmax
        )
        self.register_buffer("mel_basis", torch.tensor(mel, dtype=torch.float32), persistent=False)
        self.bn0 = nn.BatchNorm2d(shape.mel_bins)
        widths = (1, *shape.channels)
        for i in range(6):
            self.add_module(f"conv_block{i + 1}", ConvBlock(widths[i], widths[i + 1]))
        self.fc1 = nn.Linear(shape.channels[-1], shape.channels[-1])
        self.fc_audioset = nn.Linear(shape.channels[-1], shape.classes)

    def log_mel(self, wave: torch.Tensor) -> torch.Tensor:
        """`[B, 1, T, mel_bins]`: 10·log10 of the mel power, floored at 1e-10."""
        window = torch.hann_window(self.shape.window, device=wave.device)
        spec = (
            torch.stft(
                wave,
                self.shape.window,
                self.shape.hop,
                window=window,
                center=True,
                pad_mode="reflect",
                return_complex=True,
            ).abs()
            ** 2
        )  # [B, F, T]
        mel = torch.matmul(self.mel_basis, spec).transpose(1, 2)  # [B, T, M]
        return (10 * torch.log10(torch.clamp(mel, min=1e-10)))[:, None]

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        x = self.bn0(self.log_mel(wave).transpose(1, 3)).transpose(1, 3)
        for i in range(6):
            x = getattr(self, f"conv_block{i + 1}")(x, (2, 2) if i < 5 else (1, 1))
        x = x.mean(dim=3)
        x = x.max(dim=2).values + x.mean(dim=2)
        return self.fc_audioset(F.relu(self.fc1(x)))


@dataclass
class LabelClassifier:
    """`probabilities(wave, sample_rate)` → the clip's `[classes]` softmax label probabilities (float64)."""

    model: Cnn14
    name: str
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @torch.no_grad()
    def probabilities(self, wave: torch.Tensor, sample_rate: int) -> np.ndarray:
        """The softmax label probabilities of one waveform `[S]` (resampled to the classifier's rate by soxr HQ),
        float64."""
        x = wave.detach().float().cpu().numpy().reshape(-1)
        if sample_rate != self.model.shape.sample_rate:
            x = soxr.resample(x, sample_rate, self.model.shape.sample_rate, quality="HQ").astype(np.float32)
        logits = self.model(torch.from_numpy(x)[None].to(self.device))
        return torch.softmax(logits.double(), dim=-1)[0].cpu().numpy()


def label_kl(reference: np.ndarray, estimate: np.ndarray, eps: float = 1e-6) -> float:
    """KL(p_ref ‖ p_est) = Σ_c p_ref,c · (log p_ref,c − log(p_est,c + eps)) (torch's kl_div with AudioGen's eps),
    0·log 0 = 0.

    >>> p = np.array([0.5, 0.5, 0.0]); round(label_kl(p, p), 5)
    -0.0
    """
    p, q = np.asarray(reference, np.float64), np.asarray(estimate, np.float64)
    positive = p > 0
    return float(np.sum(p[positive] * (np.log(p[positive]) - np.log(q[positive] + eps))))


TINY_CNN14 = Cnn14Shape(channels=(4, 8, 8, 8, 8, 16), classes=10)


def build_tiny_cnn14(path: Path, seed: int = 0) -> Path:
    """A seeded random Cnn14 of tiny widths, saved as PANNs releases checkpoints (`{"model": state_dict}`) next to
    its shape (`shape.json`)."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Cnn14(TINY_CNN14)
        # running statistics that keep activations alive through six blocks, so that different sounds get
        # different labels (a tone, noise and a chirp: KL 0.002 to 2 between them); log-mels sit near −20 dB
        model.bn0.running_mean.fill_(-20.0)
        model.bn0.running_var.fill_(400.0)
        for name, module in model.named_modules():
            if isinstance(module, nn.BatchNorm2d) and name != "bn0":
                module.running_var.fill_(0.1)
        torch.save({"model": model.state_dict()}, path / "checkpoint.pth")
    (path / "shape.json").write_text(json.dumps({**TINY_CNN14.__dict__, "channels": list(TINY_CNN14.channels)}) + "\n")
    (path / "audiovae_model.json").write_text(json.dumps({"builder": "tiny_cnn14", "seed": seed}) + "\n")
    return path


def shape_of(values: dict) -> Cnn14Shape:
    """A Cnn14Shape from a mapping (the released Cnn14's value where a key is absent or null)."""
    given = {k: values[k] for k in Cnn14Shape.__dataclass_fields__ if values.get(k) is not None}
    return Cnn14Shape(**{**given, "channels": tuple(given.get("channels", Cnn14Shape.channels))})


def classifier_shape(cfg: DictConfig) -> Cnn14Shape:
    """The Cnn14 shape of the `classifier` config."""
    return shape_of({k: cfg.get(k) for k in Cnn14Shape.__dataclass_fields__})


BUILDERS["tiny_cnn14"] = build_tiny_cnn14


def load_classifier(cfg: DictConfig, device: torch.device = torch.device("cpu")) -> Optional[LabelClassifier]:
    """The `classifier` config group's network in eval mode (None for `classifier=none`); a missing or mismatched
    checkpoint is one line naming it."""
    if not cfg.get("path"):
        return None
    folder = Path(ensure_built(cfg.path, cfg.get("build"), marker="checkpoint.pth", key="classifier.build"))
    checkpoint = folder / "checkpoint.pth" if folder.is_dir() else folder
    if not checkpoint.is_file():
        raise ModelUnavailableError(
            f"classifier '{cfg.name}': no checkpoint at {checkpoint}; download PANNs' "
            f"Cnn14_mAP=0.431.pth (zenodo.org/record/3987831) and set classifier.path to it "
            f"(or classifier=tiny_cnn14 for an offline test model)"
        )
    shape_file = checkpoint.parent / "shape.json"  # a built model's; a released checkpoint's shape is the config's
    shape = (
        shape_of(json.loads(shape_file.read_text()))
        if cfg.get("build") and shape_file.is_file()
        else classifier_shape(cfg)
    )
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    state = state.get("model", state)
    model = Cnn14(shape)
    kept = {k: v for k, v in state.items() if not k.startswith(SPECTRAL_BUFFERS)}
    try:
        model.load_state_dict(kept)
    except RuntimeError as err:
        raise ConfigError(
            f"config key 'classifier.path': {checkpoint} is not a Cnn14 of the configured shape "
            f"({str(err).splitlines()[0]})"
        ) from None
    return LabelClassifier(model.eval().to(device), cfg.name, device)
