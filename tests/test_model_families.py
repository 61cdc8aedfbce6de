"""One model interface: every family evaluates, caches, resumes, sweeps and trains through the same path; enhancers
are refused where a model has no such stage; a new family is one module and one config."""

import csv
import json
import sys
import textwrap

import pytest
import torch

from audiovae import cli
from audiovae.config import EvalConfig, compose
from audiovae.errors import ModelUnavailableError
from audiovae.models.factory import build_model, frontend_for
from audiovae.pipeline import ReconstructionPipeline
from audiovae.sections import resolve_sections
from tests.conftest import chirp, noise, tone, write
from tests.wandb_offline import read_offline_run

WAVE_MODELS = {
    "tiny_oobleck": (44100, "stable_audio_open"),
    "tiny_encodec": (24000, "encodec"),
    "tiny_dac": (44100, "dac"),
}


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """Held-out style clips at 44.1 kHz (a bright chirp, a tone with a high partial, noise) and one at 16 kHz."""
    d = tmp_path_factory.mktemp("family_clips")
    write(d / "a_chirp.wav", chirp(300, 15000, 0.6, 44100), 44100)
    write(d / "b_tone.wav", tone(440, 0.5, 44100) + tone(12000, 0.5, 44100, amp=0.1), 44100)
    write(d / "c_noise.wav", noise(0.5, 44100, amp=0.2), 44100)
    write(d / "d_low.wav", tone(220, 0.5, 16000), 16000)
    return d


def evaluate(clips, out, *words, expect=0):
    assert cli.main("eval", [f"data.dir={clips}", f"out_dir={out}", "data.max_seconds=0.5", *words]) == expect
    return json.loads((out / "summary.json").read_text()) if expect == 0 else None


def columns(out) -> list[str]:
    with open(out / "results.csv", newline="") as f:
        return next(csv.reader(f))


# tiny_dac in the inner loop; the other families' whole runs (their own paths are tested faster below) in `make slow`
@pytest.mark.parametrize(
    "model", [m if m == "tiny_dac" else pytest.param(m, marks=pytest.mark.slow) for m in sorted(WAVE_MODELS)]
)
def test_each_waveform_model_evaluates_end_to_end_with_report_wandb_cache_and_resume(model, clips, tmp_path):
    rate, family = WAVE_MODELS[model]
    out = tmp_path / "run"
    summary = evaluate(clips, out, f"model={model}", "logger=wandb")
    assert {k: summary["counts"][k] for k in ("files", "ok", "failed", "from_cache")} == {
        "files": 4,
        "ok": 4,
        "failed": 0,
        "from_cache": 0,
    }
    interface = summary["run"]["model_interface"]
    assert interface == {
        "family": family,
        "sample_rate": rate,
        "channels": 2 if family == "stable_audio_open" else 1,
        "analysis": "wave",
        "variants": ["base", "enhanced"],
    }
    assert summary["run"]["sample_rate"] == rate
    # no vocoder ceiling anywhere: not in the columns, the audio, the report or the summary
    assert not [c for c in columns(out) if c.startswith("vocoder_")] and "base_lsd" in columns(out)
    assert sorted(p.name for p in (out / "audio").glob("a_chirp*")) == [
        "a_chirp.wav.base.wav",
        "a_chirp.wav.enhanced.wav",
        "a_chirp.wav.reference.wav",
    ]
    assert all("vocoder" not in m["variants"] for m in summary["metrics"].values())
    report = (out / "report.md").read_text()
    assert "vocoder ceiling" not in report and "| metric | base | enhanced |" in report.replace("  ", " ")
    # a 16 kHz input holds nothing above a 44.1 kHz model's cutoff (11025 Hz): excluded, said, not counted as a loss
    rows = {r["file"]: r for r in csv.DictReader(open(out / "results.csv"))}
    assert rows["a_chirp.wav"]["base_lsd_hf"] != ""
    if rate / 4 >= 8000:
        assert rows["d_low.wav"]["base_lsd_hf"] == "" and "holds nothing above" in rows["d_low.wav"]["notes"]
    logged = read_offline_run(next(out.glob("wandb/offline-run-*")))
    assert logged["config"]["model"]["family"] == family and "eval/base/lsd" in logged["summary"]
    # a second run of the same files: every shared pass comes from the cache, the numbers are equal
    again = evaluate(clips, tmp_path / "again", f"model={model}", "logger=none")
    assert again["counts"]["from_cache"] == 4
    for name, m in summary["metrics"].items():
        for variant, stats in m["variants"].items():
            assert stats["mean"] == pytest.approx(
                again["metrics"][name]["variants"][variant]["mean"], rel=1e-6, nan_ok=True
            )
    # the same command again resumes: nothing is evaluated a second time
    resumed = evaluate(clips, out, f"model={model}", "logger=wandb")
    assert resumed["run"]["resumed_files"] == 4 and resumed["metrics"] == summary["metrics"]


