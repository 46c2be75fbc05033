"""Monitors: every row a run takes passes through each of them; one that returns a reason stops the run.

A monitor's :meth:`observe` sees a sample row (a dict as written to
``samples.csv``) and returns ``None`` or the reason to stop, marking the row's
``event``. The thermal monitors also see the temperature-only guard readings
taken between samples (at least every ``guard_interval_s`` while the wrap is
on), so a long sampling interval never leaves the skin unwatched.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from rig.results.schema import number, truthy

OFF_SETTLE_S = 1.0  # after switch-off, wait this long before checking that the light is gone


@dataclass
class SafetyLimits:
    """Interlocks: the skin-side probe above ``interlock_surface_c`` for ``trip_samples`` readings in a row stops
    the run (the safety cut-out, not the claim: a profile's ``surface_limit_c`` is judged, this one acts).
    While the wrap is on the temperature is read at least every ``guard_interval_s``, between samples too."""

    interlock_surface_c: float = 48.0
    trip_samples: int = 2
    max_sensor_failures: int = 3
    max_identical_samples: int = 5
    guard_interval_s: float = 2.0

    RENAMED_KEYS: ClassVar[dict[str, str]] = {"max_surface_c": "interlock_surface_c"}  # old sequences still load

NO_LIGHT_AFTER_S = 30.0  # lit wrap expected this long after switch-on
LIT_OVER_DARK = 10.0  # "lit" = the broadband channel (basic counts) above 10x the dark baseline
DARK_FLOOR_BASIC = 0.02  # lowest dark level assumed (basic counts), so a perfect dark still has a threshold
STILL_LIT_FRACTION = 0.5  # after switch-off, output above half the measured level = the switch has failed on


@dataclass
class Levels:
    """Output levels the monitors compare against (the broadband channel, basic counts), kept by the run."""

    dark: float = 0.0
    measured: float | None = None  # mean of the measure phase, the reference for auto-off and light checks
    lit_seen: bool = False
    no_light: bool = False  # no light long after switch-on: the mode did not start (or the switch failed off)
    still_lit: bool = False  # light seen after switch-off: the switch has failed on
    switched_on_t_s: float | None = None
    switched_off_t_s: float | None = None

    def lit_threshold(self) -> float:
        return LIT_OVER_DARK * max(self.dark, DARK_FLOOR_BASIC)

    def is_lit(self, clear_basic: float) -> bool:
        """Light clearly above the dark baseline (the welded-relay and no-light checks use this)."""
        threshold = self.lit_threshold()
        if self.measured:
            threshold = max(threshold, 0.05 * self.measured)
        return clear_basic > threshold


class Monitor(Protocol):
    """Sees each row; returns the reason to stop the run, or None."""

    thermal: bool  # also sees the temperature-only guard readings

    def observe(self, row: dict[str, Any]) -> str | None: ...


def _mark(row: dict[str, Any], prefix: str, reason: str | None) -> str | None:
    if reason:
        row["event"] = f"{prefix}: {reason.split(';')[0]}"
    return reason


@dataclass
class OverTemperature:
    """The skin-side probe above ``limit_c`` for ``trip_samples`` readings in a row: the interlock trips."""

    probe: str
    limit_c: float
    trip_samples: int = 2
    hot_in_a_row: int = 0
    thermal: bool = True

    def observe(self, row: dict[str, Any]) -> str | None:
        temp = number(row.get(f"{self.probe}_c"))
        if row.get(f"{self.probe}_fault") or temp is None:
            return None  # ProbeFault's job
        if temp <= self.limit_c:
            self.hot_in_a_row = 0
            return None
        self.hot_in_a_row += 1
        if self.hot_in_a_row < self.trip_samples:
            return None
        return _mark(row, "interlock", f"over-temperature: {self.probe} {temp:.1f} C > {self.limit_c:.1f} C for "
                     f"{self.hot_in_a_row} readings in a row at t = {float(row['t_s']):.0f} s; wrap switched off")


@dataclass
class ProbeFault:
    """The skin-side probe open, shorted or unreadable for ``max_failures`` readings: temperature unknown."""

    probe: str
    max_failures: int = 3
    faults_in_a_row: int = 0
    thermal: bool = True

    def observe(self, row: dict[str, Any]) -> str | None:
        fault = row.get(f"{self.probe}_fault")
        missing = number(row.get(f"{self.probe}_c")) is None
        if not fault and not missing:
            self.faults_in_a_row = 0
            return None
        self.faults_in_a_row += 1
        if self.faults_in_a_row < self.max_failures:
            return None
        what = fault or "no reading"
        return _mark(row, "interlock", f"{self.probe} probe fault ({what}) for {self.faults_in_a_row} readings: "
                     "temperature unknown, wrap switched off")


@dataclass
class Frozen:
    """Identical raw values ``limit`` samples in a row: a frozen sensor or a stuck ADC, not a steady wrap."""

    channels: tuple[str, ...]
    limit: int = 5
    last_counts: tuple = ()
    last_volts: tuple = ()
    same_counts: int = 0
    same_volts: int = 0
    thermal: bool = False

    def observe(self, row: dict[str, Any]) -> str | None:
        counts = tuple(row.get(c) for c in self.channels)
        volts = tuple(v for k, v in row.items() if k.endswith("_v"))
        self.same_counts = self.same_counts + 1 if counts == self.last_counts else 1
        self.same_volts = self.same_volts + 1 if volts and volts == self.last_volts else 1
        self.last_counts, self.last_volts = counts, volts
        if self.same_counts >= self.limit:
            return _mark(row, "fault", f"spectral sensor frozen: identical counts in {self.same_counts} samples "
                         "in a row")
        if self.same_volts >= self.limit:
            return _mark(row, "fault", f"thermistor ADC stuck: identical voltages in {self.same_volts} samples "
                         "in a row")
        return None


@dataclass
class LightCheck:
    """The wrap must light up after switch-on, and go dark after switch-off (else its switch has failed)."""

    levels: Levels
    thermal: bool = False

    def observe(self, row: dict[str, Any]) -> str | None:
        clear = number(row.get("clear_basic"))
        if clear is None or row.get("position"):
            return None
        levels = self.levels
        if truthy(row.get("wrap_on")):
            levels.lit_seen = levels.lit_seen or clear > levels.lit_threshold()
            since_on = float(row["t_s"]) - (levels.switched_on_t_s or 0.0)
            if not levels.lit_seen and since_on >= NO_LIGHT_AFTER_S:
                levels.no_light = True
                return _mark(row, "fault", f"no light {since_on:.0f} s after switch-on: check the wrap's power, "
                             "the switch wiring and the mode presses")
        elif (levels.lit_seen and levels.switched_off_t_s is not None and levels.measured
              and clear > STILL_LIT_FRACTION * levels.measured):  # never lit: nothing can be "still" lit
            levels.still_lit = True
            return _mark(row, "fault", "WRAP STILL LIT after switch-off: its relay/MOSFET has failed on; "
                         "disconnect its power by hand")
        return None


@dataclass
class MonitorSet:
    """The monitors of one run, in order; the first reason wins."""

    monitors: list[Monitor] = field(default_factory=list)

    def observe(self, row: dict[str, Any], guard_only: bool = False) -> str | None:
        reason = None
        for monitor in self.monitors:
            if guard_only and not monitor.thermal:
                continue
            found = monitor.observe(row)
            reason = reason or found
        return reason


def standard_monitors(channels: tuple[str, ...], skin_probe: str, interlock_c: float, trip_samples: int,
                      max_sensor_failures: int, max_identical_samples: int, levels: Levels) -> MonitorSet:
    """The guards every phase runs: over-temperature, probe fault, frozen sensor / stuck ADC, light checks."""
    return MonitorSet([
        OverTemperature(skin_probe, interlock_c, trip_samples),
        ProbeFault(skin_probe, max_sensor_failures),
        Frozen(channels, max_identical_samples),
        LightCheck(levels),
    ])
