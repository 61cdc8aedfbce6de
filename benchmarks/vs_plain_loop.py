"""audiovae against the loop a user would write by hand, on the same files, interleaved A B A B.

The plain loop (below, `plain_loop`): per file read, AudioLDM's normalisation, the log-mel, one encode, the base
and the enhanced decode (latent_fft_boost), three HiFi-GAN passes (reference, base, enhanced) and two metrics
(SNR and LSD of base and enhanced), with diffusers and transformers directly. `evaluate.py` does the same and
more (the vocoder ceiling's metrics, the lag search, band retention, statistics, report) with
`metrics.names=[snr,lsd]`, no audio or plots written. Both run as fresh processes (imports and model loading
included). Printed: the plain loop's wall time over evaluate.py's for

- a first run (a cold cross-run cache),
- a repeat run with another enhancer setting (the cache warm from the first run),
- a first run with the VAE and the vocoder in bf16 (`model.vae_precision=bf16 model.options.vocoder_precision=bf16`),

and that both compute the same numbers; also `evaluate.py --help` and the offline model-unavailable error times, and
the plain loop's start-up alone (on an empty folder): its wall time minus that is the model work and metrics any
implementation of the same arithmetic must do, which bounds the first-run ratio from above.

    python benchmarks/vs_plain_loop.py [--model audioldm2_random] [--files 4] [--seconds 10.24] [--rounds 2]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def plain_loop(clips: Path, model_path: str, gain: float, out: Path) -> None:
    """The hand-written loop; writes {file: {base_snr, enhanced_snr, base_lsd, enhanced_lsd}} to `out`."""
    import librosa
    import numpy as np
    import soundfile as sf
    import torch
    from diffusers import AutoencoderKL
    from transformers import SpeechT5HifiGan

    torch.set_grad_enabled(False)
    vae = AutoencoderKL.from_pretrained(model_path, subfolder="vae", low_cpu_mem_usage=False).eval()
    vocoder = SpeechT5HifiGan.from_pretrained(model_path, subfolder="vocoder").eval()
    basis = torch.from_numpy(librosa.filters.mel(sr=16000, n_fft=1024, n_mels=64, fmin=0, fmax=8000)).float()
    window = torch.hann_window(1024)

    def log_mel(x):
        padded = torch.nn.functional.pad(x[None, None], (432, 432), mode="reflect")[0]
        spec = torch.stft(padded, 1024, 160, 1024, window, center=False, return_complex=True)[..., : x.shape[-1] // 160]
        return torch.log(torch.clamp(basis @ spec.abs(), min=1e-5)).transpose(1, 2)[:, None]

    def boost(z, cutoff=0.3):
        n = z.shape[-1]
        g = torch.where(torch.fft.rfftfreq(n) > cutoff, torch.tensor(gain), torch.tensor(1.0))
        return torch.fft.irfft(torch.fft.rfft(z, dim=-1) * g, n=n, dim=-1)

    def snr(y, x):
        x, y = x.double(), y.double()
        eps = torch.finfo(torch.float32).eps
        return float(10 * torch.log10((x.pow(2).sum() + eps) / ((x - y).pow(2).sum() + eps)))

    def lsd(y, x):
        power = [
            torch.stft(
                s.double(),
                2048,
                512,
                window=torch.hann_window(2048, dtype=torch.float64),
                center=True,
                pad_mode="constant",
                return_complex=True,
            )
            .abs()
            .pow(2)
            .clamp(min=1e-8)
            for s in (y, x)
        ]
        return float(((power[0].log10() - power[1].log10()) ** 2).mean(0).sqrt().mean())

    results = {}
    for path in sorted(clips.glob("*.wav")):
        x = torch.from_numpy(sf.read(str(path), dtype="float32")[0])
        mean = np.float32(x.double().sum().item() / x.numel())
        peak = max(np.float32(x.max().item() - mean), np.float32(mean - x.min().item()))
        x = 0.5 * (x - float(mean)) / (float(peak) + 1e-8)
        mel = log_mel(x)
        latent = vae.encode(mel).latent_dist.mode()
        base = vae.decode(latent).sample
        enhanced = vae.decode(boost(latent)).sample
        n = x.shape[-1]
        waves = [vocoder(m.squeeze(1))[0, :n] for m in (mel, base, enhanced)]
        results[path.name] = {
            "base_snr": snr(waves[1], x),
            "enhanced_snr": snr(waves[2], x),
            "base_lsd": lsd(waves[1], x),
            "enhanced_lsd": lsd(waves[2], x),
        }
    out.write_text(json.dumps(results))


def timed(command: list[str], env: dict) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="audioldm2_random")
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=10.24)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--plain-loop", nargs=4, metavar=("CLIPS", "MODEL", "GAIN", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.plain_loop:
        clips, model, gain, out = args.plain_loop
        return plain_loop(Path(clips), model, float(gain), Path(out))

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from common import write_result  # noqa: E402  (torch etc. only in this process, not in the timed ones)
    from eval_throughput import write_clips  # noqa: E402

    from audiovae.config import EvalConfig, compose  # noqa: E402
    from audiovae.models.loading import ensure_built  # noqa: E402

    cfg = compose("eval", [f"model={args.model}"], schema=EvalConfig)
    model_path = ensure_built(cfg.model.path, cfg.model.build)
    env = {**os.environ, "WANDB_MODE": "disabled", "HF_HUB_OFFLINE": "1"}
    py = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        clips = tmp / "clips"
        clips.mkdir()
        write_clips(clips, args.files, args.seconds)

        def evaluate(name: str, gain: float, cache: Path, *extra: str) -> tuple[float, Path]:
            out = tmp / f"{name}-{time.monotonic_ns()}"
            command = [
                py,
                "evaluate.py",
                f"model={args.model}",
                f"data.dir={clips}",
                f"data.max_seconds={args.seconds}",
                "enhancement=latent_fft_boost",
                f"enhancement.gain={gain}",
                "logger=none",
                "outputs.save_audio=false",
                "outputs.save_plots=false",
                "metrics.names=[snr,lsd]",
                f"cache.dir={cache}",
                f"out_dir={out}",
                *extra,
            ]
            return timed(command, env), out

        def plain(gain: float) -> tuple[float, Path]:
            out = tmp / f"plain-{time.monotonic_ns()}.json"
            return timed([py, __file__, "--plain-loop", str(clips), model_path, str(gain), str(out)], env), out

        times = {"plain": [], "first": [], "repeat": [], "bf16_first": []}
        outs = {}
        for r in range(args.rounds):
            t, outs["plain"] = plain(1.4)
            times["plain"].append(t)
            cache = tmp / f"cache-{r}"
            t, outs["first"] = evaluate("first", 1.4, cache)  # cold: a new cache folder
            times["first"].append(t)
            t, _ = plain(1.2)
            times["plain"].append(t)
            t, outs["repeat"] = evaluate("repeat", 1.2, cache)  # warm: another setting on the same files
            times["repeat"].append(t)
            t, _ = plain(1.4)
            times["plain"].append(t)
            t, outs["bf16"] = evaluate(
                "bf16", 1.4, tmp / f"cache-bf16-{r}", "model.options.vocoder_precision=bf16", "model.vae_precision=bf16"
            )
            times["bf16_first"].append(t)
            print({k: [round(x, 1) for x in v] for k, v in times.items()}, flush=True)

        plain_values = json.loads(outs["plain"].read_text())
        rows = {row["file"]: row for row in _csv(outs["first"] / "results.csv")}
        # SNR in dB: absolute differences (random weights put it near 0 dB, where relative ones mean nothing)
        worst = {
            "snr_db": max(
                abs(float(rows[f][k]) - v)
                for f, vals in plain_values.items()
                for k, v in vals.items()
                if k.endswith("snr")
            ),
            "lsd_relative": max(
                abs(float(rows[f][k]) - v) / abs(v)
                for f, vals in plain_values.items()
                for k, v in vals.items()
                if k.endswith("lsd")
            ),
        }
        summary = json.loads((outs["repeat"] / "summary.json").read_text())
        plain_s = statistics.median(times["plain"])
        ratios = {k: plain_s / statistics.median(v) for k, v in times.items() if k != "plain"}
        empty = tmp / "empty"
        empty.mkdir()
        plain_fixed = statistics.median(
            timed([py, __file__, "--plain-loop", str(empty), model_path, "1.4", str(tmp / "fixed.json")], env)
            for _ in range(3)
        )
        # The plain loop minus its start-up (imports, model loading, exit) is its model work and metrics: no
        # implementation doing that same arithmetic can take less, so plain / that is the best ratio possible.
        bound = {
            "plain_fixed_s": plain_fixed,
            "plain_work_s": plain_s - plain_fixed,
            "best_possible_first_run": plain_s / (plain_s - plain_fixed),
        }
        startup = {
            "help_s": timed([py, "evaluate.py", "--help"], env),
            "model_unavailable_error_s": _time_failure(
                [py, "evaluate.py", "model=audioldm2", f"data.dir={clips}", "logger=none", f"out_dir={tmp / 'x'}"], env
            ),
        }
        payload = {
            "model": args.model,
            "files": args.files,
            "seconds": args.seconds,
            "rounds": args.rounds,
            "wall_s": times,
            "plain_over_audiovae": ratios,
            "max_difference_of_values": worst,
            "repeat_run_files_from_cache": summary["counts"]["from_cache"],
            "startup": startup,
            "same_arithmetic_bound": bound,
            "timings_first_run_per_file": json.loads((outs["first"] / "summary.json").read_text())["timings"],
        }
        print(
            json.dumps(
                {
                    "plain_over_audiovae": ratios,
                    "max_rel_diff": worst,
                    "startup": startup,
                    "same_arithmetic_bound": bound,
                },
                indent=1,
            )
        )
        print(write_result(f"vs_plain_loop-{args.model}", payload))


def _csv(path: Path) -> list[dict]:
    import csv

    with open(path) as f:
        return list(csv.DictReader(f))


def _time_failure(command: list[str], env: dict) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 2 and "huggingface-cli download" in done.stderr, done.stderr[-500:]
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