def test_a_sweep_over_a_waveform_model_encodes_each_file_once(clips, tmp_path, monkeypatch):
    from audiovae.models.codecs import DacAutoencoder

    encodes = []
    original = DacAutoencoder.encode
    monkeypatch.setattr(
        DacAutoencoder,
        "encode",
        lambda self, wave, generator=None: encodes.append(len(wave)) or original(self, wave, generator),
    )
    out = tmp_path / "sweep"
    assert (
        cli.main(
            "eval",
            [
                f"data.dir={clips}",
                f"out_dir={out}",
                "data.max_seconds=0.5",
                "model=tiny_dac",
                "logger=none",
                "cache.enabled=false",
                "enhancement=latent_fft_boost",
                "sweep.enhancement.gain=[1.0,2.0]",
            ],
        )
        == 0
    )
    assert sum(encodes) == 4  # one segment per file, once for both settings
    settings = sorted(p.parent for p in out.rglob("summary.json"))
    means = [
        json.loads((p / "summary.json").read_text())["metrics"]["lsd"]["variants"]["enhanced"]["mean"] for p in settings
    ]
    assert len(settings) == 2 and means[0] != means[1]
    assert (out / "sweep.md").exists()


def test_an_enhancer_is_refused_in_one_line_where_the_model_has_no_such_stage(clips, tmp_path, capsys):
    evaluate(clips, tmp_path / "mel", "model=tiny_oobleck", "enhancement=mel_hf_shelf", "logger=none", expect=2)
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "error: config key 'enhancement': MelHFShelf acts on the mel stage, which the stable_audio_open "
        "model has not (its stages: latent, wave)"
    ]
    assert not (tmp_path / "mel").exists()
    evaluate(clips, tmp_path / "lag", "model=tiny_dac", "metrics.align=vocoder_lag", "logger=none", expect=2)
    assert "vocoder_lag aligns to the vocoder ceiling, which the dac model has not" in capsys.readouterr().err


def test_a_wave_enhancer_acts_on_every_model(clips, tmp_path):
    for model in ("tiny_encodec", "demo"):
        summary = evaluate(
            clips,
            tmp_path / model,
            f"model={model}",
            "enhancement=wave_fft_boost",
            "enhancement.gain=2.0",
            "logger=none",
            "outputs.save_audio=false",
            "outputs.save_plots=false",
        )
        m = summary["metrics"]["lsd_hf"]["variants"]
        assert m["enhanced"]["mean"] != m["base"]["mean"]


def test_the_pipeline_of_a_waveform_model_is_its_own_encode_and_decode(clips):
    """The pipeline's base waveform is the codec's own encode → decode; the identity enhancer gives it exactly."""
    cfg = compose(
        "eval",
        ["model=tiny_dac", "enhancement=latent_fft_boost", "enhancement.gain=1.5"],
        schema=EvalConfig,
        validators=[resolve_sections],
    )
    model = build_model(cfg.model, cfg.enhancement, cfg.frontend)
    pipeline = ReconstructionPipeline(frontend_for(cfg.frontend, model), model)
    wave = torch.from_numpy(chirp(300, 15000, 0.5, 44100))[: 512 * 40].unsqueeze(0)
    out = pipeline(wave, {"boost": model.enhancer})
    codec = model.codec
    expected = codec.decode(quantized_representation=codec.encode(wave.unsqueeze(1)).quantized_representation)
    torch.testing.assert_close(out.base_wave, expected.audio_values, rtol=0, atol=0)
    torch.testing.assert_close(out.base_mel, pipeline.frontend(out.base_wave))
    boosted = codec.decode(quantized_representation=model.enhancer.enhance_latent(model.encode(wave))).audio_values
    torch.testing.assert_close(out.enhanced_waves["boost"], boosted)
    assert out.vocoder_wave is None and "vocoder" not in out.seconds["boost"]


