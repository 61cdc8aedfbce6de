"""Each metric against an independent float64 reference, plus the behaviour evaluation relies on."""

import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torchmetrics.functional.audio import scale_invariant_signal_distortion_ratio, signal_noise_ratio

from audiovae.metrics import METRIC_NAMES, build_metric, build_metric_collection
from audiovae.metrics import functional as F
from audiovae.metrics.functional.frames import SharedTransforms
from audiovae.metrics.synced import SyncedMetric
from tests import metric_references as ref
from tests.conftest import chirp, noise, tone

SR = 16000


def distorted(x: np.ndarray, seed: int = 1) -> np.ndarray:
    """A plausible reconstruction: smoothed (loses highs), slightly noisy."""
    smooth = np.convolve(x, np.ones(5) / 5, mode="same")
    return (smooth + 0.01 * np.random.default_rng(seed).standard_normal(len(x))).astype(np.float32)


SIGNALS = {
    "sine": tone(440, 0.5, SR),
    "chirp": chirp(100, 7000, 0.5, SR),
    "noise": noise(0.5, SR, seed=3),
    "mix": tone(3000, 0.5, SR) + noise(0.5, SR, seed=4, amp=0.05),
}

WAVE_CASES = [
    ("snr", lambda y, x: F.snr(y, x), ref.snr, 1e-4),
    ("si_sdr", lambda y, x: F.si_sdr(y, x), ref.si_sdr, 1e-4),
    ("hf_retention", lambda y, x: F.hf_retention(y, x, SR), lambda y, x: ref.hf_retention(y, x, SR), 1e-4),
    (
        "hf_retention_power",
        lambda y, x: F.hf_retention(y, x, SR, cutoff_hz=3000, power=True),
        lambda y, x: ref.hf_retention(y, x, SR, fc=3000, power=True),
        1e-4,
    ),
    ("spectral_correlation", lambda y, x: F.spectral_correlation(y, x), ref.spectral_correlation, 1e-6),
    ("lsd", lambda y, x: F.lsd(y, x, SR), lambda y, x: ref.lsd(y, x, SR), 1e-5),
    ("lsd_hf", lambda y, x: F.lsd(y, x, SR, band="high"), lambda y, x: ref.lsd(y, x, SR, band="high"), 1e-5),
    (
        "lsd_lf",
        lambda y, x: F.lsd(y, x, SR, n_fft=512, hop=128, band="low"),
        lambda y, x: ref.lsd(y, x, SR, n_fft=512, hop=128, band="low"),
        1e-5,
    ),
    ("mel_distance", lambda y, x: F.mel_distance(y, x, SR), lambda y, x: ref.mel_distance(y, x, SR), 1e-5),
]


@pytest.mark.parametrize("signal", SIGNALS)
@pytest.mark.parametrize("name, ours, theirs, rtol", WAVE_CASES, ids=[c[0] for c in WAVE_CASES])
def test_waveform_metric_matches_float64_reference(name, ours, theirs, rtol, signal):
    x = SIGNALS[signal]
    y = distorted(x)
    value = ours(torch.from_numpy(y).double(), torch.from_numpy(x).double()).item()
    assert value == pytest.approx(theirs(y, x), rel=rtol, abs=1e-8, nan_ok=True)


def test_float32_inputs_agree_with_reference_closely():
    x = SIGNALS["chirp"]
    y = distorted(x)
    for name, ours, theirs, _ in WAVE_CASES:
        assert ours(torch.from_numpy(y), torch.from_numpy(x)).item() == pytest.approx(
            theirs(y, x), rel=1e-3, nan_ok=True
        ), name


@pytest.mark.parametrize("ours, theirs", [(F.mel_l1, ref.mel_l1), (F.mel_psnr, ref.mel_psnr)])
def test_mel_domain_metrics_match_reference(ours, theirs):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 1, 40, 64))
    y = x + 0.1 * rng.standard_normal(x.shape)
    assert ours(torch.from_numpy(y), torch.from_numpy(x)).item() == pytest.approx(theirs(y, x), rel=1e-10)


def test_snr_and_si_sdr_agree_with_torchmetrics_on_equal_lengths():
    x = torch.randn(3, 4000)
    y = x + 0.3 * torch.randn(3, 4000)
    torch.testing.assert_close(F.snr(y, x), signal_noise_ratio(y, x))
    torch.testing.assert_close(F.si_sdr(y, x), scale_invariant_signal_distortion_ratio(y, x, zero_mean=False))


