"""Model loading, the tiny test model factory and the enhanced VAE."""
from audiovae.models.enhanced_vae import EnhancedVAE, Reconstruction
from audiovae.errors import ModelUnavailableError
from audiovae.models.loading import ensure_built, load_models
from audiovae.models.builders import build_tiny_model

__all__ = ["EnhancedVAE", "Reconstruction", "ModelUnavailableError", "ensure_built", "load_models",
           "build_tiny_model"]
