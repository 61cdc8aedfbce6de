"""What makes a first (cold-cache) evaluation faster, measured against eager float32 on the same inputs with the
outputs compared: channels-last VAE, torch.compile (inductor) and TorchScript (trace, freeze,
optimize_for_inference) of the decoder and the vocoder, bf16 autocast of
the vocoder (`model.options.vocoder_precision: bf16`) and of the VAE (`model.vae_precision: bf16`), and the three
vocoder passes as one batched call. An option may
be a default only where it is faster and equal within 1e-5 (relative L2 of the waveform).

    python benchmarks/first_run_options.py [--model audioldm2_random] [--seconds 10.24] [--repeats 3]
"""

import argparse
import copy

import torch
from common import devices, median_seconds, write_result

from audiovae.config import EvalConfig, compose
from audiovae.enhancers.registry import resolve_enhancement
from audiovae.models.factory import build_frontend, build_model


def relative_l2(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.double() - b.double()).norm() / b.double().norm())


class _Decode(torch.nn.Module):
    """`EnhancedVAE.decode(latent, enhanced=False)` as a traceable module."""

    def __init__(self, vae, scaling_factor: float):
        super().__init__()
        self.vae, self.scaling_factor = vae, scaling_factor

    def forward(self, latent):
        return self.vae.decode(latent / self.scaling_factor).sample


def torchscript_row(model, mel, latent, n, reference, timed) -> dict:
    """TorchScript (deprecated since torch 2.10, but CPU inference still uses it): trace, freeze and
    `optimize_for_inference` (oneDNN weight prepacking, conv fusions) of the vocoder and of the decoder."""
    import time
    import warnings

    out = {}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stages = (
            ("vocoder", model.vocoder, mel.squeeze(1)),
            ("decode", _Decode(model.vae, model.scaling_factor), latent),
        )
        for stage, module, example in stages:
            start = time.perf_counter()
            scripted = torch.jit.optimize_for_inference(
                torch.jit.freeze(torch.jit.trace(module.eval(), (example,), check_trace=False))
            )
            scripted(example)
            out[f"{stage}_first_call_s_incl_trace"] = time.perf_counter() - start
            out[f"{stage}_s"] = timed(lambda: scripted(example))
            result = scripted(example)
            out[f"{stage}_rel_l2"] = relative_l2(
                result[..., :n] if stage == "vocoder" else result,
                reference[stage][..., :n] if stage == "vocoder" else reference[stage],
            )
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="audioldm2_random")
    parser.add_argument("--seconds", type=float, default=10.24)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-compile", action="store_true")
    args = parser.parse_args()
    cfg = compose(
        "eval",
        [f"model={args.model}", "enhancement=latent_fft_boost"],
        schema=EvalConfig,
        validators=[resolve_enhancement],
    )
    out = {"model": args.model, "seconds": args.seconds, "repeats": args.repeats, "devices": {}}
    for device in devices():
        model = build_model(cfg.model, cfg.enhancement, cfg.frontend).to(device)
        frontend = build_frontend(cfg.frontend, model.downsampling).to(device)
        n = int(args.seconds * cfg.frontend.sample_rate)
        wave = 0.1 * torch.randn(1, n, generator=torch.Generator().manual_seed(0)).to(device)
        with torch.no_grad():
            mel = frontend(wave)
            latent = model.encode(mel)
            base_mel = model.decode(latent, enhanced=False)
            reference = {"decode": base_mel, "vocoder": model.vocode(mel, n)}

        def timed(fn):
            with torch.no_grad():
                return median_seconds(fn, device, args.repeats)

        rows = {}
        eager_decode = timed(lambda: model.decode(latent, enhanced=False))
        eager_vocoder = timed(lambda: model.vocode(mel, n))
        eager_encode = timed(lambda: model.encode(mel))
        rows["eager"] = {"encode_s": eager_encode, "decode_s": eager_decode, "vocoder_s": eager_vocoder}

        cl = copy.deepcopy(model).to(memory_format=torch.channels_last)
        with torch.no_grad():
            rows["channels_last_vae"] = {
                "encode_s": timed(lambda: cl.encode(mel.contiguous(memory_format=torch.channels_last))),
                "decode_s": timed(
                    lambda: cl.decode(latent.contiguous(memory_format=torch.channels_last), enhanced=False)
                ),
                "decode_rel_l2": relative_l2(
                    cl.decode(latent.contiguous(memory_format=torch.channels_last), enhanced=False), reference["decode"]
                ),
                "vocoder_rel_l2_after_decode": relative_l2(
                    model.vocode(cl.decode(latent.contiguous(memory_format=torch.channels_last), enhanced=False), n),
                    model.vocode(reference["decode"], n),
                ),
            }

        autocast = dict(device_type=device.type, dtype=torch.bfloat16)

        def bf16_vocode():
            with torch.autocast(**autocast):
                return model.vocode(mel, n).float()

        with torch.no_grad():
            rows["bf16_vocoder"] = {
                "vocoder_s": timed(bf16_vocode),
                "vocoder_rel_l2": relative_l2(bf16_vocode(), reference["vocoder"]),
                "vocoder_max_abs": float((bf16_vocode() - reference["vocoder"]).abs().max()),
            }
            model.vae_precision = "bf16"  # model.vae_precision: encode and decode under bf16 autocast
            rows["bf16_vae"] = {
                "encode_s": timed(lambda: model.encode(mel)),
                "decode_s": timed(lambda: model.decode(latent, enhanced=False)),
                "latent_rel_l2": relative_l2(model.encode(mel), latent),
                "decode_rel_l2": relative_l2(model.decode(latent, enhanced=False), reference["decode"]),
            }
            model.vae_precision = "fp32"
            three = torch.cat([mel, base_mel, base_mel])
            rows["batched_vocoder_3"] = {
                "vocoder_s_per_pass": timed(lambda: model.vocode(three, n)) / 3,
                "rel_l2": relative_l2(model.vocode(three, n)[:1], reference["vocoder"]),
            }

        rows["torchscript"] = torchscript_row(model, mel, latent, n, reference, timed)

        if not args.skip_compile:
            compiled = copy.deepcopy(model)
            compiled.vae.decoder = torch.compile(compiled.vae.decoder)
            compiled.vocoder = torch.compile(compiled.vocoder)
            with torch.no_grad():
                import time

                start = time.perf_counter()
                first = compiled.vocode(compiled.decode(latent, enhanced=False), n)
                compile_s = time.perf_counter() - start
                rows["torch_compile"] = {
                    "first_call_s_incl_compile": compile_s,
                    "decode_s": timed(lambda: compiled.decode(latent, enhanced=False)),
                    "vocoder_s": timed(lambda: compiled.vocode(mel, n)),
                    "rel_l2": relative_l2(first, model.vocode(reference["decode"], n)),
                }
            del compiled

        for name, row in rows.items():
            for stage in ("encode", "decode", "vocoder"):
                if f"{stage}_s" in row and name != "eager":
                    row[f"{stage}_time_ratio"] = row[f"{stage}_s"] / rows["eager"][f"{stage}_s"]
        if "batched_vocoder_3" in rows:
            rows["batched_vocoder_3"]["time_ratio"] = rows["batched_vocoder_3"]["vocoder_s_per_pass"] / eager_vocoder
        out["devices"][device.type] = rows
        for name, row in rows.items():
            print(device.type, name, {k: round(v, 6) if isinstance(v, float) else v for k, v in row.items()})
    print(write_result(f"first_run_options-{args.model}", out))


if __name__ == "__main__":
    main()
