"""Metric seconds of one file with and without the shared STFTs (`metrics.functional.frames.SharedTransforms`):
the default waveform metrics of `configs/eval.yaml` on a clip's base, ceiling and two enhanced reconstructions, fed
in 10.24 s chunks as evaluation feeds them. Prints both times and their ratio, measured in one run.

    python benchmarks/shared_stft.py [--seconds 60] [--repeats 3]
"""

import argparse

import torch
from common import devices, median_seconds, write_result

from audiovae.metrics import build_metric
from audiovae.metrics.functional.frames import SharedTransforms

SR, CHUNK = 16000, 163840
NAMES = ["snr", "si_sdr", "hf_retention", "spectral_correlation", "lsd", "lsd_hf", "lsd_lf", "mel_distance"]
ESTIMATES = ["base", "ceiling", "enhanced_a", "enhanced_b"]


def measure(reference: torch.Tensor, estimates: dict, share: bool) -> dict:
    """Every metric of every estimate, chunk by chunk; shared transforms when `share`."""
    metrics = {name: build_metric(name, SR) for name in NAMES}
    accumulators = {(e, n): m.accumulator() for e in estimates for n, m in metrics.items()}
    if share:
        transforms = SharedTransforms()
        for (estimate, _), acc in accumulators.items():
            transforms.share(acc, estimate, "reference")
    for start in range(0, reference.shape[-1], CHUNK):
        for (estimate, _), acc in accumulators.items():
            acc.update(estimates[estimate][start : start + CHUNK], reference[start : start + CHUNK])
    return {key: acc.value().item() for key, acc in accumulators.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    generator = torch.Generator().manual_seed(0)
    for device in devices():
        n = int(args.seconds * SR)
        reference = torch.randn(n, generator=generator).to(device)
        estimates = {e: (reference + 0.1 * torch.randn(n, generator=generator).to(device)) for e in ESTIMATES}
        assert measure(reference, estimates, True) == measure(reference, estimates, False)
        separate = median_seconds(lambda: measure(reference, estimates, False), device, args.repeats)
        shared = median_seconds(lambda: measure(reference, estimates, True), device, args.repeats)
        print(
            f"{device}: {args.seconds:g} s clip, {len(ESTIMATES)} reconstructions, {len(NAMES)} metrics: "
            f"separate STFTs {separate:.2f} s, shared {shared:.2f} s, ratio {shared / separate:.2f}"
        )
        write_result(
            f"shared_stft-{device.type}",
            {"seconds": args.seconds, "metrics": NAMES, "separate_s": separate, "shared_s": shared},
        )


if __name__ == "__main__":
    main()
