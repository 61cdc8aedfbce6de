"""`audiovae-data`: a folder's manifest, packing into shards, and an evaluation's latents as a pre-encoded set that
training reads instead of encoding; nothing existing is overwritten."""

import io
import json
import tarfile

import numpy as np
import pytest
import soundfile as sf
import torch

from audiovae.data_cli import cli as data_cli
from tests.conftest import chirp, noise, tone, write
from tests.test_data_sources import evaluate  # the same fast evaluation (tiny model, cache off)

METRICS = ("base_snr", "enhanced_snr", "enhanced_lsd", "delta_hf_retention")


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli_clips")
    for i in range(6):
        write(d / f"c{i}.wav", tone(200 + 120 * i, 1.6, 16000) + noise(1.6, 16000, seed=i, amp=0.05), 16000)
    write(d / "sub" / "s.flac", chirp(100, 7000, 1.0, 16000), 16000, "PCM_24")
    return d


def snapshot(folder):
    return {p: p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_folder_to_manifest_to_shards_keeps_names_and_numbers(clips, tmp_path, capsys):
    before = snapshot(clips)
    assert data_cli(["manifest", str(clips), str(tmp_path / "m.jsonl")]) == 0
    assert data_cli(["pack", str(tmp_path / "m.jsonl"), str(tmp_path / "shards"), "--per-shard", "3"]) == 0
    index = json.loads((tmp_path / "shards" / "shards.json").read_text())
    assert index == {
        "shards": ["shard-000000.tar", "shard-000001.tar", "shard-000002.tar"],
        "samples": 7,
        "left_out": [],
    }
    folder = evaluate(tmp_path / "f", f"data.dir={clips}")
    manifest = evaluate(tmp_path / "m", f"data.manifest={tmp_path / 'm.jsonl'}")
    shards = evaluate(tmp_path / "s", f"data.shards={tmp_path / 'shards' / 'shard-{000000..000002}.tar'}")
    assert [r["file"] for r in manifest] == [r["file"] for r in folder]  # the manifest's ids are the folder's keys
    assert [r["file"] for r in shards][:2] == ["shard-000000.tar:c0_wav", "shard-000000.tar:c1_wav"]
    rows = lambda rs: [[r[m] for m in METRICS] for r in rs]  # noqa: E731
    assert rows(folder) == rows(manifest) == rows(shards)
    with tarfile.open(tmp_path / "shards" / "shard-000002.tar") as tar:
        meta = json.loads(tar.extractfile("sub/s_flac.json").read())
    assert meta == {"id": "sub/s.flac", "source": "m.jsonl:7"}
    assert snapshot(clips) == before


def test_an_excerpt_is_packed_as_its_samples(clips, tmp_path):
    (tmp_path / "m.jsonl").write_text(
        json.dumps(
            {"path": str(clips / "c1.wav"), "offset_s": 0.25, "id": "c1.wav#a", "duration_s": 0.5, "caption": "a tone"}
        )
        + "\n"
    )
    assert data_cli(["pack", str(tmp_path / "m.jsonl"), str(tmp_path / "out")]) == 0
    with tarfile.open(tmp_path / "out" / "shard-000000.tar") as tar:
        names = tar.getnames()
        wave, rate = sf.read(io.BytesIO(tar.extractfile(names[0]).read()), dtype="float32")
        meta = json.loads(tar.extractfile(names[1]).read())
    original, _ = sf.read(str(clips / "c1.wav"), dtype="float32")
    assert names == ["c1_wav_a.wav", "c1_wav_a.json"] and rate == 16000
    np.testing.assert_array_equal(wave, original[4000:12000])
    assert meta == {"id": "c1.wav#a", "source": "m.jsonl:1", "caption": "a tone"}


def test_outputs_that_exist_are_refused_unless_forced(clips, tmp_path, capsys):
    (tmp_path / "mine.jsonl").write_text("my own notes\n")
    assert data_cli(["manifest", str(clips), str(tmp_path / "mine.jsonl")]) == 2
    assert "mine.jsonl exists: nothing was written" in capsys.readouterr().err
    assert (tmp_path / "mine.jsonl").read_text() == "my own notes\n"
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "shard-000000.tar").write_bytes(b"mine")
    assert data_cli(["pack", str(clips), str(tmp_path / "out")]) == 2
    assert (tmp_path / "out" / "shard-000000.tar").read_bytes() == b"mine"
    assert data_cli(["pack", str(clips), str(tmp_path / "out"), "--force"]) == 0
    assert tarfile.is_tarfile(tmp_path / "out" / "shard-000000.tar")


