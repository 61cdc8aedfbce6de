"""Stopping a training on request without losing it: SIGTERM (a scheduler's pre-emption) or a first Ctrl+C ends the
run at the end of the current step, saves `last.ckpt` there and exits non-zero, so a scheduler requeues the job and
`resume=true` continues exactly where it stopped. A second Ctrl+C stops at once (Lightning's own handling).

Exit status: 128 + the signal number, as a shell reports a process ended by it: 143 for SIGTERM, 130 for SIGINT.
"""

import signal
import sys
import threading
from pathlib import Path
from typing import Optional

import pytorch_lightning as pl
from pytorch_lightning.utilities.exceptions import SIGTERMException

from audiovae.errors import AudiovaeError


class TrainingStopped(AudiovaeError, RuntimeError):
    """A training stopped by a signal after saving `last.ckpt`; exit status 128 + the signal number."""

    def __init__(self, signum: int, step: int, checkpoint: Path, out_dir: Path):
        self.exit_code = 128 + int(signum)
        super().__init__(
            f"training stopped by {signal.Signals(signum).name} at step {step}; saved {checkpoint}: "
            f"continue with resume=true out_dir={out_dir}"
        )


class GracefulStop(pl.Callback):
    """Lightning stops the fit at the end of a step once `received_sigterm` is set (its own SIGTERM handler sets it);
    this callback sets it on the first SIGINT too, and saves the checkpoint at `last_path` when the fit stops so."""

    def __init__(self, last_path: Path):
        self.last_path = Path(last_path)
        self.signum: Optional[int] = None  # the signal that stopped the fit
        self._trainer: Optional[pl.Trainer] = None
        self._previous = None

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Installed once Lightning has recorded the process's handlers (it restores those when the fit ends)."""
        self._trainer = trainer
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._on_sigint)

    def _on_sigint(self, signum, frame) -> None:
        self.signum = signal.SIGINT
        self._trainer._signal_connector.received_sigterm = True
        signal.signal(signal.SIGINT, self._previous or signal.default_int_handler)  # a second Ctrl+C: at once
        print("\nstopping at the end of this step (Ctrl+C again to stop at once)", file=sys.stderr)

    def _restore(self) -> None:
        if self._previous is not None and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._restore()

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        self._restore()
        if isinstance(exception, SIGTERMException):
            self.signum = self.signum or signal.SIGTERM
            trainer.save_checkpoint(self.last_path, weights_only=False)
