"""Batch evaluation of base vs enhanced reconstructions: per-file results, aggregates, report, plots, W&B."""