@pytest.fixture(scope="module")
def latent_set(clips, tmp_path_factory):
    root = tmp_path_factory.mktemp("latents")
    evaluate(
        root / "run",
        f"data.dir={clips}",
        "data.chunking=true",
        "data.chunk_overlap_seconds=0.0",
        "enhancement=latent_fft_boost",
    )
    assert data_cli(["latents", str(root / "run"), str(root / "set"), "--per-shard", "4"]) == 0
    return root


def test_exported_latents_are_the_runs_own_and_decode_to_its_base_audio(latent_set):
    from audiovae.config.compose import compose
    from audiovae.config.schema import EvalConfig
    from audiovae.enhancers.registry import build_enhancer
    from audiovae.models.factory import build_model
    from audiovae.sections import resolve_sections

    cfg = compose(str(latent_set / "run" / "config.yaml"), [], schema=EvalConfig, validators=[resolve_sections])
    model = build_model(cfg.model, cfg.enhancement, cfg.frontend).eval()
    enhancer = build_enhancer(cfg.enhancement).eval()
    with tarfile.open(latent_set / "set" / "latents-000000.tar") as tar:
        part = lambda name: tar.extractfile(name).read()  # noqa: E731
        latent = torch.from_numpy(np.load(io.BytesIO(part("c0_wav.latent.npy"))))
        enhanced = torch.from_numpy(np.load(io.BytesIO(part("c0_wav.enhanced.npy"))))
        meta = json.loads(part("c0_wav.json"))
    assert latent.shape[0] == meta["segments"] == 2 and meta["id"] == "c0.wav"  # 1.6 s in 1.0 s segments
    torch.testing.assert_close(enhanced, enhancer.enhance_latent(latent), rtol=0, atol=0)
    with torch.no_grad():
        wave = model.synthesise(model.decode(latent[:1], enhanced=False), meta["segment_samples"])[0]
    base, _ = sf.read(str(latent_set / "run" / "audio" / "c0.wav.base.wav"), dtype="float32")
    n = min(len(base), meta["segment_samples"]) - 2048  # the first segment, before its join with the next
    np.testing.assert_allclose(wave[:n].numpy(), base[:n], rtol=0, atol=1e-5)


def test_training_on_a_latent_set_uses_its_latents_and_checks_they_fit(latent_set, tmp_path, monkeypatch, capsys):
    from audiovae.errors import ConfigError
    from audiovae.models.interface import AudioAutoencoder
    from audiovae.training.run import run_training
    from tests.test_data_sources import train_cfg

    calls = {"encode": 0}
    original = AudioAutoencoder.encode

    def counting(self, *args, **kwargs):
        calls["encode"] += 1
        return original(self, *args, **kwargs)

    monkeypatch.setattr(AudioAutoencoder, "encode", counting)
    shards = f"data.shards={latent_set / 'set' / 'latents-{000000..000001}.tar'}"
    run_training(train_cfg(tmp_path / "t", shards, "trainer.max_steps=4", "enhancement=learnable_latent_filter"))
    assert calls["encode"] == 0 and "is a pre-encoded set" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="pre-encoded segments are 16000 samples, the crop 7680"):
        run_training(train_cfg(tmp_path / "u", shards, "data.crop_seconds=0.5"))
    tampered = tmp_path / "other.tar"  # the same set, as if another model's weights had encoded it
    with tarfile.open(latent_set / "set" / "latents-000000.tar") as source, tarfile.open(tampered, "w") as out:
        for info in source.getmembers():
            data = source.extractfile(info).read()
            if info.name.endswith(".json"):
                data = json.dumps({**json.loads(data), "weights": "0123456789abcdef"}).encode()
                info.size = len(data)
            out.addfile(info, io.BytesIO(data))
    with pytest.raises(ConfigError, match="encoded by other weights"):
        run_training(train_cfg(tmp_path / "v", f"data.shards={tampered}"))