def test_identity_cases():
    x = torch.from_numpy(SIGNALS["mix"]).double().unsqueeze(0)
    assert F.snr(x, x).item() > 90 and F.si_sdr(x, x).item() > 90  # bounded only by eps
    assert F.hf_retention(x, x, SR).item() == pytest.approx(100.0)
    assert F.spectral_correlation(x, x).item() == pytest.approx(1.0)
    assert F.lsd(x, x, SR).item() == 0.0 and F.mel_distance(x, x, SR).item() == 0.0
    mel = torch.randn(1, 1, 20, 64)
    assert F.mel_l1(mel, mel).item() == 0.0 and F.mel_psnr(mel, mel).item() == float("inf")


def test_half_amplitude_gives_known_values():
    x = torch.from_numpy(SIGNALS["noise"]).double()
    assert F.hf_retention(x / 2, x, SR).item() == pytest.approx(50.0)
    assert F.snr(x / 2, x).item() == pytest.approx(6.0206, abs=1e-4)
    assert F.lsd(x / 2, x, SR).item() == pytest.approx(np.log10(4), abs=1e-6)


def test_hf_retention_counts_the_band_above_the_cutoff_only():
    # Removing everything below fc leaves retention at 100 %, whatever the low band held (up to the 500 Hz tone's
    # spread into the high band in the two zero-padded edge frames: 0.04 % here).
    x = torch.from_numpy(tone(500, 1.0, SR) + tone(6000, 1.0, SR)).double()
    y = torch.from_numpy(tone(6000, 1.0, SR)).double()
    assert F.hf_retention(y, x, SR).item() == pytest.approx(100.0, rel=1e-3)
    assert F.hf_retention(x, y, SR).item() == pytest.approx(100.0, rel=1e-3)


def test_hf_retention_power_is_the_whole_clip_band_energy_ratio():
    # Hann frames at hop n_fft/4 weigh every sample alike (Σ w² is constant), so by Parseval the power option is
    # the ratio of high-band energies of the whole clips (but for the edges): a chunk-wise metric with the
    # whole-clip meaning.
    mix = tone(3000, 5.0, SR) + noise(5.0, SR, seed=4, amp=0.05)
    x, y = torch.from_numpy(mix).double(), torch.from_numpy(distorted(mix)).double()
    X, Y = torch.fft.rfft(x).abs() ** 2, torch.fft.rfft(y).abs() ** 2
    high = torch.arange(X.shape[0]) * SR / x.shape[0] >= SR / 4
    whole_clip = 100 * Y[high].sum() / X[high].sum()
    assert F.hf_retention(y, x, SR, power=True).item() == pytest.approx(whole_clip.item(), rel=1e-2)


@settings(max_examples=25, deadline=None)
@given(scale=st.floats(0.05, 3.0), seed=st.integers(0, 1000))
def test_scaled_estimates_have_closed_form_values(scale, seed):
    x = torch.from_numpy(noise(0.25, SR, seed=seed)).double()
    assert F.hf_retention(scale * x, x, SR).item() == pytest.approx(100 * scale, rel=1e-9)
    energy, eps = float((x**2).sum()), float(np.finfo(np.float32).eps)
    expected_snr = 10 * np.log10((energy + eps) / ((1 - scale) ** 2 * energy + eps))
    assert F.snr(scale * x, x).item() == pytest.approx(expected_snr, abs=1e-6)
    assert F.spectral_correlation(scale * x, x).item() == pytest.approx(1.0, abs=1e-9)


# DAC's twelve columns are three classes at two rates, each checked against DAC's code in tests/test_protocols.py:
# the properties of every metric below take one column of each class
DAC_REPRESENTATIVES = ("dac_mel_22k", "dac_sisdr_44k", "dac_visqol_audio_22k")
# espnet_sdr is espnet_ci_sdr's computation in float64 (both checked against VERSA's functions there too)
PER_CLASS = [n for n in METRIC_NAMES if (not n.startswith("dac_") or n in DAC_REPRESENTATIVES) and n != "espnet_sdr"]


