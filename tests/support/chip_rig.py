"""An emulated spectral chip on a simulated I2C bus with the simulated clock patched in, and the fixture that
makes such rigs for a test and undoes their clock patches after it."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from rig.clock import SimClock
from rig.sim.bus import SimBus


class EmulatedChip:
    """``emulator(clock)`` attached at 0x39 on a :class:`SimBus`; ``install_sim_clock`` (the emulator module's)
    stays applied until :meth:`close`."""

    def __init__(self, emulator: Callable[[SimClock], object], install_sim_clock) -> None:
        self.clock, self.bus = SimClock(), SimBus()
        self.chip = self.bus.attach(0x39, emulator(self.clock))
        self.patch = install_sim_clock(self.clock)
        self.patch.__enter__()

    def close(self) -> None:
        self.patch.__exit__(None, None, None)


def rig_fixture(rig_class: Callable[..., EmulatedChip]):
    """A ``make_rig`` fixture: ``make_rig(lines, **kwargs)`` makes a ``rig_class``; all are closed after the test,
    in reverse order (each clock patch undone in turn)."""

    @pytest.fixture
    def make_rig():
        made: list[EmulatedChip] = []

        def make(*args, **kwargs) -> EmulatedChip:
            made.append(rig_class(*args, **kwargs))
            return made[-1]

        yield make
        for rig in reversed(made):
            rig.close()

    return make_rig
