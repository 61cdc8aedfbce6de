"""data.pad: what fills a segment past its file's end, what the VAE then sees, and how much a short clip's metrics
move with the rule (README, "Short clips and padding")."""

import csv

import numpy as np
import pytest
import torch

from audiovae.data.padding import pad_wave, zero_log_mel
from audiovae.pipeline import ReconstructionPipeline
from tests.conftest import evaluate_folder, noise, tone, write

RULES = ("silence", "repeat", "log_mel_zeros")


def test_pad_wave_rules():
    piece = torch.tensor([1.0, -2.0, 3.0])
    assert pad_wave(piece, 5, "silence").tolist() == [1.0, -2.0, 3.0, 0.0, 0.0]
    assert pad_wave(piece, 8, "repeat").tolist() == [1.0, -2.0, 3.0, 1.0, -2.0, 3.0, 1.0, -2.0]
    assert pad_wave(piece, 5, "log_mel_zeros").tolist() == [1.0, -2.0, 3.0, 0.0, 0.0]  # its log-mel is changed
    for rule in RULES:
        assert torch.equal(pad_wave(piece, 3, rule), piece)  # a full segment is never touched
    with pytest.raises(ValueError, match="pad rule must be one of"):
        pad_wave(piece, 5, "mirror")


def test_zero_log_mel_zeroes_the_frames_after_the_file():
    mel = torch.full((2, 1, 8, 3), -11.5)
    out = zero_log_mel(mel, [3 * 160 + 20, 8 * 160], hop=160)
    assert torch.all(out[0, :, :3] == -11.5) and torch.all(out[0, :, 3:] == 0.0)
    assert torch.equal(out[1], mel[1])


@pytest.fixture(scope="module")
def padded_runs(tmp_path_factory):
    """One short clip (0.4 s in a 1.28 s segment) and one that fills its segment, evaluated under every rule; also
    the segments and reference log-mels the pipeline received."""
    root = tmp_path_factory.mktemp("padding")
    sr = 16000
    write(
        root / "clips" / "short.wav", tone(440, 0.4, sr) + tone(5000, 0.4, sr, amp=0.1) + noise(0.4, sr, amp=0.02), sr
    )
    write(root / "clips" / "full.wav", tone(330, 1.28, sr) + noise(1.28, sr, seed=1, amp=0.05), sr)
    seen, forward = {}, ReconstructionPipeline.forward
    rows = {}
    with pytest.MonkeyPatch.context() as mp:
        for rule in RULES:

            def record(self, segments, enhancers, generator=None, zero_frames_after=None, _rule=rule):
                out = forward(self, segments, enhancers, generator, zero_frames_after)
                seen[_rule] = (segments.clone(), out.reference_mel.clone())
                return out

            mp.setattr(ReconstructionPipeline, "forward", record)
            evaluate_folder(
                root / "clips",
                root / rule,
                "model=tiny",
                "logger=none",
                "enhancement=mel_hf_shelf",
                "metrics.bootstrap_samples=20",
                "outputs.save_plots=false",
                "outputs.save_audio=false",
                "metrics.names=[snr,lsd,lsd_hf,mel_l1]",
                "data.max_seconds=1.28",
                f"data.pad={rule}",
                "data.batch_size=2",
                "cache.enabled=false",
            )  # the pipeline must run to be recorded
            with open(root / rule / "results.csv") as f:
                rows[rule] = {row["file"]: row for row in csv.DictReader(f)}
    return seen, rows


def test_the_vae_sees_the_rule(padded_runs):
    seen, _ = padded_runs
    n = int(0.4 * 16000)
    segments = {rule: seen[rule][0] for rule in RULES}
    order = [0, 1]  # full.wav, short.wav (sorted)
    short = order[1]
    assert torch.all(segments["silence"][short, n:] == 0)
    np.testing.assert_array_equal(segments["repeat"][short, n : 2 * n].numpy(), segments["repeat"][short, :n].numpy())
    mel = seen["log_mel_zeros"][1]
    assert torch.all(mel[short, :, n // 160 :] == 0) and torch.all(mel[short, :, : n // 160] != 0)
    silence = seen["silence"][1][short, :, n // 160 + 3 :]  # past the frames whose window reaches the clip
    np.testing.assert_allclose(silence.numpy(), np.log(1e-5), rtol=1e-6)
    for rule in RULES:  # the full clip is the same segment under every rule
        assert torch.equal(segments[rule][0], segments["silence"][0])


def test_only_short_clips_move_with_the_rule(padded_runs):
    _, rows = padded_runs
    columns = ["base_snr", "base_lsd", "base_lsd_hf", "base_mel_l1", "enhanced_lsd_hf", "vocoder_snr"]
    for rule in RULES:
        for column in columns:
            assert float(rows[rule]["full.wav"][column]) == float(rows["silence"]["full.wav"][column]), (rule, column)
    moved = {
        rule: {c: float(rows[rule]["short.wav"][c]) - float(rows["silence"]["short.wav"][c]) for c in columns}
        for rule in ("repeat", "log_mel_zeros")
    }
    print("short clip, change against silence:", moved)
    # the tiny model's convolutions and GroupNorm see the padding: its base decode of the same 0.4 s moves
    for rule in ("repeat", "log_mel_zeros"):
        assert abs(moved[rule]["base_mel_l1"]) > 1e-3, rule
