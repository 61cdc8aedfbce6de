import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from omegaconf import OmegaConf

from audiovae.config import ConfigError
from audiovae.enhancers import (
    EnhancerChain,
    LatentFFTBoost,
    LatentLaplacian,
    LearnableLatentFilter,
    MelHFShelf,
    build_enhancer,
)


def numpy_fft_boost(z: np.ndarray, gain: float, cutoff: float, axis: int) -> np.ndarray:
    """The rule in float64 with a two-sided FFT: scale bins with |f| > cutoff, keep the real inverse."""
    z = np.moveaxis(z.astype(np.float64), axis, -1)
    freqs = np.abs(np.fft.fftfreq(z.shape[-1]))
    out = np.fft.ifft(np.fft.fft(z, axis=-1) * np.where(freqs > cutoff, gain, 1.0), axis=-1).real
    return np.moveaxis(out, -1, axis)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(2, 33), gain=st.floats(0.0, 3.0), cutoff=st.floats(0.0, 0.5), axis=st.sampled_from([-1, -2]))
def test_fft_boost_equals_two_sided_numpy_reference(n, gain, cutoff, axis):
    z = torch.randn(*((2, 3, 5, n) if axis == -1 else (2, 3, n, 7)), dtype=torch.float64)
    out = LatentFFTBoost(gain=gain, cutoff=cutoff, axis=axis)(z)
    np.testing.assert_allclose(out.numpy(), numpy_fft_boost(z.numpy(), gain, cutoff, axis), atol=1e-10)


def test_fft_boost_identity_at_gain_one_and_shape_kept():
    z = torch.randn(2, 8, 25, 16)
    out = LatentFFTBoost(gain=1.0)(z)
    assert out.shape == z.shape and torch.allclose(out, z, atol=1e-6)


def test_fft_boost_scales_a_pure_high_frequency_and_keeps_dc():
    n = 16
    k = np.arange(n)
    high = torch.tensor(np.cos(2 * np.pi * 6 * k / n), dtype=torch.float64)  # 0.375 cycles/sample
    assert torch.allclose(LatentFFTBoost(gain=1.4, cutoff=0.3)(high.view(1, 1, 1, n)).flatten(), 1.4 * high)
    dc = torch.ones(1, 1, 1, n, dtype=torch.float64)
    assert torch.allclose(LatentFFTBoost(gain=1.4, cutoff=0.3)(dc), dc)


def test_fft_boost_runs_in_half_precision_inputs():
    z = torch.randn(1, 8, 4, 16).bfloat16()
    assert LatentFFTBoost()(z).dtype == torch.bfloat16


def test_laplacian_formula_on_interior_and_borders_unchanged():
    z = torch.randn(1, 2, 6, 5, dtype=torch.float64)
    out = LatentLaplacian(gain=1.5, scale=0.2)(z)
    i, j = 3, 2
    lap = 4 * z[..., i, j] - z[..., i - 1, j] - z[..., i + 1, j] - z[..., i, j - 1] - z[..., i, j + 1]
    torch.testing.assert_close(out[..., i, j], z[..., i, j] + 1.5 * 0.2 * lap)
    for border in (
        out[..., 0, :] - z[..., 0, :],
        out[..., -1, :] - z[..., -1, :],
        out[..., :, 0] - z[..., :, 0],
        out[..., :, -1] - z[..., :, -1],
    ):
        assert torch.all(border == 0)
    assert torch.equal(LatentLaplacian(gain=0.0)(z), z)


def test_learnable_filter_starts_equal_to_fft_boost_and_is_trainable():
    z = torch.randn(2, 8, 25, 16)
    learnable = LearnableLatentFilter(channels=8, axis_length=16, gain=1.4, cutoff=0.3)
    torch.testing.assert_close(learnable(z), LatentFFTBoost(gain=1.4, cutoff=0.3)(z))
    learnable(z).pow(2).sum().backward()
    assert learnable.gains.grad.shape == (8, 9) and learnable.gains.grad.abs().sum() > 0


def test_learnable_filter_applies_each_channels_own_gains():
    f = LearnableLatentFilter(channels=2, axis_length=8, gain=1.0, cutoff=0.5)
    with torch.no_grad():
        f.gains[1] *= 3.0
    z = torch.randn(1, 2, 4, 8)
    out = f(z)
    torch.testing.assert_close(out[:, 0], z[:, 0])
    torch.testing.assert_close(out[:, 1], 3 * z[:, 1])


def test_learnable_filter_rejects_the_wrong_latent_size():
    with pytest.raises(ValueError, match="axis_length"):
        LearnableLatentFilter(channels=8, axis_length=16)(torch.randn(1, 8, 4, 12))


def test_mel_shelf_boosts_only_above_the_cutoff():
    mel = torch.zeros(1, 1, 10, 64)
    out = MelHFShelf(gain=2.0, cutoff_band=40, transition_bands=4)(mel)
    assert torch.all(out[..., :36] == 0)
    torch.testing.assert_close(out[..., 40:], torch.full_like(out[..., 40:], np.log(2.0)))
    assert torch.all(torch.diff(out[0, 0, 0, 35:41]) > 0)
    assert torch.equal(MelHFShelf(gain=1.0)(mel), mel)


@pytest.mark.parametrize(
    "enhancer, shape",
    [
        (LatentFFTBoost(), (2, 8, 25, 16)),
        (LatentLaplacian(), (2, 8, 25, 16)),
        (LearnableLatentFilter(), (2, 8, 25, 16)),
        (MelHFShelf(), (2, 1, 100, 64)),
    ],
)
def test_every_enhancer_keeps_shape_and_passes_gradients(enhancer, shape):
    x = torch.randn(*shape, requires_grad=True)
    out = enhancer(x)
    assert out.shape == x.shape
    out.pow(2).sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_chain_runs_latent_stages_before_decode_and_mel_stages_after_in_order():
    chain = build_enhancer(
        OmegaConf.create(
            {
                "name": "chain",
                "stages": [
                    {"name": "mel_hf_shelf", "gain": 2.0, "cutoff_band": 40, "transition_bands": 0},
                    {"name": "latent_fft_boost", "gain": 1.4, "cutoff": 0.3, "axis": -1},
                    {"name": "latent_laplacian", "gain": 1.0, "scale": 0.1},
                ],
            }
        )
    )
    assert [type(s) for s in chain.latent_stages] == [LatentFFTBoost, LatentLaplacian]
    assert [type(s) for s in chain.mel_stages] == [MelHFShelf]
    z = torch.randn(1, 8, 6, 16)
    torch.testing.assert_close(chain.enhance_latent(z), LatentLaplacian(1.0, 0.1)(LatentFFTBoost()(z)))


def test_none_is_an_empty_chain_and_unknown_names_are_refused():
    none = build_enhancer(OmegaConf.create({"name": "none"}))
    assert isinstance(none, EnhancerChain) and len(none.latent_stages) == len(none.mel_stages) == 0
    with pytest.raises(ConfigError, match="unknown enhancer 'boost'"):
        build_enhancer(OmegaConf.create({"name": "boost"}))
