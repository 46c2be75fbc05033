"""Signals during a run: every signal a process can catch stops the run cleanly, with the wrap off.

HUP (terminal closed, SSH dropped), INT (Ctrl-C), QUIT, TERM (systemd, kill), USR1, USR2 and PIPE (the
output pipe closed) all become :class:`RunAborted` naming the signal. While the rig switches the wrap
off and writes its final files, the same signals are held, so a second one cannot interrupt that.
What no process can catch (kill -9, power loss) is covered by ``rig off``, the systemd unit and the
fail-safe wiring (README).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from rig.errors import RigError

STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGHUP", "SIGINT", "SIGQUIT", "SIGTERM", "SIGUSR1",
                                                        "SIGUSR2", "SIGPIPE") if hasattr(signal, name))


class RunAborted(RigError):
    """The run was stopped on purpose: interlock, sensor loss, a failed switch, or a signal."""


class NoLight(RunAborted):
    """No light long after switch-on: the wrap (or this mode) did not start, or the switch failed off."""


class WrapStillLit(RunAborted):
    """Light seen after switch-off: the relay/MOSFET has failed on (welded). Disconnect by hand."""


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextmanager
def _handled_by(handler) -> Iterator[None]:
    """Every stop signal goes to ``handler`` inside the block; the previous handlers come back after it."""
    if not _main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, handler) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def abort_on_signals():
    """Inside the block every stop signal raises :class:`RunAborted` (main thread; elsewhere a no-op)."""

    def handler(signum: int, _frame: object) -> None:
        name = signal.Signals(signum).name
        raise RunAborted(f"{name} received: run stopped by the operator or the system")

    return _handled_by(handler)


@contextmanager
def signals_held() -> Iterator[None]:
    """Hold every stop signal until the block ends (then delivered, once each); main thread only.

    Done by handler swap, not by ``pthread_sigmask``: a mask is per thread, and while any other thread runs
    (rich's live display, a watcher) the kernel hands the signal to that thread and Python runs the handler in
    the main thread anyway, in the middle of the block.
    """
    received: list[int] = []
    try:
        with _handled_by(lambda signum, _frame: received.append(signum)):
            yield
    finally:
        for sig in dict.fromkeys(received):
            signal.raise_signal(sig)


def signals_noted(received: list[str]):
    """Inside the block stop signals do not interrupt: their names are appended to ``received``."""

    def handler(signum: int, _frame: object) -> None:
        received.append(signal.Signals(signum).name)

    return _handled_by(handler)
