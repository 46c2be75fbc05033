"""Signals: one handler for a whole command, which stops the work once and never interrupts a switch-off.

HUP (terminal closed, SSH dropped), INT (Ctrl-C), QUIT, TERM (systemd, kill), USR1, USR2 and PIPE all go to
one :class:`SignalGate`, installed once for the command (``rig.cli.main``, or :func:`rig.run.run_sequence`
when called on its own). The gate raises :class:`RunAborted` naming the signal **once**, and only inside a
:meth:`SignalGate.raising` block (the run's phases, the readings of ``rig read --on``); everywhere else
(opening the bench, switching off, the light check, the final record) signals are only noted. However many
arrive and whenever they land, the code that switches the wrap off runs to its end: it sits lexically
inside a :meth:`SignalGate.noting` block entered before the wrap could be switched on, and after the one
abort has been raised no signal raises again.

A SIGPIPE while the output (stdout or stderr) is a pipe whose reader has gone is taken as the kernel's answer
to our own write, not as a stop request: it is noted (``output_lost``) and the work goes on (README,
Safety). A SIGPIPE sent while the output is healthy (``kill -PIPE``) stops the work like any other signal.
What no process can catch (kill -9, power loss) is covered by ``rig off``, the systemd unit and the fail-safe
wiring (README).
"""

from __future__ import annotations

import select
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


class SignalReceived(RunAborted):
    """The one stop a :class:`SignalGate` raises; ``name`` is the signal (e.g. ``SIGINT``)."""

    def __init__(self, name: str) -> None:
        super().__init__(f"{name} received: run stopped by the operator or the system")
        self.name = name


def output_pipe_closed(fds: tuple[int, ...] = (1, 2)) -> bool:
    """Whether stdout or stderr is a pipe (or socket) whose reader has gone (poll says POLLERR/POLLHUP)."""
    try:
        poller = select.poll()
        for fd in fds:
            poller.register(fd, select.POLLOUT)
        return any(event & (select.POLLERR | select.POLLHUP) for _fd, event in poller.poll(0))
    except (OSError, ValueError):
        return False


class SignalGate:
    """Every stop signal of a command goes here; it raises :class:`SignalReceived` at most once, inside
    :meth:`raising` blocks only; elsewhere signals are noted in :attr:`received` (names, in order)."""

    def __init__(self) -> None:
        self.received: list[str] = []
        self.output_lost = False  # a SIGPIPE from our own write to a closed output pipe
        self._modes: list[object | None] = [None]  # innermost last: a raising block's token, None = noting
        self._raised = False  # the one stop has been raised
        self._raised_in: object | None = None  # the raising block it was raised in
        self._delivered = 0  # signals before this index are accounted for (raised, or noted by a block)
        self._previous: dict[int, object] = {}

    # --- installing -------------------------------------------------------------------------------------------
    def install(self, keep_ignored_hup: bool = False) -> None:
        """Every stop signal to :meth:`_handle` (main thread only; elsewhere signals stay as they are).
        ``keep_ignored_hup``: a SIGHUP ignored when the program started (``nohup rig run``) stays ignored."""
        if threading.current_thread() is threading.main_thread():
            for sig in STOP_SIGNALS:
                if keep_ignored_hup and sig == getattr(signal, "SIGHUP", None) and \
                        signal.getsignal(sig) == signal.SIG_IGN:
                    continue
                self._previous[sig] = signal.signal(sig, self._handle)

    def uninstall(self, ignore: bool = False) -> None:
        """The handlers as they were before (or, with ``ignore``, every stop signal ignored from now on)."""
        while self._previous:
            sig, old = self._previous.popitem()
            signal.signal(sig, signal.SIG_IGN if ignore else old)

    # --- the handler ------------------------------------------------------------------------------------------
    def _handle(self, signum: int, _frame: object) -> None:
        name = signal.Signals(signum).name
        if signum == getattr(signal, "SIGPIPE", None) and output_pipe_closed():
            self.output_lost = True  # our own write to a closed pipe: the output is gone, the work is not
            return
        self.received.append(name)
        if self._modes[-1] and not self._raised and not _in_import(_frame):
            self._raise()  # (inside an import it stays pending: an import cut short cannot be retried in this
            # process, e.g. numpy's or scipy's C extensions; the next checkpoint raises it)

    def checkpoint(self) -> None:
        """Raise a stop still pending (one that arrived during an import) if inside a raising block."""
        if self._modes[-1] and self.pending() and not self._raised:
            self._raise()

    def _raise(self) -> None:
        self._raised, self._raised_in = True, self._modes[-1]
        name = self.received[self._delivered] if self._delivered < len(self.received) else self.received[-1]
        self._delivered = len(self.received)
        raise SignalReceived(name)

    @property
    def stopped(self) -> bool:
        """The one stop has been raised (no signal raises again)."""
        return self._raised

    def pending(self) -> list[str]:
        """Signals received and not yet accounted for (they raise on entering a :meth:`raising` block)."""
        return self.received[self._delivered:]

    # --- blocks -----------------------------------------------------------------------------------------------
    # Each block restores the mode stack to its depth at entry when it ends, so a block whose own exit was cut
    # short (a signal landing as its __exit__ starts) cannot leave a wrong mode behind its enclosing block.
    def raising(self) -> _Block:
        """Inside: the first signal raises :class:`SignalReceived` (one noted before the block raises on entry).

        If the stop was raised inside and something swallowed it, it is raised again when the block ends.
        """
        return _Block(self, "raising")

    def noting(self, late: list[str] | None = None) -> _Block:
        """Inside: signals never raise; those arriving are appended to ``late`` and accounted for (they do not
        raise after the block either)."""
        return _Block(self, "noting", late)

    def held(self) -> _Block:
        """Inside: signals never raise; one arriving there raises when the block ends if the enclosing block is
        a raising one: e.g. a row and its count land together, then the run stops."""
        return _Block(self, "held")


