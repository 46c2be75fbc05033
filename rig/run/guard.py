"""The wrap's switch from the moment it can be on, shared by ``rig run``, ``rig read --on`` and ``rig calibrate
... --switch-on``: one :class:`WrapSession` (switch on, switch off with read-back, the light check owed after
every switch-on, judged by the run's :class:`~rig.run.monitors.Levels`) and, for the commands outside a run,
:class:`WrapGuard` (the run's over-temperature and probe-fault monitors, read at least every
``guard_interval_s`` while the wrap is on) inside :func:`with_wrap_on` (the switch-off never interrupted).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from rig.hardware.bench import Bench
from rig.run.monitors import OFF_SETTLE_S, Levels, MonitorSet, OverTemperature, ProbeFault, SafetyLimits
from rig.run.sample import broadband_basic, temperature_columns
from rig.run.signals import RunAborted, WrapStillLit, current_gate

T = TypeVar("T")
STILL_LIT_MESSAGE = "WRAP STILL LIT after switch-off: its relay/MOSFET has failed on; disconnect its power by hand"


def reading_level(bench: Bench) -> float:
    """One spectral reading's broadband channel (by its role) in basic counts (gain- and integration-independent
    light level)."""
    reading = bench.read_spectrum()
    return broadband_basic(reading, bench.chip)


@dataclass
class SwitchedOff:
    """What a shut-down found: the pin read back off (False: still on, or unreadable) and the light check
    (True: WRAP STILL LIT; False: light gone; None: not verified, see ``note``, or not owed)."""

    read_back_off: bool
    still_lit: bool | None
    note: str = ""


class WrapSession:
    """Switch on and off; after every switch-on a light check is owed until a reading after a switch-off
    settles it (:meth:`judge`). Lit = the run's rule (:meth:`Levels.is_lit`): clearly above the dark level
    (read before the first switch-on if nothing gave one) and above 5 % of the lit level seen."""

    def __init__(self, bench: Bench, levels: Levels | None = None) -> None:
        self.bench = bench
        self.levels = levels or Levels()
        self.check_owed = False
        self.dark_known = False

    def on(self) -> None:
        if not self.dark_known and self.levels.dark <= 0:
            try:
                self.levels.dark = reading_level(self.bench)
            except Exception:  # noqa: BLE001 - no dark level: the floor (DARK_FLOOR_BASIC) is used
                pass
        self.dark_known = True
        self.check_owed = True  # before the pin moves: a stop during on() still owes the check
        self.bench.switch.on()

    def note_lit(self, level: float) -> None:
        """A light level seen while on (basic counts): the reference the still-lit check compares with."""
        if self.levels.is_lit(level):
            self.levels.lit_seen = True
            self.levels.measured = max(self.levels.measured or 0.0, level)

    def judge(self, level: float) -> bool:
        """A level read after switch-off: True = WRAP STILL LIT (recorded in the levels). Settles the check."""
        self.check_owed = False
        if self.levels.is_lit(level):
            self.levels.still_lit = True
        return self.levels.is_lit(level)

    def shut_down(self, read_level: Callable[[], float] | None = None) -> SwitchedOff:
        """Switch off and read the pin back; if a light check is owed, wait, read the light (``read_level``,
        default one spectral reading) and judge it. Never raises: every step runs whatever the one before did."""
        read_off = self.bench.switch.off_and_read_back()
        if not self.check_owed:
            return SwitchedOff(read_off, None)
        try:
            self.bench.clock.sleep(OFF_SETTLE_S)
            level = read_level() if read_level is not None else reading_level(self.bench)
        except Exception as error:  # noqa: BLE001 - recorded as not verified
            return SwitchedOff(read_off, None, f"light after switch-off not verified ({type(error).__name__}: "
                                               f"{error})")
        return SwitchedOff(read_off, self.judge(level))


class WrapGuard:
    """The run's guards while the wrap is on outside a run; a tripped guard raises :class:`RunAborted`."""

    def __init__(self, bench: Bench, limits: SafetyLimits | None = None) -> None:
        limits = limits or SafetyLimits()
        skin = bench.config.thermal.skin_probe
        self.bench = bench
        self.session = WrapSession(bench)
        self.step_s = limits.guard_interval_s
        self.monitors = MonitorSet([OverTemperature(skin, limits.interlock_surface_c, limits.trip_samples),
                                    ProbeFault(skin, limits.max_sensor_failures)])

    def on(self) -> None:
        self.session.on()

    def observe(self, row: dict) -> None:
        """A sample row (or temperature-only row) through the thermal monitors; notes the light while on."""
        current_gate().checkpoint()  # a stop that arrived during an import is raised here
        reason = self.monitors.observe(row, guard_only=True)
        if reason:
            raise RunAborted(reason)
        if self.bench.switch.is_on and row.get("clear_basic") is not None and not row.get("saturated"):
            self.session.note_lit(float(row["clear_basic"]))

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
            self.session.note_lit(broadband_basic(reading, self.bench.chip))
        if self.bench.switch.is_on:
            self.check()

    def off(self) -> None:
        """Switch off, read back, light check: WRAP STILL LIT (or a pin not read back off) raises."""
        done = self.session.shut_down()
        if done.still_lit:
            raise WrapStillLit(STILL_LIT_MESSAGE)
        if not done.read_back_off:
            raise RunAborted("the wrap's power pin did not read back off after switch-off: cut its power by hand")


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
