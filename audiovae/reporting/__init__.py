"""Reporting shared by every job: per-file records and their CSV, aggregates, the report, figures, formats and W&B."""
