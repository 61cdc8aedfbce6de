"""The embedding model of set metrics (`fad`): CLAP's audio tower through transformers (`embedding` config
group), loaded like the VAE (hub id or local folder, offline-aware).

A file's embedding: its model-rate waveform resampled to the embedder's rate (soxr HQ), cut into windows of the
embedder's input length (CLAP: 10 s at 48 kHz; the last window shorter), each window through the feature
extractor (CLAP's repeat padding, no random crop since no window is longer than the input) and
`get_audio_features`; the window embeddings averaged with weights = window lengths. So a file's embedding does
not depend on anything random, and every second of the file counts once.
"""

from dataclasses import dataclass

import numpy as np
import soxr
import torch
from omegaconf import DictConfig

from audiovae.models.availability import embedding_how_to_get
from audiovae.models.loading import ensure_built, load_offline_aware


@dataclass
class ClapEmbedder:
    """`embed(wave, sample_rate)` -> the file's `[D]` float64 embedding."""

    model: torch.nn.Module
    feature_extractor: object
    batch_size: int
    device: torch.device = torch.device("cpu")
    tokenizer: object = None  # the text tower's (clap_score); None where the model folder has none

    @property
    def sample_rate(self) -> int:
        """The rate CLAP's feature extractor reads (48 kHz)."""
        return int(self.feature_extractor.sampling_rate)

    @property
    def window(self) -> int:
        """Samples per CLAP window (10 s at 48 kHz)."""
        return int(self.feature_extractor.nb_max_samples)

    @torch.no_grad()
    def embed(self, wave: torch.Tensor, sample_rate: int) -> np.ndarray:
        """One waveform's embedding: resampled to 48 kHz, cut into windows, each embedded, averaged with weights =
        window lengths."""
        x = wave.detach().float().cpu().numpy().reshape(-1)
        if sample_rate != self.sample_rate:
            x = soxr.resample(x, sample_rate, self.sample_rate, quality="HQ").astype(np.float32)
        windows = [x[i : i + self.window] for i in range(0, max(len(x), 1), self.window)]
        fused = bool(getattr(self.model.config.audio_config, "enable_fusion", False))
        out = []
        for first in range(0, len(windows), self.batch_size):
            batch = windows[first : first + self.batch_size]
            inputs = self.feature_extractor(
                batch,
                sampling_rate=self.sample_rate,
                return_tensors="pt",
                truncation="fusion" if fused else "rand_trunc",
                padding="repeatpad",
            )
            features = self.model.get_audio_features(**{k: v.to(self.device) for k, v in inputs.items()})
            features = getattr(features, "pooler_output", features)  # transformers 5 returns an output object
            out.append(features.double().cpu())
        weights = torch.tensor([len(w) for w in windows], dtype=torch.float64)
        return (torch.cat(out) * weights[:, None]).sum(0).div(weights.sum()).numpy()

    @torch.no_grad()
    def embed_text(self, texts: list[str]) -> np.ndarray:
        """`[n, D]` float64 text embeddings (`get_text_features`) of `texts`, in batches of `batch_size`."""
        out = []
        for first in range(0, len(texts), self.batch_size):
            tokens = self.tokenizer(
                list(texts[first : first + self.batch_size]), padding=True, truncation=True, return_tensors="pt"
            )
            features = self.model.get_text_features(**{k: v.to(self.device) for k, v in tokens.items()})
            out.append(getattr(features, "pooler_output", features).double().cpu())
        return torch.cat(out).numpy() if out else np.zeros((0, 0))


def clap_score(text_embedding: np.ndarray, audio_embedding: np.ndarray) -> float:
    """cos(t, a) = t·a / (‖t‖ ‖a‖), −1…1 (`clap_score`).

    >>> clap_score(np.array([1.0, 0.0]), np.array([2.0, 0.0]))
    1.0
    """
    t, a = np.asarray(text_embedding, np.float64), np.asarray(audio_embedding, np.float64)
    return float(t @ a / (np.linalg.norm(t) * np.linalg.norm(a)))


def load_tokenizer(source: str, cache_dir, local_only: bool):
    """The folder's text tokenizer, or None when it has none (an audio-only embedding folder)."""
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(source, cache_dir=cache_dir, local_files_only=local_only)
    except (OSError, ValueError, TypeError):
        return None


def load_embedder(cfg: DictConfig, device: torch.device = torch.device("cpu")) -> ClapEmbedder:
    """The `embedding` config group's model, in eval mode (ModelUnavailableError within seconds when offline)."""
    from transformers import ClapFeatureExtractor, ClapModel

    source = ensure_built(cfg.path, cfg.build, marker="config.json", key="embedding.build")

    def load(local_only: bool):
        model = ClapModel.from_pretrained(source, cache_dir=cfg.cache_dir, local_files_only=local_only)
        extractor = ClapFeatureExtractor.from_pretrained(source, cache_dir=cfg.cache_dir, local_files_only=local_only)
        return model.eval().to(device), extractor, load_tokenizer(source, cfg.cache_dir, local_only)

    model, extractor, tokenizer = load_offline_aware(
        f"embedding model '{cfg.name}'", source, load, embedding_how_to_get(cfg.name, cfg.path)
    )
    return ClapEmbedder(model, extractor, cfg.batch_size, device, tokenizer)
