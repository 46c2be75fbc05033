"""The test sequence: phases in order, sensor settings and safety limits (TOML).

Phase kinds are declared in :mod:`rig.run.phases` (one class each, with its
validation): ``dark`` (wrap off, baseline), ``on`` (switch on and press the
button to reach the mode; no duration), ``warmup``, ``measure``, ``pulse``
(one raw flicker capture), ``uniformity`` (every sensor position), ``soak``
(optionally until the wrap switches itself off, within ``duration_s``),
``off`` (switch off and check the light went out; no duration), ``cooldown``.
A phase lasts at most 24 h (``MAX_PHASE_S``) and takes at most 100 000 samples (``MAX_PHASE_SAMPLES``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from rig.config import SpectralConfig, load_validated
from rig.errors import ConfigError
from rig.run.monitors import SafetyLimits

MAX_PHASE_S = 86_400.0  # a phase lasts at most 24 h (a soak of a wrap that never switches itself off included)
MAX_PHASE_SAMPLES = 100_000  # samples per phase (~30 MB of samples.csv): 24 h at one a second fits


@dataclass
class ModeTiming:
    """A phase's own timing in one mode (``[[phases.per_mode]]``): what it overrides, ``None`` = as the phase."""

    mode: str = ""
    duration_s: float | None = None
    interval_s: float | None = None


@dataclass
class Phase:
    """One phase: ``duration_s`` long, one sample every ``interval_s``.

    ``modes`` limits the phase to some of the wrap's modes (empty: every mode), e.g. a 'pulse' phase for the
    pulse modes; ``per_mode`` gives a mode its own duration or interval.
    """

    kind: str = "measure"
    duration_s: float = 0.0
    interval_s: float = 1.0
    until_auto_off: bool = False
    name: str = ""
    modes: list[str] = field(default_factory=list)
    per_mode: list[ModeTiming] = field(default_factory=list)

    @property
    def label(self) -> str:
        return self.name or self.kind

    def applies_to(self, mode: str) -> bool:
        return not self.modes or mode in self.modes

    def for_mode(self, mode: str) -> Phase:
        """This phase as it runs in ``mode`` (its ``per_mode`` timing applied)."""
        for timing in self.per_mode:
            if timing.mode == mode:
                return replace(self, duration_s=self.duration_s if timing.duration_s is None else timing.duration_s,
                               interval_s=self.interval_s if timing.interval_s is None else timing.interval_s)
        return self


@dataclass
class SensorSettings:
    """Overrides of the bench's AS7341 settings for this sequence (``None`` = bench default).

    Checked by the same rules as the bench config's ``[spectral]`` table, when the file is loaded.
    """

    gain_x: float | None = None
    atime: int | None = None
    astep: int | None = None
    auto_range: bool | None = None

    def validate(self, path: str, prefix: str) -> None:
        defaults = SpectralConfig()
        merged = SpectralConfig(gain_x=defaults.gain_x if self.gain_x is None else self.gain_x,
                                atime=defaults.atime if self.atime is None else self.atime,
                                astep=defaults.astep if self.astep is None else self.astep)
        merged.validate(path, prefix.rstrip("."))


@dataclass
class Sequence:
    """A whole test sequence."""

    name: str = "sequence"
    mode: str | None = None
    pulse_rate_hz: float = 2000.0
    phases: list[Phase] = field(default_factory=list)
    sensor: SensorSettings = field(default_factory=SensorSettings)
    safety: SafetyLimits = field(default_factory=SafetyLimits)
    between_modes_within_c: float = 2.0  # before the next mode: the skin-side probe back within this of its start
    between_modes_max_s: float = 1800.0  # ... or this long at most (the next mode then starts warmer, noted)
    source: str = "<built-in>"

    @property
    def planned_s(self) -> float:
        return sum(p.duration_s for p in self.phases)

    def named_modes(self) -> list[str]:
        """Every mode a phase names (``modes`` or ``per_mode``), in order of appearance."""
        names = [name for p in self.phases for name in (*p.modes, *(t.mode for t in p.per_mode))]
        return list(dict.fromkeys(names))

    def phases_for(self, mode: str) -> list[Phase]:
        """The phases that run in ``mode``, with its own timings."""
        return [p.for_mode(mode) for p in self.phases if p.applies_to(mode)]

    def planned_for(self, mode: str) -> float:
        return sum(p.duration_s for p in self.phases_for(mode))

    def validate(self) -> Sequence:
        from rig.run.phases import validate_phases

        path = self.source
        if not self.phases:
            raise ConfigError(path, "phases", "at least one [[phases]] table")
        if not 100 <= self.pulse_rate_hz <= 2000:
            raise ConfigError(path, "pulse_rate_hz", "a sample rate in 100..2000 Hz", self.pulse_rate_hz)
        for index, phase in enumerate(self.phases):
            if phase.duration_s > MAX_PHASE_S:
                raise ConfigError(path, f"phases[{index}].duration_s", f"at most {MAX_PHASE_S:g} s (24 h) per phase",
                                  phase.duration_s)
            if phase.duration_s > 0 and phase.duration_s / phase.interval_s > MAX_PHASE_SAMPLES:
                raise ConfigError(path, f"phases[{index}].interval_s", f"at most {MAX_PHASE_SAMPLES} samples per "
                                  f"phase: an interval >= {phase.duration_s / MAX_PHASE_SAMPLES:g} s for "
                                  f"{phase.duration_s:g} s", phase.interval_s)
        for index, phase in enumerate(self.phases):
            for t, timing in enumerate(phase.per_mode):
                if not timing.mode:
                    raise ConfigError(path, f"phases[{index}].per_mode[{t}].mode", "the name of a mode of the wrap")
        # validated as it runs in every mode it names, and in any other mode (the phases for every mode)
        for mode in [*self.named_modes(), None]:
            indexed = [(i, p.for_mode(mode) if mode else p) for i, p in enumerate(self.phases)
                       if (p.applies_to(mode) if mode else not p.modes)]
            validate_phases([p for _, p in indexed], path, [i for i, _ in indexed], mode)
            if not any(p.kind == "measure" for _, p in indexed):
                raise ConfigError(path, "phases", "at least one 'measure' phase"
                                  + (f" in mode '{mode}'" if mode else " that runs in every mode"))
        if not 0 < self.between_modes_within_c <= 20:
            raise ConfigError(path, "between_modes_within_c", "degrees C in (0, 20]", self.between_modes_within_c)
        if not 0 <= self.between_modes_max_s <= 7200:
            raise ConfigError(path, "between_modes_max_s", "seconds in 0..7200", self.between_modes_max_s)
        self.sensor.validate(path, "sensor.")
        limits = self.safety
        if not 30 <= limits.interlock_surface_c <= 90:
            raise ConfigError(path, "safety.interlock_surface_c", "a temperature in 30..90 C",
                              limits.interlock_surface_c)
        if limits.trip_samples < 1:
            raise ConfigError(path, "safety.trip_samples", "an integer >= 1", limits.trip_samples)
        if limits.max_identical_samples < 2:
            raise ConfigError(path, "safety.max_identical_samples", "an integer >= 2", limits.max_identical_samples)
        if limits.max_sensor_failures < 1:
            raise ConfigError(path, "safety.max_sensor_failures", "an integer >= 1", limits.max_sensor_failures)
        if not 0.5 <= limits.guard_interval_s <= 10:
            raise ConfigError(path, "safety.guard_interval_s", "seconds in 0.5..10", limits.guard_interval_s)
        return self


def load_sequence(path: str | Path) -> Sequence:
    """Read and check a sequence TOML file."""
    return load_validated(Sequence, path)
