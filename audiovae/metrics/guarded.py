"""A metric's calls guarded: a metric (a plugin's, typically) that raises, or whose value is not one number, is an
AudioError naming it and its plugin, which the jobs make the item's error row instead of stopping the batch."""

from contextlib import contextmanager

import numpy as np
import torch

from audiovae.errors import AudioError, debugging, one_line
from audiovae.plugins import labelled


def metric_label(name: str, metric) -> str:
    """How messages name a metric: its config name, and the module of a plugin's."""
    return labelled(name, type(metric))


@contextmanager
def metric_errors(where: str, name: str, metric):
    """Any exception of the block but an AudioError becomes AudioError(`where`, naming the metric)."""
    try:
        yield
    except AudioError:
        raise
    except (Exception, SystemExit) as err:  # a plugin's sys.exit would end the batch as if it had finished
        if debugging():
            raise
        raise AudioError(where, f"metric {metric_label(name, metric)} failed: {one_line(err)}") from None


def as_number(where: str, name: str, metric, value) -> float:
    """`value` as a float: a number, or a tensor or array of one element; AudioError for anything else (a string,
    None, several values)."""
    if (
        isinstance(value, (torch.Tensor, np.ndarray))
        and (value.numel() if isinstance(value, torch.Tensor) else value.size) == 1
    ):
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        shown = f"shape {list(value.shape)}" if hasattr(value, "shape") else type(value).__name__
        raise AudioError(where, f"metric {metric_label(name, metric)} gave {shown}, not one number")
    return float(value)


def metric_value(where: str, name: str, metric, accumulator) -> float:
    """The accumulator's value as one number (`as_number`), its failure an AudioError naming the metric."""
    with metric_errors(where, name, metric):
        value = accumulator.value()
    return as_number(where, name, metric, value)
