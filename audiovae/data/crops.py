"""A training crop as the front end prepares it (shared by in-memory and streamed training data)."""

import numpy as np
import torch

from audiovae.audio.frontend import MelFrontEnd


def prepared_crop(frontend: MelFrontEnd, wave: np.ndarray, crop: int, offset: int) -> tuple[torch.Tensor, int]:
    """(`crop` samples from `offset`, prepared by the front end and zero-padded, the number of real samples)."""
    length = max(0, min(crop, len(wave) - offset))
    out = torch.zeros(crop)
    if length:
        out[:length] = frontend.prepare(torch.from_numpy(np.ascontiguousarray(wave[offset : offset + length])))
    return out, length
