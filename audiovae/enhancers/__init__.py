"""Enhancers: small modules that restore high frequencies in the latent or the decoded mel."""

from audiovae.enhancers.base import LATENT, MEL, Enhancer
from audiovae.enhancers.chain import EnhancerChain
from audiovae.enhancers.latent_fft_boost import LatentFFTBoost
from audiovae.enhancers.latent_laplacian import LatentLaplacian
from audiovae.enhancers.learnable_latent_filter import LearnableLatentFilter
from audiovae.enhancers.mel_hf_shelf import MelHFShelf
from audiovae.enhancers.registry import ENHANCERS, build_enhancer, resolve_enhancement, validated_stages

__all__ = [
    "LATENT",
    "MEL",
    "Enhancer",
    "EnhancerChain",
    "LatentFFTBoost",
    "LatentLaplacian",
    "LearnableLatentFilter",
    "MelHFShelf",
    "ENHANCERS",
    "build_enhancer",
    "resolve_enhancement",
    "validated_stages",
]
