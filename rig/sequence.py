"""The test sequence: phases in order, sensor settings and safety limits (TOML).

Phase kinds: ``dark`` (wrap off, baseline), ``on`` (switch on and press the
button to reach the mode; no duration), ``warmup``, ``measure``, ``pulse``
(one raw flicker capture of ``duration_s`` at ``pulse_rate_hz``), ``soak``
(optionally until the wrap switches itself off, within ``duration_s``),
``off`` (switch off; no duration), ``cooldown``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from rig.config import load_validated
from rig.errors import ConfigError

SAMPLING_KINDS = ("dark", "warmup", "measure", "soak", "cooldown")
SWITCH_KINDS = ("on", "off")
CAPTURE_KINDS = ("pulse", "uniformity")  # pulse: one flicker-FIFO capture of duration_s;
# uniformity: duration_s at every sensor position of the bench, one sample every interval_s


@dataclass
class Phase:
    """One phase: ``duration_s`` long, one sample every ``interval_s``."""

    kind: str = "measure"
    duration_s: float = 0.0
    interval_s: float = 1.0
    until_auto_off: bool = False
    name: str = ""

    @property
    def label(self) -> str:
        return self.name or self.kind


@dataclass
class SensorSettings:
    """Overrides of the bench's AS7341 settings for this sequence (``None`` = bench default)."""

    gain_x: float | None = None
    atime: int | None = None
    astep: int | None = None
    auto_range: bool | None = None


@dataclass
class SafetyLimits:
    """Interlocks: surface above ``max_surface_c`` for ``trip_samples`` samples in a row stops the run."""

    max_surface_c: float = 48.0
    trip_samples: int = 2
    max_sensor_failures: int = 3
    max_identical_samples: int = 5


@dataclass
class Sequence:
    """A whole test sequence."""

    name: str = "sequence"
    mode: str | None = None
    pulse_rate_hz: float = 2000.0
    phases: list[Phase] = field(default_factory=list)
    sensor: SensorSettings = field(default_factory=SensorSettings)
    safety: SafetyLimits = field(default_factory=SafetyLimits)
    source: str = "<built-in>"

    @property
    def planned_s(self) -> float:
        return sum(p.duration_s for p in self.phases)

    def validate(self) -> Sequence:
        path = self.source
        if not self.phases:
            raise ConfigError(path, "phases", "at least one [[phases]] table")
        kinds = SAMPLING_KINDS + SWITCH_KINDS + CAPTURE_KINDS
        if not 100 <= self.pulse_rate_hz <= 2000:
            raise ConfigError(path, "pulse_rate_hz", "a sample rate in 100..2000 Hz", self.pulse_rate_hz)
        switched_on = False
        for index, phase in enumerate(self.phases):
            key = f"phases[{index}]"
            if phase.kind not in kinds:
                raise ConfigError(path, f"{key}.kind", "one of " + ", ".join(kinds), phase.kind)
            if phase.kind in SWITCH_KINDS:
                if phase.duration_s:
                    raise ConfigError(path, f"{key}.duration_s", f"no duration for an '{phase.kind}' phase",
                                      phase.duration_s)
                switched_on = phase.kind == "on"
                continue
            if phase.duration_s <= 0:
                raise ConfigError(path, f"{key}.duration_s", "seconds > 0", phase.duration_s)
            if phase.kind == "pulse":
                if not switched_on or not 0.2 <= phase.duration_s <= 30:
                    raise ConfigError(path, f"{key}", "a 'pulse' capture of 0.2..30 s while the wrap is on",
                                      phase.duration_s)
                continue
            if phase.kind == "uniformity" and not switched_on:
                raise ConfigError(path, f"{key}.kind", "an 'on' phase before 'uniformity'", phase.kind)
            if phase.kind != "pulse" and not 0 < phase.interval_s <= phase.duration_s:
                raise ConfigError(path, f"{key}.interval_s", "seconds in (0, duration_s]", phase.interval_s)
            if phase.until_auto_off and phase.kind != "soak":
                raise ConfigError(path, f"{key}.until_auto_off", "only on a 'soak' phase", True)
            if phase.kind == "dark" and switched_on:
                raise ConfigError(path, f"{key}.kind", "a 'dark' phase only while the wrap is off", phase.kind)
            if phase.kind in ("warmup", "measure", "soak") and not switched_on:
                raise ConfigError(path, f"{key}.kind", f"an 'on' phase before '{phase.kind}'", phase.kind)
        if not any(p.kind == "measure" for p in self.phases):
            raise ConfigError(path, "phases", "at least one 'measure' phase")
        limits = self.safety
        if not 30 <= limits.max_surface_c <= 90:
            raise ConfigError(path, "safety.max_surface_c", "a temperature in 30..90 C", limits.max_surface_c)
        if limits.trip_samples < 1:
            raise ConfigError(path, "safety.trip_samples", "an integer >= 1", limits.trip_samples)
        if limits.max_identical_samples < 2:
            raise ConfigError(path, "safety.max_identical_samples", "an integer >= 2", limits.max_identical_samples)
        if limits.max_sensor_failures < 1:
            raise ConfigError(path, "safety.max_sensor_failures", "an integer >= 1", limits.max_sensor_failures)
        return self


def load_sequence(path: str | Path) -> Sequence:
    """Read and check a sequence TOML file."""
    return load_validated(Sequence, path)