@pytest.mark.parametrize("name", [n for n in PER_CLASS if n not in ("mel_l1", "mel_psnr")])
def test_batched_with_padding_equals_one_at_a_time(name):
    clips = [SIGNALS["chirp"][:8000], SIGNALS["noise"][:5000], SIGNALS["sine"][:3000]]
    lengths = torch.tensor([len(c) for c in clips])
    x = torch.zeros(3, 8000)
    y = torch.zeros(3, 8000)
    for i, c in enumerate(clips):
        x[i, : len(c)] = torch.from_numpy(c)
        y[i, : len(c)] = torch.from_numpy(distorted(c))
    y[:, 5000:] += 0.5  # garbage in the padding must not matter
    batched = build_metric(name, SR)
    batched.update(y, x, lengths)
    singles = []
    for i, n in enumerate(lengths.tolist()):
        m = build_metric(name, SR)
        m.update(y[i : i + 1, :n], x[i : i + 1, :n])
        singles.append(m.values())
    torch.testing.assert_close(batched.values(), torch.cat(singles), equal_nan=True)  # pesq: 3000 samples is too
    torch.testing.assert_close(batched.compute(), torch.cat(singles).nanmean(), equal_nan=True)  # short in both;
    # NaN is excluded (visqol: every clip is too short, so both are NaN)


def test_mel_metrics_respect_frame_lengths():
    x = torch.randn(2, 1, 30, 64)
    y = x + 0.1 * torch.randn_like(x)
    y[1, :, 20:] = 99.0
    m = build_metric("mel_l1", SR)
    m.update(y, x, torch.tensor([30, 20]))
    assert m.values()[1].item() == pytest.approx(F.mel_l1(y[1:, :, :20], x[1:, :, :20]).item())


def test_unbatched_inputs_compare_over_the_common_length():
    x = torch.from_numpy(SIGNALS["noise"]).double()
    assert F.snr(x[:6000], x[:7000]).item() > 90


@pytest.mark.parametrize("name", ["snr", "si_sdr", "hf_retention"])
def test_silent_reference_gives_nan_excluded_from_the_mean(name):
    m = build_metric(name, SR)
    x = torch.zeros(2, 4000)
    x[0] = torch.from_numpy(SIGNALS["noise"][:4000])
    m.update(x * 0.9, x)
    values = m.values()
    assert torch.isfinite(values[0]) and torch.isnan(values[1])
    assert m.compute().item() == pytest.approx(values[0].item()) and m.excluded == 1
    assert m.nan_reason


def test_reference_without_high_band_content_gives_nan_hf_retention():
    x = torch.zeros(1, 4000, dtype=torch.float64)  # any onset has some content above fc: only silence has none
    y = torch.from_numpy(noise(0.25, SR, seed=2)).double()[None, :4000]
    assert torch.isnan(F.hf_retention(y, x, SR)).all()


def test_constant_spectrum_gives_nan_correlation():
    impulse = torch.zeros(1, 1024, dtype=torch.float64)
    impulse[0, 0] = 1.0  # flat magnitude spectrum
    assert torch.isnan(F.spectral_correlation(impulse, impulse)).all()
    constant_mel = torch.zeros(1, 1, 10, 64)
    assert torch.isnan(F.mel_psnr(constant_mel + 1, constant_mel)).all()


def test_all_nan_gives_nan_mean_not_zero():
    m = build_metric("snr", SR)
    m.update(torch.zeros(1, 100), torch.zeros(1, 100))
    assert torch.isnan(m.compute()) and m.excluded == 1


@pytest.mark.parametrize("name", PER_CLASS)
def test_merged_states_equal_one_metric_that_saw_everything(name):
    def batch(seed):
        g = torch.Generator().manual_seed(seed)
        if build_metric(name, SR).domain == "mel":
            x = torch.randn(2, 1, 16, 64, generator=g)
        else:
            x = torch.randn(2, max(3000, build_metric(name, SR).min_samples), generator=g)
        return x + 0.2 * torch.randn(x.shape, generator=g), x

    a, b, whole = (SyncedMetric(build_metric(name, SR)) for _ in range(3))  # how training's ranks merge
    for seed, part in ((0, a), (1, b)):
        part.update(*batch(seed))
        whole.update(*batch(seed))
    b.merge_state(a)
    torch.testing.assert_close(b.compute(), whole.compute())
    assert sorted(b.values().tolist()) == pytest.approx(sorted(whole.values().tolist()))


