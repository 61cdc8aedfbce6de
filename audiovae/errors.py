"""Every error a user can cause derives from `AudiovaeError`, which carries the process exit status; the CLI maps
that one class to one line on stderr and its status. Library callers may still catch the builtin bases
(`ValueError`, `RuntimeError`) these classes also derive from.

>>> err = ConfigError("config key 'data.batch_size': must be >= 1, got 0")
>>> isinstance(err, AudiovaeError), isinstance(err, ValueError), err.exit_code
(True, True, 2)
>>> NonFiniteLossError("loss is nan at step 3").exit_code
3
>>> import contextlib, io; said = io.StringIO()
>>> def bad_seed(): raise ConfigError("config key 'seed': must be >= 0")
>>> with contextlib.redirect_stderr(said): status = exit_status(bad_seed)
>>> status, said.getvalue()
(2, "error: config key 'seed': must be >= 0\\n")
"""

import errno
import os
import sys
from typing import Callable, Optional

from audiovae.paths import display_name

# a run that stops because its outputs cannot be written (disk full, quota, read-only or unwritable folder, I/O error)
STORAGE_ERRORS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EIO)
STORAGE_EXIT = 4


DEBUG_ENV = "AUDIOVAE_DEBUG"  # set (or --debug): a plugin's exception keeps its traceback instead of one line


def debugging() -> bool:
    """Whether plugin authors asked for tracebacks (`--debug`, or AUDIOVAE_DEBUG=1)."""
    return os.environ.get(DEBUG_ENV, "") not in ("", "0")


def one_line(err: BaseException) -> str:
    """`Type: first line of the message`: how a plugin's exception is named in a one-line error or an error row.

    >>> one_line(ValueError("bad value\\nmore")), one_line(KeyError())
    ('ValueError: bad value', 'KeyError: ')
    """
    text = str(err)
    return f"{type(err).__name__}: {text.splitlines()[0] if text else ''}"


def exit_status(command: Callable[[], Optional[int]]) -> int:
    """Every command-line entry point's body runs through here: its own status (None: 0); an AudiovaeError becomes
    `error: <message>` on stderr and its exit status; an OSError of storage (STORAGE_ERRORS) one line naming the file
    and STORAGE_EXIT (what finished is kept; the same command continues). Anything else is a bug and propagates."""
    try:
        return command() or 0
    except AudiovaeError as err:
        print(f"error: {err}", file=sys.stderr)
        return err.exit_code
    except OSError as err:
        if err.errno not in STORAGE_ERRORS:
            raise
        where = f" {display_name(err.filename)}" if err.filename else ""
        print(
            f"error: cannot write{where} ({err.strerror}): what finished is kept; free space or fix the folder's "
            f"permissions, then run the same command again to continue",
            file=sys.stderr,
        )
        return STORAGE_EXIT


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
        super().__init__(f"{display_name(self.path)}: {reason}")  # any name prints


class EnhancerError(AudiovaeError, RuntimeError):
    """An enhancer (a plugin's, typically) raised or returned something that is not its input's kind: a tensor of
    the same shape. Evaluation and generation make it an error row of the items it ran on."""


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
