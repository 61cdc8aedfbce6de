"""`audiovae-generate` on the tiny AudioLDM2 pipeline: one row per (prompt, seed) with paired base/enhanced
reference-free metrics, summary, reports, offline W&B; cached latents decode to the pipeline's own output; a second
setting reuses the diffusion; resume after kill -9; each metric against an independent computation."""

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from audiovae.cli import main
from audiovae.metrics.kad import median_pairwise_distance
from tests.conftest import chirp, noise, tone, write
from tests.wandb_offline import read_offline_run

STEPS, SECONDS = "generation.steps=3", "generation.audio_length_s=1.0"
PROMPTS = "a dog barks in the rain\npiano music and wind\n"


def generate(tmp: Path, out: str, *words: str, prompts: str = PROMPTS) -> int:
    (tmp / "prompts.txt").write_text(prompts)
    return main(
        "generate",
        [
            "model=tiny_pipeline",
            f"prompts={tmp / 'prompts.txt'}",
            "seeds=[0,1]",
            STEPS,
            SECONDS,
            f"out_dir={tmp / out}",
            *words,
        ],
    )


def rows(out: Path) -> list[dict]:
    with open(out / "results.csv", newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """The documented command (docs/generation.md): tiny pipeline, two prompts × seeds [0, 1], default metrics
    (clap_score by tiny CLAP)."""
    tmp = tmp_path_factory.mktemp("generate")
    before = os.environ.get("AUDIOVAE_CACHE_DIR")
    os.environ["AUDIOVAE_CACHE_DIR"] = str(tmp / "cache")
    try:
        assert generate(tmp, "run") == 0
    finally:
        os.environ["AUDIOVAE_CACHE_DIR"] = before or ""
    return tmp / "run"


def test_one_row_per_prompt_and_seed_with_paired_metrics_summary_reports_and_wandb(run):
    table = rows(run)
    assert [(r["prompt_id"], r["seed"]) for r in table] == [("p000", "0"), ("p000", "1"), ("p001", "0"), ("p001", "1")]
    assert table[1]["prompt"] == "a dog barks in the rain" and all(r["status"] == "ok" for r in table)
    names = ["hf_energy_share", "rolloff_85", "rolloff_95", "effective_bandwidth", "hf_flatness", "clap_score"]
    for r in table:
        for name in names:
            assert np.isfinite(float(r[f"base_{name}"])) and np.isfinite(float(r[f"enhanced_{name}"]))
        assert float(r["enhanced_hf_energy_share"]) != float(r["base_hf_energy_share"])  # the enhancer acted
    summary = json.loads((run / "summary.json").read_text())
    assert summary["counts"] == {"items": 4, "files": 4, "ok": 4, "failed": 0, "from_cache": 0, "nan_values": 0}
    assert list(summary["metrics"]) == names and summary["generation"]["diffusions_run"] == 4
    m = summary["metrics"]["hf_flatness"]
    assert m["direction"] == "lower" and m["comparison"]["n"] == 4 and m["verdict"]["outcome"]
    assert set(summary["metrics"]["clap_score"]["variants"]) == {"base", "enhanced"}  # no reference, no ceiling
    report = (run / "report.md").read_text()
    assert "# Generation report" in report and "### p001: “piano music and wind”" in report
    assert "4 diffusions run" in report and "reference-free metrics" in report
    assert "files" not in report.split("## Per prompt")[0].split("## Summary")[1]  # items, not files
    assert (run / "report.html").exists() and (run / "listening/preference/index.html").exists()
    key = json.loads((run / "listening/keys/preference.json").read_text())
    assert {t["file"] for t in key["trials"]} == {r["file"] for r in table}
    logged = read_offline_run(next((run / "wandb").glob("offline-run-*")))
    assert logged["job_type"] == "generate" and logged["exit_code"] == 0
    assert logged["summary"]["generate/n_files"] == 4
    assert logged["summary"]["generate/base/hf_energy_share"] == pytest.approx(
        summary["metrics"]["hf_energy_share"]["variants"]["base"]["mean"]
    )
    items = logged["tables"]["generate/items"]
    columns = items["columns"]
    assert {"prompt", "seed", "audio_base", "audio_enhanced"} <= set(columns)
    assert [row[columns.index("prompt")] for row in items["data"]][:2] == ["a dog barks in the rain"] * 2


def test_the_saved_base_audio_is_the_pipelines_own_output_and_the_cache_holds_its_latents(run):
    """Decoding the cached latents (by hand: EnhancedVAE's decode and vocode) equals the pipeline's own audio
    within 1e-6; the run's saved base decode is that audio."""
    from omegaconf import OmegaConf

    from audiovae.cache.store import CacheStore
    from audiovae.config import compose
    from audiovae.config.schema import GenerateConfig
    from audiovae.generation.diffusion import LatentSource, load_pipeline
    from audiovae.generation.prompts import Item, Prompt
    from audiovae.models.factory import build_model

    cfg = compose(str(run / "config.yaml"), [], schema=GenerateConfig)
    model = build_model(cfg.model, OmegaConf.create({"name": "none"}), cfg.frontend)
    pipe = load_pipeline(cfg.model, model)
    source = LatentSource(pipe, cfg.generation, CacheStore(run.parent / "cache"), torch.device("cpu"))
    item = Item(Prompt("p001", "piano music and wind"), 1)
    entry = source.store.get(source.key(item))
    assert entry is not None  # stored by the run
    latents = entry.segment(0)["latents"]
    own = pipe(
        "piano music and wind",
        num_inference_steps=3,
        audio_length_in_s=1.0,
        guidance_scale=3.5,
        generator=torch.Generator().manual_seed(1),
        output_type="np",
    ).audios
    with torch.no_grad():
        by_hand = model.vocode(model.decode(latents, enhanced=False), own.shape[-1]).numpy()
    np.testing.assert_allclose(by_hand, own, rtol=0, atol=1e-6)
    saved, sr = sf.read(run / "audio" / "p001_s1.base.wav", dtype="float32")
    assert sr == 16000
    np.testing.assert_allclose(saved, own[0], rtol=0, atol=1e-6)


def test_a_saved_config_reproduces_the_run(run, tmp_path):
    assert main("generate", ["--config", str(run / "config.yaml"), f"out_dir={tmp_path / 'again'}"]) == 0
    columns = [c for c in rows(run)[0] if c.startswith(("base_", "enhanced_", "delta_"))]
    assert [[r[c] for c in columns] for r in rows(tmp_path / "again")] == [[r[c] for c in columns] for r in rows(run)]


def test_a_released_panns_checkpoint_loads_and_a_mismatched_one_is_one_line(tmp_path):
    """PANNs' format: {"model": state_dict, "iteration": n} with torchlibrosa's STFT and mel buffers among the keys
    (computed here, not read); the shape comes from the classifier config."""
    from omegaconf import OmegaConf

    from audiovae.errors import ConfigError
    from audiovae.models.classifier import TINY_CNN14, Cnn14, load_classifier

    torch.manual_seed(0)
    model = Cnn14(TINY_CNN14).eval()
    state = {
        **model.state_dict(),
        "spectrogram_extractor.stft.conv_real.weight": torch.zeros(513, 1, 1024),
        "logmel_extractor.melW": torch.zeros(513, 64),
    }
    torch.save({"model": state, "iteration": 660000}, tmp_path / "Cnn14.pth")
    shape = {
        "sample_rate": 32000,
        "window": 1024,
        "hop": 320,
        "mel_bins": 64,
        "fmin": 50.0,
        "fmax": 14000.0,
        "classes": TINY_CNN14.classes,
        "channels": list(TINY_CNN14.channels),
    }
    loaded = load_classifier(OmegaConf.create({"name": "panns", "path": str(tmp_path / "Cnn14.pth"), **shape}))
    x = torch.from_numpy(chirp(100, 8000, 1.0, 32000))
    with torch.no_grad():
        expected = torch.softmax(model(x[None]).double(), -1)[0].numpy()
    np.testing.assert_allclose(loaded.probabilities(x, 32000), expected, rtol=0, atol=1e-12)
    with pytest.raises(ConfigError, match=r"classifier.path.*Cnn14.pth is not a Cnn14 of the configured shape"):
        load_classifier(
            OmegaConf.create({"name": "panns", "path": str(tmp_path / "Cnn14.pth"), **{**shape, "classes": 527}})
        )


def _generation_seconds(out: Path) -> float:
    return sum(
        float(r["time_diffusion"])
        + float(r["time_base_decode"])
        + float(r["time_vocoder"])
        + float(r["time_enhanced_decode"])
        + float(r["time_enhanced_vocoder"])
        for r in rows(out)
    )


def test_a_second_setting_reuses_the_diffusion_and_is_at_least_3x_faster(tmp_path):
    words = ["generation.steps=12", "metrics.names=[hf_energy_share,rolloff_95]", "outputs.save_plots=false"]
    assert generate(tmp_path, "first", *words) == 0
    assert generate(tmp_path, "second", *words, "enhancement.gain=1.8") == 0
    first = json.loads((tmp_path / "first/summary.json").read_text())
    second = json.loads((tmp_path / "second/summary.json").read_text())
    assert first["generation"]["diffusions_run"] == 4 and second["generation"]["diffusions_run"] == 0
    assert second["counts"]["from_cache"] == 4 and second["generation"]["items_from_cache"] == 4
    assert {r["time_base_decode"] for r in rows(tmp_path / "second")} == {"0.0"}  # the base decode is cached too
    assert _generation_seconds(tmp_path / "first") >= 3 * _generation_seconds(tmp_path / "second")
    a, b = rows(tmp_path / "first"), rows(tmp_path / "second")
    assert [r["base_hf_energy_share"] for r in a] == [r["base_hf_energy_share"] for r in b]  # the same latents
    assert [r["enhanced_hf_energy_share"] for r in a] != [r["enhanced_hf_energy_share"] for r in b]


def test_a_sweep_runs_each_diffusion_once_for_every_setting(tmp_path):
    assert (
        generate(
            tmp_path,
            "sweep",
            "sweep.enhancement.gain=[1.2,1.8]",
            "metrics.names=[hf_energy_share]",
            "outputs.save_plots=false",
        )
        == 0
    )
    settings = sorted((tmp_path / "sweep/settings").iterdir())
    assert [s.name for s in settings] == ["gain=1.2", "gain=1.8"]
    for s in settings:
        assert json.loads((s / "summary.json").read_text())["generation"]["diffusions_run"] == 4
    assert (tmp_path / "sweep/sweep.md").exists()
    base = [[r["base_hf_energy_share"] for r in rows(s)] for s in settings]
    assert base[0] == base[1]


def test_several_candidates_are_rows_or_reranked_by_the_pipelines_clap(tmp_path):
    assert (
        generate(
            tmp_path,
            "each",
            "generation.waveforms_per_prompt=2",
            "metrics.names=[hf_energy_share]",
            "seeds=[0]",
            prompts="rain\n",
        )
        == 0
    )
    assert [r["file"] for r in rows(tmp_path / "each")] == ["p000_s0_c0", "p000_s0_c1"]
    assert (
        generate(
            tmp_path,
            "best",
            "generation.waveforms_per_prompt=2",
            "generation.rerank=true",
            "metrics.names=[hf_energy_share]",
            "seeds=[0]",
            prompts="rain\n",
        )
        == 0
    )
    best = rows(tmp_path / "best")
    assert [r["file"] for r in best] == ["p000_s0"]
    chosen = int(best[0]["candidate"])
    assert best[0]["base_hf_energy_share"] == rows(tmp_path / "each")[chosen]["base_hf_energy_share"]
    # the pipeline's own score_waveforms puts the chosen candidate first
    both = np.stack(
        [sf.read(tmp_path / "each" / "audio" / f"p000_s0_c{c}.base.wav", dtype="float32")[0] for c in (0, 1)]
    )
    from diffusers import AudioLDM2Pipeline

    pipe = AudioLDM2Pipeline.from_pretrained(Path(os.environ["AUDIOVAE_HOME"]) / "models" / "tiny-pipeline")
    ordered = pipe.score_waveforms("rain", torch.from_numpy(both), 2, torch.device("cpu"), torch.float32)
    np.testing.assert_array_equal(ordered[0].numpy(), both[chosen])


@pytest.mark.slow
def test_resume_after_kill_9_is_identical(tmp_path):
    prompts = "".join(f"prompt number {i} rain\n" for i in range(3))
    (tmp_path / "prompts.txt").write_text(prompts)
    words = [
        "model=tiny_pipeline",
        f"prompts={tmp_path / 'prompts.txt'}",
        "seeds=[0,1]",
        "generation.steps=30",
        SECONDS,
        "metrics.names=[hf_energy_share,hf_flatness]",
        "outputs.save_plots=false",
        "logger=none",
    ]
    env = {**os.environ, "AUDIOVAE_CACHE_DIR": str(tmp_path / "cache")}
    command = [sys.executable, "generate.py", *words, f"out_dir={tmp_path / 'killed'}"]
    process = subprocess.Popen(
        command, env=env, cwd=Path(__file__).parents[1], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    stored = tmp_path / "killed/partial/rows.rank0.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (not stored.exists() or len(stored.read_text().splitlines()) < 2):
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    done_before = len(stored.read_text().splitlines())
    assert 2 <= done_before < 6
    subprocess.run(command, env=env, cwd=Path(__file__).parents[1], check=True, capture_output=True)
    assert main("generate", [*words, f"out_dir={tmp_path / 'whole'}", "cache.enabled=false"]) == 0
    resumed, whole = rows(tmp_path / "killed"), rows(tmp_path / "whole")
    assert len(resumed) == 6
    value_columns = [c for c in whole[0] if c.startswith(("base_", "enhanced_", "delta_"))] + ["file", "prompt"]
    assert [{c: r[c] for c in value_columns} for r in resumed] == [{c: r[c] for c in value_columns} for r in whole]
    summary = json.loads((tmp_path / "killed/summary.json").read_text())
    assert summary["run"]["resumed_files"] == done_before


def test_evaluation_refuses_the_metrics_that_need_a_prompt(tmp_path, capsys):
    write(tmp_path / "clips" / "a.wav", tone(440, 1.0, 16000), 16000)
    assert (
        main(
            "eval",
            [
                "model=tiny",
                f"data.dir={tmp_path / 'clips'}",
                "metrics.names=[snr,clap_score]",
                f"out_dir={tmp_path / 'out'}",
                "logger=none",
            ],
        )
        == 2
    )
    assert "clap_score needs a prompt and the embedding model" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_the_report_and_the_preference_page_work_in_a_browser(run, page):
    page.page.goto((run / "report.html").as_uri())
    assert page.errors == [] and all(r.startswith("file://") for r in page.requests)
    first = "article.file:nth-of-type(1)"
    assert page.page.locator(f"{first} button").all_inner_texts() == ["1 · base", "2 · enhanced"]
    assert "a dog barks in the rain" in page.page.locator(first).inner_text()
    page.page.click(f"{first} button:has-text('enhanced')")
    assert page.page.evaluate(f'document.querySelector("{first} audio:not([hidden])").dataset.label') == "enhanced"
    page.page.goto((run / "listening/preference/index.html").as_uri())
    assert page.errors == [] and page.page.locator("article.trial").count() == 4
    trial = page.page.locator("article.trial").first
    assert trial.locator("button").all_inner_texts() == ["1 · A", "2 · B"]  # no reference to compare with
    assert "Better:" in trial.inner_text() and "“" in trial.inner_text()


def test_prompt_files_in_every_format_and_one_line_errors(tmp_path):
    from audiovae.errors import ConfigError
    from audiovae.generation.prompts import read_prompts

    (tmp_path / "ref.wav").write_bytes(b"")
    (tmp_path / "p.jsonl").write_text('{"caption": "rain", "id": "r1", "audio": "ref.wav"}\n\n{"prompt": "wind"}\n')
    got = read_prompts(tmp_path / "p.jsonl")
    assert [(p.id, p.text) for p in got] == [("r1", "rain"), ("p001", "wind")]
    assert got[0].audio == str(tmp_path / "ref.wav") and got[1].audio is None
    (tmp_path / "p.csv").write_text('id,caption\na,"rain, heavy"\nb,wind\n')
    assert [p.text for p in read_prompts(tmp_path / "p.csv")] == ["rain, heavy", "wind"]
    (tmp_path / "p.tsv").write_text("prompt\trest\nrain\tx\n")
    assert [p.text for p in read_prompts(tmp_path / "p.tsv")] == ["rain"]
    for name, text, message in [
        ("bad.jsonl", '{"prompt": "a"}\n{oops\n', r"bad\.jsonl line 2: not JSON"),
        ("none.jsonl", '{"text": "a"}\n', r"line 1: no prompt or caption text"),
        ("cols.csv", "text\na\n", r"header: no prompt or caption column"),
        ("dup.jsonl", '{"prompt": "a", "id": "x"}\n{"prompt": "b", "id": "x"}\n', "id 'x' appears twice"),
        ("empty.txt", "\n# only a comment\n", "no prompts"),
        ("p.yaml", "a", "unknown format"),
    ]:
        (tmp_path / name).write_text(text)
        with pytest.raises(ConfigError, match=message):
            read_prompts(tmp_path / name)
    with pytest.raises(ConfigError, match="missing.txt"):
        read_prompts(tmp_path / "missing.txt")


def test_bad_settings_fail_at_start_up_in_one_line(tmp_path, capsys):
    assert generate(tmp_path, "a", "metrics.names=[snr]") == 2
    assert "snr compares with a reference recording" in capsys.readouterr().err
    assert generate(tmp_path, "b", "generation.rerank=true") == 2
    assert "generation.rerank" in capsys.readouterr().err
    assert generate(tmp_path, "c", "metrics.names=[kl_softmax]") == 2
    assert "kl_softmax needs a classifier" in capsys.readouterr().err
    assert (
        main(
            "generate",
            [
                "model=tiny_oobleck",
                f"prompts={tmp_path / 'prompts.txt'}",
                "seeds=[0]",
                "metrics.names=[hf_energy_share]",
                f"out_dir={tmp_path / 'd'}",
            ],
        )
        == 2
    )
    assert "latent diffusion pipeline of the audioldm family" in capsys.readouterr().err
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    write(tmp_path / "mine" / "take.wav", tone(440, 0.5, 16000), 16000)  # a folder of the user's: refused, untouched
    before = {p.name: p.read_bytes() for p in (tmp_path / "mine").iterdir()}
    assert generate(tmp_path, "mine") == 2
    assert "holds files that are not an audiovae run's (take.wav)" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in (tmp_path / "mine").iterdir()} == before


def test_kl_and_fad_against_reference_recordings(tmp_path):
    """Prompts with reference audio: kl_softmax per item (tiny Cnn14) and fad against them (tiny CLAP), paired
    statistics for kl, one FAD per variant with an unpaired bootstrap."""
    for i in range(4):
        write(
            tmp_path / "refs" / f"r{i}.wav",
            tone(300 + 200 * i, 1.0, 16000) + noise(1.0, 16000, seed=i, amp=0.05),
            16000,
        )
    lines = [json.dumps({"caption": f"sound {i}", "audio": f"refs/r{i}.wav"}) for i in range(3)]
    (tmp_path / "p.jsonl").write_text("\n".join(lines) + "\n")
    (tmp_path / "reference.csv").write_text("audio,caption\n" + "".join(f"refs/r{i}.wav,x\n" for i in range(4)))
    assert (
        main(
            "generate",
            [
                "model=tiny_pipeline",
                f"prompts={tmp_path / 'p.jsonl'}",
                "seeds=[0]",
                STEPS,
                SECONDS,
                "classifier=tiny_cnn14",
                "metrics.names=[hf_energy_share,kl_softmax,fad,kad]",
                f"reference={tmp_path / 'reference.csv'}",
                "metrics.fad_bootstrap_samples=20",
                f"out_dir={tmp_path / 'out'}",
            ],
        )
        == 0
    )
    table = rows(tmp_path / "out")
    assert all(float(r["base_kl_softmax"]) >= -1e-4 for r in table)
    summary = json.loads((tmp_path / "out/summary.json").read_text())
    fad = summary["sets"]["fad"]
    assert fad["n_files"] == 3 and fad["n_reference"] == 4 and set(fad["variants"]) == {"base", "enhanced"}
    assert fad["reference"] == f"4 recordings listed in {tmp_path / 'reference.csv'}"
    assert summary["metrics"]["kl_softmax"]["direction"] == "lower"
    saved = np.load(tmp_path / "out" / "embeddings.npz")  # the sets fad was computed on
    assert saved["reference"].shape[0] == 4 and saved["base"].shape[0] == 3

    def eigen_fad(a, b):  # Tr (Σa Σb)^½ as the sum of the square roots of the product's eigenvalues
        mu_a, mu_b, ca, cb = a.mean(0), b.mean(0), np.cov(a, rowvar=False), np.cov(b, rowvar=False)
        root = np.sqrt(np.clip(np.linalg.eigvals(ca @ cb).real, 0, None)).sum()
        return float(((mu_a - mu_b) ** 2).sum() + np.trace(ca) + np.trace(cb) - 2 * root)

    for variant in ("base", "enhanced"):
        assert fad["variants"][variant]["value"] == pytest.approx(
            eigen_fad(saved["reference"].astype(np.float64), saved[variant].astype(np.float64)), rel=1e-3, abs=1e-6
        )
    kad = summary["sets"]["kad"]  # against the same independent reference set, its bandwidth from the reference
    assert kad["n_reference"] == 4 and kad["reference"] == fad["reference"]
    assert kad["bandwidth"] == pytest.approx(median_pairwise_distance(saved["reference"].astype(np.float64)), rel=1e-5)


def test_reference_free_metrics_equal_independent_computations():
    import librosa

    from audiovae.metrics.registry import build_metric

    sr, n_fft, hop = 16000, 2048, 512
    x = (tone(440, 1.0, sr) + tone(5000, 1.0, sr, amp=0.05) + noise(1.0, sr, seed=3, amp=0.01)).astype(np.float64)
    power = np.abs(librosa.stft(x, n_fft=n_fft, hop_length=hop, window="hann", center=True, pad_mode="constant")) ** 2
    freqs = np.arange(n_fft // 2 + 1) * sr / n_fft
    long_term = power.sum(1)

    def value(name):
        one = torch.from_numpy(x)[None]
        return float(build_metric(name, sample_rate=sr).per_item(one, one, None)[0])

    assert value("hf_energy_share") == pytest.approx(100 * long_term[freqs >= 4000].sum() / long_term.sum(), rel=1e-9)
    for q in (0.85, 0.95):
        expected = librosa.feature.spectral_rolloff(S=long_term[:, None], sr=sr, n_fft=n_fft, roll_percent=q)[0, 0]
        assert value(f"rolloff_{round(100 * q)}") == pytest.approx(expected)
    assert value("effective_bandwidth") == freqs[np.nonzero(long_term >= long_term.max() * 1e-6)[0][-1]]
    flatness = librosa.feature.spectral_flatness(S=power[freqs >= 4000], power=1.0, amin=1e-10)[0]
    assert value("hf_flatness") == pytest.approx(flatness.mean(), rel=1e-9)
    assert np.isnan(
        float(
            build_metric("hf_energy_share", sample_rate=sr).per_item(torch.zeros(1, 4000), torch.zeros(1, 4000), None)[
                0
            ]
        )
    )


def test_clap_score_and_label_kl_equal_independent_computations(tmp_path):
    from omegaconf import OmegaConf
    from torch.nn import functional as F

    from audiovae.models.classifier import label_kl, load_classifier
    from audiovae.models.embedding import clap_score, load_embedder

    embedder = load_embedder(
        OmegaConf.create(
            {
                "name": "tiny_clap",
                "path": str(tmp_path / "clap"),
                "build": "tiny_clap",
                "cache_dir": None,
                "batch_size": 4,
            }
        )
    )
    wave = torch.from_numpy(noise(1.0, 48000, seed=1))
    tokens = embedder.tokenizer(["a dog barks"], return_tensors="pt")
    with torch.no_grad():
        text = embedder.model.get_text_features(**tokens)
        audio = embedder.model.get_audio_features(
            **embedder.feature_extractor(
                [wave.numpy()], sampling_rate=48000, return_tensors="pt", padding="repeatpad", truncation="rand_trunc"
            )
        )
    text, audio = (getattr(t, "pooler_output", t)[0].double() for t in (text, audio))
    expected = float(F.cosine_similarity(text, audio, dim=0))
    assert clap_score(embedder.embed_text(["a dog barks"])[0], embedder.embed(wave, 48000)) == pytest.approx(
        expected, abs=1e-6
    )
    classifier = load_classifier(
        OmegaConf.create({"name": "tiny", "path": str(tmp_path / "cnn"), "build": "tiny_cnn14"})
    )
    p = classifier.probabilities(torch.from_numpy(tone(500, 1.0, 32000)), 32000)
    q = classifier.probabilities(torch.from_numpy(chirp(100, 8000, 1.0, 32000)), 32000)
    torch_kl = F.kl_div(torch.from_numpy(q + 1e-6).log(), torch.from_numpy(p), reduction="sum")
    assert label_kl(p, q) == pytest.approx(float(torch_kl), rel=1e-9) and label_kl(p, q) > 0
    assert p.sum() == pytest.approx(1.0)
