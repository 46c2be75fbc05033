"""One run's state and its per-row pipeline: every phase that reads the bench goes through :meth:`RunContext.sample`.

The pipeline for a row: read every sensor (I2C errors retried, repeated
failures stop the run) -> annotate (time, phase, mode, basic counts) -> dark
baseline -> spectral estimate -> every monitor -> append to ``samples.csv``
(a failed write stops the run) -> progress. Between samples,
:meth:`RunContext.wait_until` keeps reading the temperatures while the wrap is
on, so the interlock never waits for a long ``interval_s``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rig.claims.evidence import RunFacts
from rig.errors import RigError, SensorFault
from rig.results.writer import SamplesWriter, iso_utc
from rig.run.guard import WrapSession
from rig.run.monitors import Levels, MonitorSet
from rig.run.sample import take_sample, temperature_columns
from rig.run.signals import NoLight, RunAborted, current_gate

log = logging.getLogger("rig.run")

Deriver = Callable[[dict[str, Any], dict[str, float]], dict[str, Any]]


class ResultsWriteError(RigError):
    """``samples.csv`` could not be written (disk full, folder deleted): the run stops as ERROR."""


@dataclass
class Progress:
    """What the live display shows after each sample."""

    phase: str
    phase_number: int
    phase_count: int
    elapsed_s: float
    planned_s: float
    phase_remaining_s: float
    irradiance_mw_cm2: float | None
    surface_c: float | None
    wrap_on: bool
    mode: str = ""


@dataclass
class DarkBaseline:
    """Running mean of the dark phase's raw counts per channel, and its broadband level in basic counts."""

    channels: tuple[str, ...]
    counts: dict[str, float] = field(default_factory=dict)
    n: int = 0

    def add(self, row: dict[str, Any]) -> None:
        self.n += 1
        for channel in self.channels:
            previous = self.counts.get(channel, 0.0)
            self.counts[channel] = previous + (float(row[channel]) - previous) / self.n


def estimate_unavailable(chip, derive) -> str | None:
    """Why ``derive`` cannot estimate readings of ``chip`` (None if it can): a deriver names the ``chip`` its
    table (calibration) is for; one made for another chip's channels cannot read this bench's counts."""
    if derive is None:
        return None
    made_for = getattr(derive, "chip", None)
    if made_for is None or made_for.name == chip.name:
        return None
    return (f"spectral estimate NOT MEASURED: the estimate is made for the {made_for.name.upper()}'s channels, this "
            f"bench has an {chip.name.upper()} (raw counts recorded, peaks and irradiance empty)")


