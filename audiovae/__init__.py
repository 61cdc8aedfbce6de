"""audiovae: training and evaluation of AudioLDM2's VAE and its high-frequency enhancement."""

__version__ = "0.2.0"

from audiovae.home import use_home_for_matplotlib as _use_home_for_matplotlib

_use_home_for_matplotlib()  # before any dependency imports matplotlib: its font cache goes to $AUDIOVAE_HOME
