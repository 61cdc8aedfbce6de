"""audioldm_eval's LSD, PSNR and SSIM (the numbers AudioLDM-family papers print): equal to a port of its code
(tests/metric_references.py: conv1d Fourier-basis STFT, skimage, librosa, float32 as upstream) within 1e-6, on
pairs and on a whole evaluation's saved audio."""

import numpy as np
import pytest
import soundfile as sf
import torch

from audiovae.errors import ConfigError
from audiovae.metrics.functional import audioldm_eval
from audiovae.metrics.registry import build_metric
from audiovae.reporting.records import read_csv
from tests.conftest import evaluate_folder, noise, tone, write
from tests.metric_references import audioldm_eval_lsd, audioldm_eval_psnr_ssim

pytest.importorskip("skimage", reason="the port's PSNR and SSIM are skimage's (pip install -e '.[test]')")
SR = 16000


def reference_clip(seconds=1.3):
    return tone(440, seconds, SR) + tone(5000, seconds, SR, amp=0.1) + noise(seconds, SR, amp=0.02)


def pairs():
    x = reference_clip()
    yield "noisy", x + noise(1.3, SR, seed=3, amp=0.05), x
    yield "low-passed", np.convolve(x, np.ones(5) / 5, "same").astype(np.float32), x
    yield "quieter", 0.3 * x, x
    yield "late by 1120", np.concatenate([np.zeros(1120, np.float32), x])[: len(x)], x
    yield "longer estimate", np.concatenate([x, noise(0.1, SR, seed=4)]), x


@pytest.mark.parametrize("name,y,x", list(pairs()), ids=[p[0] for p in pairs()])
def test_equal_to_the_port_of_audioldm_eval(name, y, x):
    psnr, ssim = audioldm_eval_psnr_ssim(y, x)
    ty, tx = torch.from_numpy(y), torch.from_numpy(x)
    assert audioldm_eval.psnr(ty, tx) == pytest.approx(psnr, abs=1e-6)
    assert audioldm_eval.ssim(ty, tx) == pytest.approx(ssim, abs=1e-6)
    assert audioldm_eval.lsd(ty, tx) == pytest.approx(audioldm_eval_lsd(y, x), abs=1e-6)
    assert audioldm_eval.lsd(ty, tx, offset=0) == pytest.approx(audioldm_eval_lsd(y, x, time_offset=0), abs=1e-6)


def test_the_offset_is_upstreams_hifigan_delay():
    x = reference_clip()
    late = torch.from_numpy(np.concatenate([np.zeros(1120, np.float32), x])[: len(x)])
    # an estimate 1120 samples late is aligned by upstream's offset and misaligned without it
    assert audioldm_eval.lsd(late, torch.from_numpy(x)) < 0.5 * audioldm_eval.lsd(late, torch.from_numpy(x), offset=0)


def test_identical_mels_are_left_out_and_other_rates_refused():
    x = torch.from_numpy(reference_clip())
    assert np.isnan(audioldm_eval.psnr(x, x)) and np.isnan(audioldm_eval.ssim(x, x))
    metric = build_metric("psnr_audioldm_eval", sample_rate=SR)
    assert torch.isnan(metric.accumulator().update(x[:9000], x[:9000]).update(x[9000:], x[9000:]).value())
    with pytest.raises(ConfigError, match="lsd_audioldm_eval is defined at 16000 Hz, the front end runs at 48000 Hz"):
        build_metric("lsd_audioldm_eval", sample_rate=48000)


def test_an_evaluation_reports_them_equal_to_the_port_on_its_saved_audio(tmp_path):
    write(tmp_path / "clips" / "a.wav", reference_clip(1.5), SR)
    write(tmp_path / "clips" / "b.wav", tone(300, 1.2, SR) + noise(1.2, SR, seed=5, amp=0.05), SR)
    names = "lsd_audioldm_eval,psnr_audioldm_eval,ssim_audioldm_eval,lsd"
    evaluate_folder(
        tmp_path / "clips",
        tmp_path / "out",
        "model=tiny",
        "logger=none",
        "metrics.bootstrap_samples=50",
        "outputs.save_plots=false",
        f"metrics.names=[{names}]",
        "metrics.lsd_audioldm_eval.offset=0",
    )
    rows = read_csv(tmp_path / "out" / "results.csv")
    assert [r["status"] for r in rows] == ["ok", "ok"]
    for row in rows:
        audio = {
            v: sf.read(str(tmp_path / "out" / "audio" / f"{row['file']}.{v}.wav"), dtype="float32")[0]
            for v in ("reference", "vocoder", "base", "enhanced")
        }
        for variant in ("vocoder", "base", "enhanced"):
            psnr, ssim = audioldm_eval_psnr_ssim(audio[variant], audio["reference"])
            assert row[f"{variant}_psnr_audioldm_eval"] == pytest.approx(psnr, abs=1e-6)
            assert row[f"{variant}_ssim_audioldm_eval"] == pytest.approx(ssim, abs=1e-6)
            lsd = audioldm_eval_lsd(audio[variant], audio["reference"], time_offset=0)
            assert row[f"{variant}_lsd_audioldm_eval"] == pytest.approx(lsd, abs=1e-6)
    summary = (tmp_path / "out" / "report.md").read_text()
    assert "lsd_audioldm_eval" in summary and "ssim_audioldm_eval" in summary
