"""Signal handlers kept as they were around an in-process ``rig`` command (:func:`rig.cli.main` installs its own),
and the stop signals the suites send. Shared by the fault, interruption and signal-storm suites."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager

SIGNALS = ("SIGHUP", "SIGINT", "SIGQUIT", "SIGTERM", "SIGUSR1", "SIGUSR2", "SIGPIPE")


@contextmanager
def handlers_restored() -> Iterator[None]:
    """Every stop signal's handler as it was before the block (:func:`rig.cli.main` installs its own)."""
    saved = {sig: signal.getsignal(sig) for sig in (getattr(signal, n) for n in SIGNALS if hasattr(signal, n))}
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