class _Block:
    """One :class:`SignalGate` block (see :meth:`SignalGate.raising`, ``noting``, ``held``)."""

    def __init__(self, gate: SignalGate, kind: str, late: list[str] | None = None) -> None:
        self.gate, self.kind, self.late = gate, kind, late
        self.token: object | None = object() if kind == "raising" else None

    def __enter__(self) -> SignalGate:
        gate = self.gate
        self.depth, self.start = len(gate._modes), len(gate.received)
        gate._modes.append(self.token)
        if self.token is not None and gate.pending() and not gate._raised:
            gate._raise()
        return gate

    def __exit__(self, exc_type, _exc, _tb) -> None:
        gate = self.gate
        if self.late is not None:
            self.late.extend(gate.received[self.start:])
        if self.kind == "noting":
            gate._delivered = max(gate._delivered, len(gate.received))
        del gate._modes[self.depth:]
        if self.kind == "held" and exc_type is None and gate._modes[-1] and gate.pending() and not gate._raised:
            gate._raise()
        if self.kind == "raising" and exc_type is None and gate._raised_in is self.token:
            # raised in here, yet the block ended normally: something swallowed it; the stop still stands
            raise SignalReceived(gate.received[0] if gate.received else "a signal")


def _in_import(frame) -> bool:
    """The interrupted code is importing a module (a frame of importlib's machinery is on the stack)."""
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib"):
            return True
        frame = frame.f_back
    return False


_active: list[SignalGate] = []


@contextmanager
def signal_gate(as_program: bool = False) -> Iterator[SignalGate]:
    """The command's gate: the one already installed (by ``rig.cli.main`` or an outer run), else a new one,
    installed for the block and uninstalled after it. ``as_program`` (the process only exits after the block):
    a SIGHUP ignored at start (nohup) stays ignored, and stop signals are ignored after the block (the exit code
    is decided)."""
    if _active:
        yield _active[-1]
        return
    gate = SignalGate()
    gate.install(keep_ignored_hup=as_program)
    _active.append(gate)
    try:
        yield gate
    finally:
        _active.pop()
        gate.uninstall(ignore=as_program)


def current_gate() -> SignalGate:
    """The installed gate, or a fresh one that is not installed (signals then do what they did before)."""
    return _active[-1] if _active else SignalGate()
