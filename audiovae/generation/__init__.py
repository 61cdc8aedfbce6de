"""Generation-side use of the enhancement: AudioLDM2's own pipeline decoding through an enhancer (`bridge`)."""

from audiovae.generation.bridge import compatible_pipeline, enhanced_pipeline

__all__ = ["compatible_pipeline", "enhanced_pipeline"]