class RunContext:
    """Everything a phase needs: the bench, the sequence, the writer, the monitors and the run's facts."""

    def __init__(self, bench, sequence, mode_name: str, presses: int, writer: SamplesWriter,
                 monitors: MonitorSet, levels: Levels, derive: Deriver | None = None,
                 progress: Callable[[Progress], None] | None = None, t0: float | None = None,
                 phases: list | None = None, planned_s: float | None = None) -> None:
        self.bench = bench
        self.clock = bench.clock
        self.sequence = sequence
        self.mode_name = mode_name
        self.presses = presses
        self.writer = writer
        self.monitors = monitors
        self.levels = levels
        self.wrap = WrapSession(bench, levels)  # the switch and the light check owed after every switch-on
        self.derive = derive
        self.estimate_note = estimate_unavailable(bench.chip, derive)
        if self.estimate_note:
            self.derive = None  # raw counts recorded; the derived columns stay empty
        self.progress = progress
        self.t0 = self.clock.monotonic() if t0 is None else t0  # a run's modes share its clock
        self.phases = list(sequence.phases if phases is None else phases)  # this mode's phases
        self.planned_s = sum(p.duration_s for p in self.phases) if planned_s is None else planned_s  # whole run
        self.rows: list[dict[str, Any]] = []
        self.events: list[str] = []
        self.dark = DarkBaseline(bench.chip.channels)
        self.facts = RunFacts(skin_probe=bench.config.thermal.skin_probe)
        self.failures_in_a_row = 0
        self.phase_number = 0
        self.phase_start = self.t0
        self.phase_duration_s = 0.0
        self.measure_n = 0
        self.phase_state: dict[str, Any] = {}  # a phase body's own state, reset for every phase (the phase
        # classes are shared registry instances and keep none)

    # --- time -----------------------------------------------------------------------------------------------------
    def now_s(self) -> float:
        """Seconds since the run started, on the bench clock."""
        return self.clock.monotonic() - self.t0

    def wait_until(self, target: float) -> None:
        """Sleep until ``target`` (bench clock, monotonic); while the wrap is on, guard the temperature at least
        every ``guard_interval_s``."""
        step = self.sequence.safety.guard_interval_s
        while True:
            remaining = target - self.clock.monotonic()
            if remaining <= 1e-9:
                return
            if not self.bench.switch.is_on:
                self.clock.sleep(remaining)
                return
            self.clock.sleep(min(step, remaining))
            if target - self.clock.monotonic() > 1e-9:
                self.guard()

    def guard(self) -> None:
        """A temperature-only reading through the thermal monitors (not written as a sample)."""
        current_gate().checkpoint()  # a stop that arrived during an import is raised here
        try:
            temperatures = self.bench.read_temperatures()
        except SensorFault as error:
            row = {"t_s": round(self.now_s(), 4), f"{self.facts.skin_probe}_fault": f"unreadable ({error})"}
        else:
            row = {"t_s": round(self.now_s(), 4), **temperature_columns(temperatures)}
        skin = row.get(f"{self.facts.skin_probe}_c")
        if skin is not None:
            current = self.facts.guard_surface_max_c
            self.facts.guard_surface_max_c = skin if current is None else max(current, skin)
        reason = self.monitors.observe(row, guard_only=True)
        if reason:
            self.event(f"{row.get('event', 'interlock')} (guard reading between samples)")
            raise RunAborted(reason)

    # --- rows -----------------------------------------------------------------------------------------------------
    def sample(self, phase, position=None,
               before_write: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any] | None:
        """One row through the whole pipeline; None when the reading failed (counted, the run goes on).

        ``before_write`` may add to the row (e.g. a flicker capture's analysis) before the monitors see it.
        """
        current_gate().checkpoint()  # a stop that arrived during an import is raised here
        row = self._read(phase, position)
        if row is None:
            return None
        if self.derive is not None and not row.get("saturated"):
            row.update(self.derive(row, self.dark.counts))
        if before_write is not None:
            before_write(row)
        if phase.kind == "measure" and row["wrap_on"] and not position:
            self.measure_n += 1
            level = self.levels.measured
            self.levels.measured = row["clear_basic"] if level is None else level + (
                row["clear_basic"] - level) / self.measure_n
        reason = self.monitors.observe(row)
        self.write(row)
        if reason:
            self.event(row.get("event") or reason)
            raise (NoLight if self.levels.no_light else RunAborted)(reason)
        if self.progress is not None:
            self.progress(Progress(
                phase.label, self.phase_number, len(self.phases), row["t_s"], self.planned_s,
                max(0.0, self.phase_duration_s - (self.clock.monotonic() - self.phase_start)),
                row.get("irradiance_mw_cm2"), row.get(f"{self.facts.skin_probe}_c"), bool(row["wrap_on"]),
                self.mode_name))
        return row

    def write(self, row: dict[str, Any]) -> None:
        """Append a row to ``samples.csv`` and to the run's rows; a failed write stops the run (ERROR)."""
        try:
            with current_gate().held():  # the row and its count land together, then a signal stops the run
                self.writer.write(row)
        except OSError as error:
            raise ResultsWriteError(f"samples.csv could not be written ({error.strerror or error}): "
                                    f"{self.writer.rows_written} rows kept") from error
        self.rows.append(row)

    def _read(self, phase, position) -> dict[str, Any] | None:
        try:
            row = take_sample(self.bench, self.t0, position)
        except (SensorFault, OSError) as error:
            self.failures_in_a_row += 1
            self.event(f"sensor error at {self.now_s():.1f} s: {error}")
            if self.failures_in_a_row >= self.sequence.safety.max_sensor_failures:
                raise RunAborted(f"sensor lost: {self.failures_in_a_row} failed readings in a row ({error})") \
                    from error
            return None
        self.failures_in_a_row = 0
        row["wall_time"] = iso_utc(self.clock.wall())
        row["phase"] = phase.label
        row["phase_kind"] = phase.kind
        row["mode"] = self.mode_name  # every row of a mode's segment, its dark baseline too
        if phase.kind == "dark" and not row.get("saturated"):
            self.dark.add(row)
            self.levels.dark += (row["clear_basic"] - self.levels.dark) / self.dark.n
        return row

    # --- switching ------------------------------------------------------------------------------------------------
    def switch_on(self) -> None:
        self.wrap.dark_known = self.dark.n > 0  # else a reading before switch-on gives the dark level
        self.wrap.on()
        self.levels.switched_on_t_s = self.facts.switched_on_t_s = self.now_s()
        for _ in range(self.presses):
            self.clock.sleep(0.5)
            self.bench.switch.press()
        self.event(f"switched on at {self.facts.switched_on_t_s:.1f} s, {self.presses} presses to "
                   f"'{self.mode_name}'")

    def switch_off(self) -> None:
        self.bench.switch.off()
        self.levels.switched_off_t_s = self.facts.switched_off_t_s = self.now_s()
        self.event(f"switched off at {self.facts.switched_off_t_s:.1f} s")

    def event(self, text: str) -> None:
        self.events.append(text)
        log.info(text)
