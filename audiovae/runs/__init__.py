"""What every job's run shares, whatever it runs (evaluation, generation, training): its folder, hash and lock
(`folders`), the resumable row store (`store`), the settings of a sweep (`settings`) and their comparison and
selection (`sweep`, `selection`), a file's audio and plot written as it streams (`media`), and the statistics every
summary.json holds (`summary`)."""

from audiovae.runs.folders import (
    LOCK,
    RUN_DIR_ENV,
    check_out_dir,
    is_launcher_process,
    prepare_out_dir,
    resolve_out_dir,
    run_hash,
    run_lock,
)

__all__ = [
    "LOCK",
    "RUN_DIR_ENV",
    "check_out_dir",
    "is_launcher_process",
    "prepare_out_dir",
    "resolve_out_dir",
    "run_hash",
    "run_lock",
]
