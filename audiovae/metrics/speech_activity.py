"""How much of a clip is speech, for the metrics whose models know only speech (`PerItemMetric.speech_only`: DNSMOS,
PLCMOS, PESQ, STOI): Silero VAD (its ONNX model inside the silero-vad package, run by onnxruntime on one thread;
nothing is downloaded) on 32 ms windows at 16 kHz.

speech fraction = the share of the windows whose speech probability exceeds 0.5. A reference with speech in less
than SPEECH_MIN of its windows (music, effects, tones) is out of those models' domain: its file gets a note
(`OUT_OF_DOMAIN` marks it) and the report counts such files beside the table.
"""

from functools import lru_cache

RATE = 16000  # the VAD's rate (its windows: 512 samples)
THRESHOLD = 0.5  # a window is speech above this probability (Silero's default)
SPEECH_MIN = 0.5  # a reference is speech-like when at least this share of its windows is speech
OUT_OF_DOMAIN = "out of the speech models' domain"  # the note's marker (the report counts it)


@lru_cache(maxsize=1)
def _vad():
    from silero_vad import load_silero_vad

    return load_silero_vad(onnx=True)


def speech_fraction(wave, sample_rate: int) -> float:
    """The share of `wave`'s 32 ms windows (a tensor `[S]`, or `[S, C]` mixed to mono) in which Silero VAD hears
    speech. (Imports here: the report reads this module's marker without loading the model's packages.)"""
    import numpy as np
    import soxr
    import torch

    audio = wave.double().reshape(wave.shape[0], -1).mean(dim=1).numpy()
    if sample_rate != RATE:
        audio = soxr.resample(audio, sample_rate, RATE, quality="HQ")
    if len(audio) < 512:
        return 0.0
    model = _vad()
    model.reset_states()
    with torch.inference_mode():
        probabilities = model.audio_forward(torch.from_numpy(np.clip(audio, -1, 1).astype(np.float32)), RATE)
    return float((probabilities > THRESHOLD).float().mean())


def speech_note(fraction: float, names: list[str]) -> str:
    """The file's note when its reference is not speech-like ('' when it is)."""
    if fraction >= SPEECH_MIN:
        return ""
    return f"reference: speech in {fraction:.0%} of its 32 ms windows (Silero VAD): {', '.join(names)} {OUT_OF_DOMAIN}"