def test_each_family_loads_from_a_local_folder_and_says_how_to_get_a_hub_model(clips, tmp_path, monkeypatch):
    from audiovae.models.builders import BUILDERS

    for model in sorted(WAVE_MODELS):
        folder = BUILDERS[model](tmp_path / model)
        summary = evaluate(
            clips,
            tmp_path / f"run_{model}",
            f"model={model}",
            f"model.path={folder}",
            "model.build=null",
            "logger=none",
            "outputs.save_audio=false",
            "outputs.save_plots=false",
            f"data.files=[{clips / 'a_chirp.wav'}]",
        )
        assert summary["counts"]["ok"] == 1
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    cfg = compose("eval", ["model=stable_audio_open"], schema=EvalConfig, validators=[resolve_sections])
    with pytest.raises(
        ModelUnavailableError,
        match="accept the model's licence.*huggingface-cli download "
        "stabilityai/stable-audio-open-1.0 --include 'vae/\\*'",
    ):
        build_model(cfg.model, cfg.enhancement, cfg.frontend)
    cfg = compose("eval", ["model=encodec_24khz"], schema=EvalConfig, validators=[resolve_sections])
    with pytest.raises(ModelUnavailableError, match="download facebook/encodec_24khz --local-dir.*model=tiny_encodec"):
        build_model(cfg.model, cfg.enhancement, cfg.frontend)


def test_family_options_are_checked_against_the_class(clips, tmp_path, capsys):
    evaluate(clips, tmp_path / "a", "model=tiny_encodec", "model.options.n_quantizers=2", "logger=none", expect=2)
    assert "config key 'model.options.n_quantizers': the encodec family takes bandwidth" in capsys.readouterr().err
    evaluate(clips, tmp_path / "b", "model=tiny_encodec", "model.options.bandwidth=5.0", "logger=none", expect=2)
    assert "5 kbps is not one of this EnCodec's [1.5, 3.0, 6.0]" in capsys.readouterr().err
    low = evaluate(
        clips,
        tmp_path / "c",
        "model=tiny_dac",
        "model.options.n_quantizers=1",
        "logger=none",
        "outputs.save_audio=false",
        "outputs.save_plots=false",
    )
    full = evaluate(
        clips, tmp_path / "d", "model=tiny_dac", "logger=none", "outputs.save_audio=false", "outputs.save_plots=false"
    )
    assert low["metrics"]["lsd"]["variants"]["base"]["mean"] != full["metrics"]["lsd"]["variants"]["base"]["mean"]


TOY_FAMILY = '''
    """A toy family: the latent is the waveform averaged over blocks of 4 samples; decode repeats each value."""
    import torch

    from audiovae.models.families import Family, register_family
    from audiovae.models.interface import AudioAutoencoder


    class BlockMean(AudioAutoencoder):
        family = __name__

        def __init__(self, enhancer, block: int = 4):
            super().__init__(enhancer, sample_rate=16000, channels=1)
            self.block = block
            self.dummy = torch.nn.Linear(1, 1)

        def frame_multiple(self, hop_length):
            return 1 if hop_length % self.block == 0 else self.block

        def latent_shape(self, frames, n_mels, hop_length):
            return (1, 1, frames * hop_length // self.block)

        def weights(self):
            return (self.dummy,)

        def encode(self, wave, generator=None):
            return wave.unflatten(-1, (-1, self.block)).mean(-1).unsqueeze(1)

        def decode_raw(self, latent):
            return latent.squeeze(1).repeat_interleave(self.block, dim=-1)

        def synthesise(self, wave, num_samples):
            return wave[..., :num_samples]


    register_family(Family(__name__, lambda model, enhancer, frontend: BlockMean(enhancer, **model.options),
                           BlockMean, ("enhancer",)))
'''

TOY_CONFIG = """
    extends: eval
    model:
      family: toy_family_module
      name: toy
      path: null
      vae_subfolder: null
      options: {{block: 8}}
    data: {{dir: {clips}, max_seconds: 0.5}}
    logger: {{enabled: false}}
    out_dir: {out}
"""


