"""Models: the one interface (`interface`), the families (`families`, `family_builtin`), loading, the tiny offline
builders. Names are imported on first use, so the light submodules (`availability`, `variants`) do not pull in
torch, diffusers and transformers."""

from importlib import import_module

_WHERE = {
    "AudioAutoencoder": "interface",
    "EnhancedVAE": "enhanced_vae",
    "WaveformVAE": "waveform_vae",
    "EncodecAutoencoder": "codecs",
    "DacAutoencoder": "codecs",
    "Family": "families",
    "register_family": "families",
    "ensure_built": "loading",
    "load_pretrained": "loading",
    "build_tiny_model": "builders",
}
__all__ = [*_WHERE, "ModelUnavailableError"]


def __getattr__(name: str):
    if name == "ModelUnavailableError":
        from audiovae.errors import ModelUnavailableError

        return ModelUnavailableError
    if name in _WHERE:
        return getattr(import_module(f"audiovae.models.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'audiovae.models' has no attribute {name!r}")
