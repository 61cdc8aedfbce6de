"""Time of each enhancer vs the VAE decode it follows, at AudioLDM2's full VAE size on a 10.24 s clip, and vs the
old numpy per-row loop it replaces (its report: 0.121 s enhanced vs 0.032 s base, +278 %). Target: <= 2 %.

    python benchmarks/enhancer_overhead.py [--seconds 10.24] [--repeats 3]
"""

import argparse

import numpy as np
import torch
from common import ROOT, devices, median_seconds, write_result
from diffusers import AutoencoderKL
from omegaconf import OmegaConf

from audiovae.enhancers.registry import build_enhancer
from audiovae.models.builders import AUDIOLDM2_VAE

ENHANCEMENTS = [
    "latent_fft_boost",
    "latent_laplacian",
    "learnable_latent_filter",
    "mel_hf_shelf",
    "fft_boost_and_shelf",
    "mel_postfilter",
    "latent_resnet",
]


def old_numpy_row_loop(latent: torch.Tensor, gain: float = 1.4, cutoff: float = 0.3) -> torch.Tensor:
    """The first enhanced VAE, re-implemented faithfully: to numpy, then for every (batch, channel, time row) a
    full FFT along the mel axis, bins with |f| > cutoff times gain, real part of the inverse, back to torch."""
    z = latent.detach().cpu().numpy()
    out = np.empty_like(z)
    freqs = np.fft.fftfreq(z.shape[-1])
    for b in range(z.shape[0]):
        for c in range(z.shape[1]):
            for t in range(z.shape[2]):
                spectrum = np.fft.fft(z[b, c, t])
                spectrum[np.abs(freqs) > cutoff] *= gain
                out[b, c, t] = np.real(np.fft.ifft(spectrum))
    return torch.from_numpy(out).to(latent.device)


@torch.no_grad()
def bench(device: torch.device, seconds: float, repeats: int) -> dict:
    torch.manual_seed(0)
    vae = AutoencoderKL(**AUDIOLDM2_VAE).to(device).eval()
    frames = int(seconds * 100)  # 16 kHz, hop 160
    latent = torch.randn(1, 8, frames // 4, 16, device=device)
    mel = torch.randn(1, 1, frames, 64, device=device)
    decode = median_seconds(lambda: vae.decode(latent).sample, device, repeats)
    old = median_seconds(lambda: old_numpy_row_loop(latent), device, repeats)
    rows = {"base_decode_s": decode, "old_numpy_loop_s": old, "old_numpy_loop_share_of_decode": old / decode}
    for name in ENHANCEMENTS:
        chain = build_enhancer(OmegaConf.load(ROOT / "configs" / "enhancement" / f"{name}.yaml")).to(device)
        seconds_ = median_seconds(
            lambda: (chain.enhance_latent(latent), chain.enhance_mel(mel)), device, max(repeats, 20)
        )
        rows[name] = {
            "enhancer_s": seconds_,
            "share_of_decode": seconds_ / decode,
            "speedup_vs_old_loop": old / seconds_,
            "parameters": sum(p.numel() for p in chain.parameters()),
        }
    boost = build_enhancer(OmegaConf.load(ROOT / "configs" / "enhancement" / "latent_fft_boost.yaml")).to(device)
    rows["max_abs_diff_old_vs_latent_fft_boost"] = float(
        (old_numpy_row_loop(latent) - boost.enhance_latent(latent)).abs().max()
    )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.24)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    results = {}
    for device in devices():
        rows = results[device.type] = bench(device, args.seconds, args.repeats)
        print(
            f"[{device.type}] full-size VAE decode of {args.seconds} s: {rows['base_decode_s']:.3f} s; old numpy "
            f"row loop {rows['old_numpy_loop_s']:.4f} s = {100 * rows['old_numpy_loop_share_of_decode']:.2f} % of it"
        )
        for name in ENHANCEMENTS:
            r = rows[name]
            print(
                f"  {name:24s} {r['enhancer_s'] * 1e3:8.3f} ms = {100 * r['share_of_decode']:6.3f} % of decode "
                f"(target <= 2 %), {r['speedup_vs_old_loop']:7.1f}x faster than the old loop"
            )
        print(f"  old loop vs latent_fft_boost: max |diff| {rows['max_abs_diff_old_vs_latent_fft_boost']:.2e}")
    print(f"wrote {write_result('enhancer_overhead', {'seconds': args.seconds, 'results': results})}")


if __name__ == "__main__":
    main()
