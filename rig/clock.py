"""Clocks: the real one, and a simulated one that advances only when slept on.

Every piece of bench code that waits or timestamps takes a clock, so the same
code runs in real time on the Pi and faster than real time in the simulator.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """What the bench needs of a clock (seconds, float)."""

    def monotonic(self) -> float:
        """Seconds since an arbitrary start; never goes backwards."""

    def sleep(self, duration_s: float) -> None:
        """Wait for ``duration_s`` seconds."""

    def wall(self) -> float:
        """Seconds since the Unix epoch (for timestamps in results)."""


class RealClock:
    """The machine's clock."""

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, duration_s: float) -> None:
        if duration_s > 0:
            time.sleep(duration_s)

    def wall(self) -> float:
        return time.time()


class SimClock:
    """A virtual clock: time moves only when someone sleeps on it.

    ``start_wall_s`` anchors :meth:`wall` so simulated results carry plausible
    timestamps (default: the real time at construction). ``pace`` (simulated
    seconds per real second) makes sleeps also take real time, for demos and
    for tests that must interrupt a run midway; ``None`` = as fast as possible.
    """

    def __init__(self, start_wall_s: float | None = None, pace: float | None = None) -> None:
        self._now_s = 0.0
        self._start_wall_s = time.time() if start_wall_s is None else start_wall_s
        self.pace = pace

    def monotonic(self) -> float:
        return self._now_s

    def sleep(self, duration_s: float) -> None:
        if duration_s > 0:
            self._now_s += duration_s
            if self.pace:
                time.sleep(duration_s / self.pace)

    def wall(self) -> float:
        return self._start_wall_s + self._now_s
