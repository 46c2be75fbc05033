"""The run's guards for commands that switch the wrap on outside a run (``rig read --on``, ``rig calibrate
... --switch-on``): the same over-temperature and probe-fault monitors, read at least every
``guard_interval_s`` while the wrap is on, and the same light check after switch-off.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from rig.hardware.bench import Bench
from rig.run.monitors import MonitorSet, OverTemperature, ProbeFault
from rig.run.phases import OFF_SETTLE_S
from rig.run.signals import RunAborted, WrapStillLit, current_gate
from rig.sample import clear_basic, temperature_columns
from rig.sequence import SafetyLimits

T = TypeVar("T")
STILL_LIT_FRACTION = 0.5  # after switch-off, more than half the light seen while on: the switch has failed on


class WrapGuard:
    """Switch the wrap on and off with the run's guards; a tripped guard raises :class:`RunAborted`."""

    def __init__(self, bench: Bench, limits: SafetyLimits | None = None) -> None:
        limits = limits or SafetyLimits()
        skin = bench.config.thermal.skin_probe
        self.bench = bench
        self.step_s = limits.guard_interval_s
        self.monitors = MonitorSet([OverTemperature(skin, limits.interlock_surface_c, limits.trip_samples),
                                    ProbeFault(skin, limits.max_sensor_failures)])
        self.lit_level: float | None = None  # the highest Clear (basic counts) seen while on

    def on(self) -> None:
        self.bench.switch.on()

    def observe(self, row: dict) -> None:
        """A sample row (or temperature-only row) through the thermal monitors; notes the light while on."""
        reason = self.monitors.observe(row, guard_only=True)
        if reason:
            raise RunAborted(reason)
        if self.bench.switch.is_on and row.get("clear_basic") is not None:
            self.lit_level = max(self.lit_level or 0.0, float(row["clear_basic"]))

    def check(self) -> None:
        """One temperature reading through the monitors."""
        t_s = self.bench.clock.monotonic()
        self.observe({"t_s": t_s, **temperature_columns(self.bench.read_temperatures())})

    def sleep(self, duration_s: float) -> None:
        """Wait ``duration_s``, reading the temperature at least every ``guard_interval_s`` while the wrap is on."""
        clock = self.bench.clock
        end = clock.monotonic() + duration_s
        while (remaining := end - clock.monotonic()) > 1e-9:
            clock.sleep(min(self.step_s, remaining) if self.bench.switch.is_on else remaining)
            if self.bench.switch.is_on:
                self.check()

    def note_reading(self, reading) -> None:
        """A spectral reading taken while on: its light level, then the temperature check."""
        if self.bench.switch.is_on and not reading.saturated:
            level = clear_basic(reading.counts[-2], reading.gain_x, reading.t_int_ms)
            self.lit_level = max(self.lit_level or 0.0, level)
        if self.bench.switch.is_on:
            self.check()

    def off(self) -> None:
        """Switch off; if the wrap was seen lit, one reading must show the light gone (else WRAP STILL LIT)."""
        was_on = self.bench.switch.is_on
        self.bench.switch.off()
        if not (was_on and self.lit_level):
            return
        self.bench.clock.sleep(OFF_SETTLE_S)
        reading = self.bench.read_spectrum()
        if clear_basic(reading.counts[-2], reading.gain_x, reading.t_int_ms) > STILL_LIT_FRACTION * self.lit_level:
            raise WrapStillLit("WRAP STILL LIT after switch-off: its relay/MOSFET has failed on; disconnect its "
                               "power by hand")


def with_wrap_on(bench: Bench, body: Callable[[WrapGuard], T], switch_on: bool = True,
                 limits: SafetyLimits | None = None) -> T:
    """``body(guard)`` with the wrap switched on (if ``switch_on``) under the run's guards.

    However the body ends (normally, an interlock, any number of signals, at any moment), the wrap is
    switched off, read back and light-checked with signals only noted (:mod:`rig.run.signals`): the
    switch-off sits inside a noting block entered before the wrap could be on, and only the body can be
    stopped, once. A still-lit wrap raises :class:`WrapStillLit` (it replaces whatever stopped the body).
    """
    gate = current_gate()
    guard = WrapGuard(bench, limits)
    with gate.noting():
        try:
            with gate.raising():
                if switch_on:
                    guard.on()
                return body(guard)
        finally:
            guard.off()
