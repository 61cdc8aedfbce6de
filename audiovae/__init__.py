"""audiovae: training and evaluation of AudioLDM2's VAE and its high-frequency enhancement."""

__version__ = "0.2.0"
