"""Audio I/O and the AudioLDM2 mel front end."""

from audiovae.audio.frontend import MelFrontEnd
from audiovae.audio.io import AudioClip, check_waveform, load_audio, wav_writer
from audiovae.errors import AudioError

__all__ = ["MelFrontEnd", "AudioClip", "AudioError", "check_waveform", "load_audio", "wav_writer"]