def test_a_new_family_is_one_module_and_one_config(clips, tmp_path, monkeypatch):
    (tmp_path / "toy_family_module.py").write_text(textwrap.dedent(TOY_FAMILY))
    monkeypatch.syspath_prepend(str(tmp_path))
    config = tmp_path / "toy.yaml"
    out = tmp_path / "out"
    config.write_text(textwrap.dedent(TOY_CONFIG.format(clips=clips, out=out)))
    # a family module named by a config file is code from a file: it runs with the user's consent
    assert cli.main("eval", ["--config", str(config), "enhancement=latent_fft_boost"]) == 2
    assert "toy_family_module" not in sys.modules and not out.exists()
    assert cli.main("eval", ["--config", str(config), "--trust-code", "enhancement=latent_fft_boost"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["run"]["model_interface"]["family"] == "toy_family_module"
    assert summary["counts"]["ok"] == 4 and (out / "report.html").exists()
    # block means of 8 samples keep what is below sample_rate / 16: the low tone survives, the 15 kHz chirp does not
    assert summary["metrics"]["snr"]["variants"]["base"]["mean"] > -10
    sys.modules.pop("toy_family_module", None)


@pytest.mark.slow
def test_a_latent_enhancer_trains_on_a_waveform_model_and_its_export_evaluates(clips, tmp_path):
    from audiovae.config.schema import TrainConfig
    from audiovae.training.run import run_training

    words = [
        "model=tiny_dac",
        "enhancement=latent_resnet",
        "enhancement.latent_channels=16",
        "enhancement.channels=8",
        "enhancement.layers=2",
        "data.crop_seconds=0.3",
        "data.batch_size=2",
        "data.val_batch_size=2",
        "examples.count=1",
        "optim.warmup_steps=1",
        "trainer.max_steps=4",
        "trainer.log_every_n_steps=1",
        "trainer.val_check_interval=2",
        "checkpoint.monitor=val/enhanced/mel_l1",
        "checkpoint.last_every_n_steps=1",
        "data.val_ratio=0.25",
        "logger=none",
        "optim.lr=0.01",
        f"data.dir={clips}",
        f"out_dir={tmp_path / 'train'}",
    ]
    outcome = run_training(compose("train", words, schema=TrainConfig, validators=[resolve_sections]))
    summary = json.loads((tmp_path / "train" / "train_summary.json").read_text())
    assert summary["final_metrics"] and outcome.exported is not None and outcome.exported.exists()
    assert sorted(p.name for p in (tmp_path / "train" / "examples").glob("*_0.*.wav"))[:1]  # examples without a ceiling
    assert not list((tmp_path / "train" / "examples").glob("*.vocoder.wav"))
    result = evaluate(
        clips,
        tmp_path / "eval",
        "model=tiny_dac",
        f"enhancement.checkpoint={outcome.exported}",
        "logger=none",
        "outputs.save_audio=false",
        "outputs.save_plots=false",
    )
    assert result["counts"]["ok"] == 4
    assert result["run"]["enhancement"]["name"] == "latent_resnet"


def test_compare_runs_of_two_models_on_the_same_files_and_refuses_another_reference(clips, tmp_path, capsys):
    from audiovae import compare

    quiet = ["logger=none", "outputs.save_audio=false", "outputs.save_plots=false"]
    for model in ("tiny_dac", "tiny_oobleck", "demo"):
        evaluate(clips, tmp_path / model, f"model={model}", *quiet)
    out = tmp_path / "cmp"
    assert (
        compare.main(
            [
                str(tmp_path / "tiny_dac"),
                str(tmp_path / "tiny_oobleck"),
                "--out",
                str(out),
                "--variant",
                "base",
                "--bootstrap",
                "100",
            ]
        )
        == 0
    )
    table = {r["metric"]: r for r in csv.DictReader(open(out / "compare.csv"))}
    rows = {
        name: {r["file"]: r for r in csv.DictReader(open(tmp_path / name / "results.csv"))}
        for name in ("tiny_dac", "tiny_oobleck")
    }
    files = sorted(f for f in rows["tiny_dac"] if rows["tiny_dac"][f]["base_lsd"])
    a = [float(rows["tiny_dac"][f]["base_lsd"]) for f in files]
    b = [float(rows["tiny_oobleck"][f]["base_lsd"]) for f in files]
    assert float(table["lsd"]["delta"]) == pytest.approx((sum(b) - sum(a)) / len(files), rel=1e-6)
    assert "compared despite" not in (out / "compare.md").read_text()
    # a 16 kHz run measured another reference: refused in one line naming the difference
    assert compare.main([str(tmp_path / "tiny_dac"), str(tmp_path / "demo"), "--out", str(tmp_path / "x")]) == 2
    assert "frontend.sample_rate: 44100 vs 16000" in capsys.readouterr().err


def test_a_set_metric_on_a_waveform_model_has_no_ceiling_set(clips, tmp_path):
    summary = evaluate(
        clips,
        tmp_path / "fad",
        "model=tiny_encodec",
        "metrics.names=[lsd,fad]",
        "embedding=tiny_clap",
        "logger=none",
        "outputs.save_audio=false",
        "outputs.save_plots=false",
        "metrics.fad_bootstrap_samples=20",
    )
    fad = summary["sets"]["fad"]
    assert sorted(fad["variants"]) == ["base", "enhanced"] and fad["n_files"] == 4 and "delta" in fad
    report = (tmp_path / "fad" / "report.md").read_text()
    assert "| metric | base [95 % CI] | enhanced | Δ (enhanced − base) |" in report
    import numpy as np

    assert sorted(np.load(tmp_path / "fad" / "embeddings.npz").files) == ["base", "enhanced", "files", "reference"]


def test_common_rate_counts_the_band_a_16_khz_model_cannot_make(clips, tmp_path):
    """metrics.common_rate=44100: the reference is the 44.1 kHz file itself and the 16 kHz demo model's output is
    resampled to it, so its missing band above 8 kHz is a loss in lsd_hf, not left out."""
    import soundfile as sf
    import soxr

    from audiovae.audio.stream import PreparedAudio
    from audiovae.metrics.registry import build_metric

    quiet = [
        "model=demo",
        "logger=none",
        "outputs.save_plots=false",
        "cache.enabled=false",
        "metrics.names=[snr,lsd_hf,hf_retention,mel_l1]",
        "data.chunking=false",
    ]
    common = evaluate(clips, tmp_path / "common", *quiet, "metrics.common_rate=44100")
    evaluate(clips, tmp_path / "own", *quiet)
    rows = {r["file"]: r for r in csv.DictReader(open(tmp_path / "common" / "results.csv"))}
    own_rows = {r["file"]: r for r in csv.DictReader(open(tmp_path / "own" / "results.csv"))}
    # noise and the chirp: at 44.1 kHz their band above 11025 Hz is in the reference and nowhere in the output
    for file in ("a_chirp.wav", "c_noise.wav"):
        assert float(rows[file]["base_hf_retention"]) < 1 < 20 < float(own_rows[file]["base_hf_retention"])  # %
    assert float(rows["c_noise.wav"]["base_lsd_hf"]) > 2 * float(own_rows["c_noise.wav"]["base_lsd_hf"])
    assert rows["d_low.wav"]["base_lsd_hf"] == ""  # a 16 kHz file never held that band: excluded
    # mel-domain metrics stay on the model's own log-mel: equal with and without a common rate
    assert rows["a_chirp.wav"]["base_mel_l1"] == own_rows["a_chirp.wav"]["base_mel_l1"]
    # the value against an independent computation: the saved 16 kHz base resampled to 44.1 kHz at once, the file
    # read at 44.1 kHz on the 16 kHz reference's scale
    base16, rate = sf.read(tmp_path / "common" / "audio" / "a_chirp.wav.base.wav", dtype="float32")
    base44 = soxr.resample(base16, 16000, 44100, quality="HQ")
    stats = PreparedAudio.scan(clips / "a_chirp.wav", 16000, len(base16), -80.0, True)  # the evaluated part
    raw44, _ = sf.read(clips / "a_chirp.wav", dtype="float32")
    n = len(base44)
    reference = 0.5 * (raw44[:n] - stats.mean) / stats.peak
    metric = build_metric("lsd_hf", sample_rate=44100)
    expected = float(metric.per_item(torch.from_numpy(base44[:n])[None], torch.from_numpy(reference)[None], None))
    assert float(rows["a_chirp.wav"]["base_lsd_hf"]) == pytest.approx(expected, rel=1e-4)
    assert rate == 16000 and common["run"]["config"]["metrics"]["common_rate"] == 44100


def test_compare_across_rates_at_one_common_rate_compares_the_waveform_metrics(clips, tmp_path, capsys):
    from audiovae import compare

    quiet = [
        "logger=none",
        "outputs.save_audio=false",
        "outputs.save_plots=false",
        "metrics.common_rate=44100",
        "metrics.names=[snr,lsd_hf,mel_l1]",
        "frontend.normalize=false",
    ]
    for model in ("tiny_dac", "demo"):
        evaluate(clips, tmp_path / model, f"model={model}", *quiet)
    out = tmp_path / "cmp"
    assert (
        compare.main(
            [
                str(tmp_path / "demo"),
                str(tmp_path / "tiny_dac"),
                "--variant",
                "base",
                "--out",
                str(out),
                "--bootstrap",
                "50",
            ]
        )
        == 0
    )
    assert sorted(r["metric"] for r in csv.DictReader(open(out / "compare.csv"))) == ["lsd_hf", "snr"]
    assert "waveform metrics only, all at the common rate 44100 Hz" in (out / "compare.md").read_text()


def test_a_stereo_model_keeps_both_channels_and_measures_each(tmp_path):
    """Stable Audio Open's VAE is stereo: a stereo file reaches it as two channels, its reconstruction keeps them
    (stereo wavs), and each waveform metric is the mean of the two channels' values."""
    import numpy as np
    import soundfile as sf

    from audiovae.metrics.registry import build_metric

    clips = tmp_path / "clips"
    clips.mkdir()
    left, right = tone(440, 0.5, 44100), chirp(300, 12000, 0.5, 44100)
    sf.write(clips / "stereo.wav", np.stack([left, right], axis=1), 44100, subtype="FLOAT")
    write(clips / "mono.wav", tone(660, 0.5, 44100), 44100)
    quiet = ["model=tiny_oobleck", "logger=none", "outputs.save_plots=false", "metrics.names=[snr,lsd,mel_l1]"]
    summary = evaluate(clips, tmp_path / "stereo", *quiet)
    assert summary["counts"]["ok"] == 2
    out = tmp_path / "stereo"
    reference, rate = sf.read(out / "audio" / "stereo.wav.reference.wav", dtype="float32")
    base, _ = sf.read(out / "audio" / "stereo.wav.base.wav", dtype="float32")
    assert reference.shape[1] == base.shape[1] == 2 and rate == 44100
    assert not np.allclose(reference[:, 0], reference[:, 1])  # the channels stay apart
    mono_ref, _ = sf.read(out / "audio" / "mono.wav.reference.wav", dtype="float32")
    assert mono_ref.shape[1] == 2 and np.array_equal(mono_ref[:, 0], mono_ref[:, 1])  # a mono file on both
    rows = {r["file"]: r for r in csv.DictReader(open(out / "results.csv"))}
    for name in ("snr", "lsd"):
        metric = build_metric(name, sample_rate=44100)
        per_channel = [
            float(metric.per_item(torch.from_numpy(base[:, c])[None], torch.from_numpy(reference[:, c])[None], None))
            for c in range(2)
        ]
        assert float(rows["stereo.wav"][f"base_{name}"]) == pytest.approx(np.mean(per_channel), rel=1e-4, abs=1e-6)
    # the same files mixed to mono (data.channels=mix): mono wavs, other numbers
    mixed = tmp_path / "mixed"
    evaluate(clips, mixed, *quiet, "data.channels=mix")
    assert sf.info(str(mixed / "audio" / "stereo.wav.base.wav")).channels == 1
    assert {r["file"]: r for r in csv.DictReader(open(mixed / "results.csv"))}["stereo.wav"]["base_snr"] != rows[
        "stereo.wav"
    ]["base_snr"]
    # a second run of the stereo evaluation reads its shared work from the cache, with the same numbers
    again = evaluate(clips, tmp_path / "again", *quiet)
    assert again["counts"]["from_cache"] == 2 and again["metrics"]["snr"] == summary["metrics"]["snr"]
    # both channels through a common rate and a wave-domain enhancer
    common = evaluate(clips, tmp_path / "common", *quiet, "metrics.common_rate=48000", "enhancement=wave_fft_boost")
    assert common["counts"]["ok"] == 2 and common["metrics"]["lsd"]["variants"]["enhanced"]["n"] == 2


def test_the_builtin_family_names_are_the_ones_family_builtin_registers():
    """consent.py decides whether `model.family` names a module from BUILTIN_FAMILIES, before the built-ins import."""
    from audiovae.models import family_builtin  # noqa: F401 - registers the built-in families
    from audiovae.models.families import BUILTIN_FAMILIES, FAMILIES
    from audiovae.plugins import is_builtin

    assert sorted(name for name, family in FAMILIES.items() if is_builtin(family.build)) == sorted(BUILTIN_FAMILIES)


def test_a_family_missing_a_stage_fails_when_it_is_built_naming_it():
    from audiovae.enhancers.chain import EnhancerChain
    from audiovae.models.interface import WaveformAutoencoder

    class NoWeights(WaveformAutoencoder):
        def encode(self, wave, generator=None):
            return wave

        def decode_raw(self, latent):
            return latent

    with pytest.raises(TypeError, match="abstract class NoWeights with abstract method '?weights"):
        NoWeights(EnhancerChain([]), sample_rate=16000, channels=1, hop_length=4, latent_channels=1)
