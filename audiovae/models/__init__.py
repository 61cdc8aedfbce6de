"""Model loading, the tiny test model factory and the enhanced VAE. Names are imported on first use, so the
light submodules (`availability`) do not pull in torch, diffusers and transformers."""
from importlib import import_module

_WHERE = {"EnhancedVAE": "enhanced_vae", "Reconstruction": "enhanced_vae", "ensure_built": "loading",
          "load_models": "loading", "build_tiny_model": "builders"}
__all__ = [*_WHERE, "ModelUnavailableError"]


def __getattr__(name: str):
    if name == "ModelUnavailableError":
        from audiovae.errors import ModelUnavailableError

        return ModelUnavailableError
    if name in _WHERE:
        return getattr(import_module(f"audiovae.models.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'audiovae.models' has no attribute {name!r}")
