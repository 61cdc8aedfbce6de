"""Every error a user can cause derives from `AudiovaeError`, which carries the process exit status; the CLI maps
that one class to one line on stderr and its status. Library callers may still catch the builtin bases
(`ValueError`, `RuntimeError`) these classes also derive from.

>>> err = ConfigError("config key 'data.batch_size': must be >= 1, got 0")
>>> isinstance(err, AudiovaeError), isinstance(err, ValueError), err.exit_code
(True, True, 2)
>>> NonFiniteLossError("loss is nan at step 3").exit_code
3
"""
import os


class AudiovaeError(Exception):
    """Base of every user-caused error; `exit_code` is the status the CLI exits with (2: could not start)."""

    exit_code: int = 2


class ConfigError(AudiovaeError, ValueError):
    """A config that cannot be used; the message names the key or file at fault."""


class DataError(AudiovaeError, ValueError):
    """No usable input at start-up (missing folder, no matching files, too few training files)."""


class AudioError(AudiovaeError, ValueError):
    """An audio file that cannot be used; the message names the file and the reason."""

    def __init__(self, path, reason: str):
        self.path, self.reason = str(path), reason
        shown = os.fsencode(self.path).decode("utf-8", "backslashreplace")  # any name prints (data.files.display_name)
        super().__init__(f"{shown}: {reason}")


class ModelUnavailableError(AudiovaeError, RuntimeError):
    """The weights are neither local nor downloadable; the message says how to get them."""


class CheckpointError(AudiovaeError, ValueError):
    """A file given as a checkpoint or exported enhancer that is not one."""


class CompareError(AudiovaeError, ValueError):
    """Runs that cannot be compared; the message says which and why."""


class ListeningError(AudiovaeError, ValueError):
    """Listening-test answers or keys that cannot be read or do not belong together."""


class NonFiniteLossError(AudiovaeError, RuntimeError):
    """Training produced NaN or inf; the run stops and keeps its last good checkpoint."""

    exit_code = 3
