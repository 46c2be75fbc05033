"""The terminal and the output streams: nothing printed can stop or fail a command.

A reader that went away (``| head``: EPIPE), a hung-up terminal (EIO), a full device (``> /dev/full``: ENOSPC)
or a closed stdout (``>&-``) only loses the output: :class:`SafeStream` notes it and drops the rest, and the
command's work (a run and its record) goes on; the exit code is the work's. Names from files (maker, model,
phase labels, reasons) reach the terminal through :func:`printable`, control characters escaped.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from collections.abc import Iterator

from rig.text import escape, printable  # noqa: F401 - re-exported for the CLI


class SafeStream(io.TextIOBase):
    """A text stream whose writes never raise: when the output is gone (``lost`` says why) the rest is dropped."""

    def __init__(self, stream) -> None:
        super().__init__()
        self.stream = stream
        self.lost: str | None = None if stream is not None else "closed"

    def _lose(self, error: BaseException) -> None:
        self.lost = getattr(error, "strerror", None) or type(error).__name__

    def write(self, text: str) -> int:
        if self.lost is None:
            try:
                self.stream.write(text)
            except (OSError, ValueError) as error:  # EPIPE, EIO, ENOSPC, EBADF; ValueError: closed file
                self._lose(error)
        return len(text)

    def flush(self) -> None:
        if self.lost is None:
            try:
                self.stream.flush()
            except (OSError, ValueError) as error:
                self._lose(error)

    def isatty(self) -> bool:
        try:
            return self.lost is None and bool(self.stream.isatty())
        except (OSError, ValueError, AttributeError):
            return False

    def fileno(self) -> int:
        if self.stream is None:
            raise io.UnsupportedOperation("no stream")
        return self.stream.fileno()

    def writable(self) -> bool:
        return True

    @property
    def encoding(self) -> str:
        return getattr(self.stream, "encoding", None) or "utf-8"


def _standard_fds_open() -> None:
    """A closed fd 0, 1 or 2 (``>&-``) gets /dev/null, so no file the command opens takes its number (a
    child such as git would write into it)."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            opened = os.open(os.devnull, os.O_RDWR)
            if opened != fd:
                os.dup2(opened, fd)
                os.close(opened)


@contextlib.contextmanager
def safe_output(as_program: bool) -> Iterator[tuple[SafeStream, SafeStream]]:
    """``sys.stdout`` and ``sys.stderr`` as :class:`SafeStream` for the block. As the program, a lost output's
    descriptor is pointed at /dev/null at the end, so the interpreter's last flush cannot fail the exit."""
    if as_program:
        _standard_fds_open()
    saved = sys.stdout, sys.stderr
    out, err = SafeStream(sys.stdout), SafeStream(sys.stderr)
    sys.stdout, sys.stderr = out, err
    try:
        yield out, err
    finally:
        out.flush()
        err.flush()
        sys.stdout, sys.stderr = saved
        if as_program:
            for stream in (out, err):
                if stream.lost and stream.stream is not None:
                    with contextlib.suppress(OSError, ValueError, io.UnsupportedOperation):
                        os.dup2(os.open(os.devnull, os.O_WRONLY), stream.stream.fileno())
