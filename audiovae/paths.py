"""Paths as the file system holds them: any name (bytes that are not UTF-8 included) can be shown, opened by
libraries that encode names strictly, and told apart from what is not a regular file before it is opened.

>>> display_name(os.fsdecode(b"caf\\xe9.wav"))
'caf\\\\xe9.wav'
"""

import os
import stat

KINDS = (
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISDIR, "a folder"),
)


def display_name(name) -> str:
    """`name` as printable text: bytes that are not UTF-8 become `\\xNN` (a name the file system holds, whatever
    its encoding, can be printed, written to CSV and JSON)."""
    return os.fsencode(str(name)).decode("utf-8", "backslashreplace")


def open_name(path) -> bytes:
    """The path as bytes, for libraries that encode a `str` path strictly (libsndfile's name of a non-UTF-8 file)."""
    return os.fsencode(str(path))


def not_regular(path) -> str:
    """Why `path` (links followed) is not a regular file to read ("a FIFO", "a character device", ...), else "".
    Checked before a file is opened: opening a FIFO blocks, a device never ends."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return ""  # missing or unreadable: reported when it is opened
    return next((why for test, why in KINDS if test(mode)), "")
