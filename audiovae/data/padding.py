"""How a segment that runs past the end of its file is filled (`data.pad`). Only the file's own samples are ever
measured; the rule decides what the VAE's convolutions and GroupNorm statistics see beside them.

- `silence`: zeros appended to the waveform, so the padded frames are the silence value log(clamp_min). This is
  AudioLDM2's rule: `wav_to_fbank` zero-pads the waveform to target_length · hop samples (`pad_wav`) before the
  mel, and `_pad_spec` then only cuts the 1025th frame.
- `repeat`: the file's samples tiled until the segment is full (the padding looks like the file).
- `log_mel_zeros`: zeros appended to the waveform, then every log-mel frame from the file's last one on
  (t ≥ N // hop) set to 0, the value `_pad_spec`'s ZeroPad2d adds to a mel shorter than its target.

>>> pad_wave(torch.tensor([1., 2., 3.]), 7, "repeat").tolist()
[1.0, 2.0, 3.0, 1.0, 2.0, 3.0, 1.0]
"""

import torch

PAD_RULES = ("silence", "repeat", "log_mel_zeros")  # data.pad


def pad_wave(piece: torch.Tensor, length: int, rule: str) -> torch.Tensor:
    """`[n]` (or `[n, C]`) samples -> `[length]` (`[length, C]`) by `rule` (n ≤ length; the log-mel part of
    `log_mel_zeros` is `zero_log_mel`)."""
    if rule not in PAD_RULES:
        raise ValueError(f"pad rule must be one of {PAD_RULES}, got {rule!r}")
    n = piece.shape[0]
    if n >= length:
        return piece[:length]
    if rule == "repeat" and n > 0:
        return piece.repeat(-(-length // n), *([1] * (piece.dim() - 1)))[:length]
    return torch.cat([piece, piece.new_zeros((length - n, *piece.shape[1:]))])


def zero_log_mel(mel: torch.Tensor, valid_samples: list[int], hop: int) -> torch.Tensor:
    """`[K, 1, T, F]` log-mels of K segments of which the first `valid_samples[k]` samples are the file's: frames
    t ≥ valid // hop set to 0 (`log_mel_zeros`); a full segment is unchanged."""
    out = mel.clone()
    for row, valid in enumerate(valid_samples):
        out[row, :, valid // hop :] = 0.0
    return out