def test_collections_are_split_by_domain_prefixed_and_never_merged():
    waves = build_metric_collection(["snr", "lsd", "lsd_hf", "mel_l1"], "waveform", prefix="base/", sample_rate=SR)
    mels = build_metric_collection(["snr", "mel_l1", "mel_psnr"], "mel", prefix="enhanced/", sample_rate=SR)
    assert sorted(waves.keys()) == ["base/lsd", "base/lsd_hf", "base/snr"]
    assert sorted(mels.keys()) == ["enhanced/mel_l1", "enhanced/mel_psnr"]
    x = torch.from_numpy(np.stack([SIGNALS["noise"], SIGNALS["mix"]]))
    y = torch.from_numpy(np.stack([distorted(SIGNALS["noise"]), distorted(SIGNALS["mix"])]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        waves.update(y, x)
    out = waves.compute()
    assert out["base/lsd_hf"] > out["base/lsd"]  # smoothing hurts the high band most
    assert out["base/snr"].item() == pytest.approx(F.snr(y, x).mean().item())


def test_metric_attributes_follow_torchmetrics_conventions():
    for name in METRIC_NAMES:
        m = build_metric(name, SR)
        assert SyncedMetric(m).full_state_update is False and m.direction in ("higher", "lower", "target")
        # torchmetrics' flag follows the direction; a target metric (hf_retention → 100 %) has none
        assert m.higher_is_better == {"higher": True, "lower": False, "target": None}[m.direction]
        assert SyncedMetric(m).higher_is_better == m.higher_is_better
        assert (m.target is not None) == (m.direction == "target")
        assert m.delta_kind in ("absolute", "percent")
        assert all(k.startswith(m.name + "_") for k in SyncedMetric(m)._defaults)  # unique in a collection


def test_unknown_metric_name_is_refused():
    with pytest.raises(ValueError, match="unknown metric 'pesq'"):
        build_metric("pesq", SR)


@pytest.mark.parametrize("name", PER_CLASS)
def test_a_clip_given_in_chunks_gives_the_whole_clip_value(name):
    # Evaluation follows long files segment by segment: the split must not change any value.
    metric = build_metric(name, SR)
    if metric.domain == "mel":
        x = torch.randn(301, 64, dtype=torch.float64)
        y = x + 0.3 * torch.randn(301, 64, dtype=torch.float64)
    else:  # as long as the metric needs (visqol: 1 s)
        mix = np.resize(SIGNALS["mix"], max(len(SIGNALS["mix"]), metric.min_samples))
        x, y = torch.from_numpy(mix).double(), torch.from_numpy(distorted(mix)).double()
    expected = metric.accumulator().update(y, x).value().item()
    assert not np.isnan(expected)
    for cuts in ([1, 2, 3], [700, 5000], list(range(0, x.shape[0], 997))):
        acc = metric.accumulator()
        for a, b in zip([0, *cuts], [*cuts, x.shape[0]]):
            if b > a:
                acc.update(y[a:b], x[a:b])
        assert acc.value().item() == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_metrics_reading_one_framing_share_each_signals_stft_and_give_their_own_values(monkeypatch):
    # A file's lsd, lsd_hf, lsd_lf, hf_retention, spectral_correlation (n_fft 2048, hop 512) and mel_distance's
    # 2048-sample scale read one STFT of each signal: evaluation transforms each chunk once, the values unchanged.
    names = ["lsd", "lsd_hf", "lsd_lf", "hf_retention", "spectral_correlation", "mel_distance", "hf_energy_share"]
    metrics = {name: build_metric(name, SR) for name in names}
    x = torch.from_numpy(SIGNALS["mix"])
    estimates = {"base": torch.from_numpy(distorted(SIGNALS["mix"])), "enhanced": x + 0.01 * torch.randn(x.shape)}
    alone = {
        (e, n): m.accumulator().update(y, x).value().item() for e, y in estimates.items() for n, m in metrics.items()
    }

    calls = []
    stft = torch.stft
    monkeypatch.setattr(
        torch, "stft", lambda signal, n_fft, *a, **k: calls.append(n_fft) or stft(signal, n_fft, *a, **k)
    )
    cuts = [0, 3000, 3001, 5000, x.shape[0]]

    def fed(accumulators: dict) -> dict:
        for a, b in zip(cuts, cuts[1:]):
            for (estimate, _), acc in accumulators.items():
                acc.update(estimates[estimate][a:b], x[a:b])
        return {key: acc.value().item() for key, acc in accumulators.items()}

    fed({("base", "lsd"): metrics["lsd"].accumulator()})
    per_signal, calls[:] = calls.count(2048) / 2, []  # one metric alone: its estimate's transforms and the reference's
    transforms = SharedTransforms()
    shared = {(e, n): m.accumulator() for e in estimates for n, m in metrics.items()}
    for (estimate, _), acc in shared.items():
        transforms.share(acc, estimate, "reference")
    assert fed(shared) == pytest.approx(alone, rel=1e-12, abs=0)
    assert calls.count(2048) == 3 * per_signal > 0  # the reference and two estimates, once each, not once per metric

    with pytest.raises(ValueError, match="push the same chunks in turn"):  # a reader out of step is refused
        transforms = SharedTransforms()
        first, second = metrics["lsd"].accumulator(), metrics["lsd_hf"].accumulator()
        for acc in (first, second):
            transforms.share(acc, "base", "reference")
        first.update(estimates["base"][:100], x[:100])
        second.update(estimates["base"][100:200], x[100:200])


def test_lsd_with_low_band_energy_scaling_follows_audiosr_and_forgives_a_level_only():
    matched = {"lsd": {"scaling": "low_band_energy"}}
    x = SIGNALS["mix"]
    for y in (distorted(x), 0.3 * distorted(x, seed=2)):  # as measured and at another level
        value = build_metric("lsd", SR, matched).per_item(torch.from_numpy(y)[None], torch.from_numpy(x)[None], None)
        assert value.item() == pytest.approx(ref.lsd_low_band_matched(y, x), rel=1e-6)
    quieter = torch.from_numpy(0.5 * x)[None]  # right but 6 dB down: raw LSD charges the level, scaled LSD does not
    raw = build_metric("lsd", SR).per_item(quieter, torch.from_numpy(x)[None], None).item()
    scaled = build_metric("lsd", SR, matched).per_item(quieter, torch.from_numpy(x)[None], None).item()
    assert raw == pytest.approx(2 * np.log10(2), rel=1e-6) and scaled == pytest.approx(0.0, abs=1e-9)


def test_scaled_lsd_in_chunks_and_sharing_the_files_stft_equals_it_whole():
    metric = build_metric("lsd_hf", SR, {"lsd": {"scaling": "low_band_energy"}})
    x, y = torch.from_numpy(SIGNALS["chirp"]), torch.from_numpy(0.7 * distorted(SIGNALS["chirp"]))
    whole_value = metric.accumulator().update(y, x).value().item()
    transforms = SharedTransforms()
    chunked, beside = metric.accumulator(), build_metric("lsd", SR).accumulator()
    for acc in (chunked, beside):
        transforms.share(acc, "base", "reference")
    for a, b in zip([0, 3000, 3001, 5000], [3000, 3001, 5000, x.shape[0]]):
        chunked.update(y[a:b], x[a:b])
        beside.update(y[a:b], x[a:b])
    assert chunked.value().item() == pytest.approx(whole_value, rel=1e-12)
    assert beside.value().item() == pytest.approx(build_metric("lsd", SR).accumulator().update(y, x).value().item())


def test_the_report_states_the_lsd_scaling_rule_of_a_run_that_measures_lsd():
    from audiovae.reporting.report import lsd_scaling_lines

    assert lsd_scaling_lines({"names": ["snr"], "lsd": {"scaling": "low_band_energy"}}) == []
    (raw,) = lsd_scaling_lines({"names": ["snr", "lsd_hf"], "lsd": {"scaling": "raw"}})
    (scaled,) = lsd_scaling_lines({"names": ["lsd", "lsd_hf"], "lsd": {"scaling": "low_band_energy"}})
    assert raw.startswith("lsd_hf: ") and "level difference counts" in raw
    assert scaled.startswith("lsd, lsd_hf: ") and "metrics.lsd.scaling=low_band_energy" in scaled
