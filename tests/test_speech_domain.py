"""The speech models' domain: Silero VAD hears speech in a voiced clip and none in music; a run that measures a speech
model notes each file whose reference is not speech-like and its report counts them; a run without one does not."""

import pytest
import torch

from audiovae.demo import demo_clips
from audiovae.metrics import speech_activity
from audiovae.metrics.speech_activity import OUT_OF_DOMAIN, SPEECH_MIN, speech_fraction
from audiovae.reporting.records import read_csv
from tests.conftest import evaluate_folder, tone, write
from tests.test_mos import no_network  # noqa: F401 - the fixture
from tests.test_perceptual import voiced

SR = 16000


@pytest.mark.usefixtures("no_network")
def test_a_voiced_clip_is_speech_and_music_is_not_with_no_network():
    speech_activity._vad.cache_clear()  # the model loads here, from the package, with sockets refused
    assert speech_fraction(torch.from_numpy(voiced(2.0, SR, 150, 1)), SR) > 0.9
    for name, clip in demo_clips(2.0).items():
        assert speech_fraction(torch.from_numpy(clip), SR) < SPEECH_MIN, name
    stereo = torch.from_numpy(voiced(2.0, 48000, 150, 1)).repeat(2, 1).T  # [S, C] at another rate
    assert speech_fraction(stereo, 48000) > 0.9


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("speech")
    write(folder / "speech.wav", voiced(1.5, SR, 140, 2), SR)
    write(folder / "tone.wav", tone(440, 1.5, SR, amp=0.3) + tone(660, 1.5, SR, amp=0.2), SR)
    return folder


WORDS = ["model=demo", "logger=none", "outputs.save_plots=false", "outputs.listening_files=0"]
WORDS += ["model.options.griffin_lim_iters=4"]


def test_a_speech_model_on_music_is_noted_and_counted(clips, tmp_path):
    run = evaluate_folder(clips, tmp_path / "run", *WORDS, "metrics.names=[snr,stoi]").out_dir
    notes = {r["file"]: r["notes"] for r in read_csv(run / "results.csv")}
    assert OUT_OF_DOMAIN in notes["tone.wav"] and "stoi" in notes["tone.wav"]
    assert OUT_OF_DOMAIN not in notes["speech.wav"]
    report = (run / "report.md").read_text()
    assert "1 of 2 files' references are not speech-like" in report
    assert "the values of the speech models measured (stoi) are out of" in report
    page = (run / "report.html").read_text()  # the page says it too, beside its table
    assert "1 of 2 files&#x27; references are not speech-like" in page


def test_a_run_without_a_speech_model_says_nothing_of_speech(clips, tmp_path):
    run = evaluate_folder(clips, tmp_path / "run", *WORDS, "metrics.names=[snr]").out_dir
    assert all(OUT_OF_DOMAIN not in r["notes"] for r in read_csv(run / "results.csv"))
    assert "speech-like" not in (run / "report.md").read_text()
