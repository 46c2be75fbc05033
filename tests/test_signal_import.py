"""A stop signal that lands while a module is being imported waits for the next checkpoint: an import cut short
(numpy's or scipy's C extensions) cannot be retried in the same process, so raising there broke later commands."""

from __future__ import annotations

import os
import signal
import sys

import pytest

from rig.run.signals import SignalReceived, signal_gate


def test_a_signal_during_an_import_is_raised_at_the_next_checkpoint(tmp_path, monkeypatch):
    (tmp_path / "slow_module_for_gate.py").write_text(
        "import os, signal\nos.kill(os.getpid(), signal.SIGUSR1)\nAFTER_THE_SIGNAL = True\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    previous = signal.getsignal(signal.SIGUSR1)
    try:
        with signal_gate() as gate, gate.noting():
            with pytest.raises(SignalReceived, match="SIGUSR1"), gate.raising():
                import slow_module_for_gate  # the signal arrives inside this import

                assert slow_module_for_gate.AFTER_THE_SIGNAL  # the import ran to its end
                assert gate.pending() == ["SIGUSR1"] and not gate.stopped
                gate.checkpoint()  # raises here, outside the import
                raise AssertionError("the checkpoint did not raise the pending stop")
        assert sys.modules["slow_module_for_gate"].AFTER_THE_SIGNAL  # imported whole, not cut short
    finally:
        sys.modules.pop("slow_module_for_gate", None)
        signal.signal(signal.SIGUSR1, previous)


def test_a_signal_outside_an_import_still_raises_at_once():
    previous = signal.getsignal(signal.SIGUSR2)
    try:
        with signal_gate() as gate, gate.noting():
            with pytest.raises(SignalReceived, match="SIGUSR2"), gate.raising():
                os.kill(os.getpid(), signal.SIGUSR2)
                raise AssertionError("not raised at once")
    finally:
        signal.signal(signal.SIGUSR2, previous)
