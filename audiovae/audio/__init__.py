"""Audio I/O and the AudioLDM2 mel front end."""
from audiovae.audio.frontend import MelFrontEnd
from audiovae.audio.io import AudioClip, AudioError, check_waveform, load_audio, wav_writer

__all__ = ["MelFrontEnd", "AudioClip", "AudioError", "check_waveform", "load_audio", "wav_writer"]
