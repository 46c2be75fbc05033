"""A simulated wrap as described (the ``--sim-wrap`` TOML file): its LED strings, modes, ripple, throttling, sensor
positions and scheduled faults, validated as loaded (:func:`load_wrap_spec`). How it behaves over time is
:class:`rig.sim.wrap_model.WrapModel`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rig.config import load_validated
from rig.errors import ConfigError
from rig.sim.sensor_unit import SensorSpread


@dataclass
class LedString:
    """One LED string: peak and width at a cold junction, irradiance at the surface (contact)."""

    name: str = "red"
    peak_nm: float = 660.0
    fwhm_nm: float = 20.0
    irradiance_mw_cm2: float = 25.0
    heat_weight: float | None = None  # heat when lit, relative to other strings; None: its irradiance


RIPPLE_SHAPES = ("sine", "triangle", "sawtooth", "square")


@dataclass
class Ripple:
    """Output ripple that is not on/off: ``depth_pct`` is its percent flicker (IEEE 1789)."""

    frequency_hz: float = 100.0
    depth_pct: float = 10.0
    shape: str = "sine"
    duty: float = 0.5  # for "square": share of the period at the high level

    def integral(self, t_s: np.ndarray) -> np.ndarray:
        """Antiderivative (from t = 0) of the zero-phase shape s(t) in [-1, 1], seconds."""
        period = 1.0 / self.frequency_hz
        cycles, phase = np.divmod(np.asarray(t_s, float) / period, 1.0)
        if self.shape == "sine":
            return (1.0 - np.cos(2 * np.pi * phase)) / (2 * np.pi) * period
        if self.shape == "triangle":  # -1 at phase 0, +1 at phase 0.5, mean 0
            first = -phase + 2 * phase ** 2
            second = 3 * (phase - 0.5) - 2 * (phase ** 2 - 0.25)
            return np.where(phase <= 0.5, first, second) * period
        if self.shape == "sawtooth":  # rises from -1 to +1 over each period
            return (phase ** 2 - phase) * period
        high = np.minimum(phase, self.duty) - np.maximum(phase - self.duty, 0.0)
        return (cycles * (2 * self.duty - 1) + high) * period

    def mean(self) -> float:
        return 2 * self.duty - 1 if self.shape == "square" else 0.0


@dataclass
class WrapMode:
    """A controller mode: which strings light, and how (``pulse_hz`` 0 = steady)."""

    name: str = "red+nir"
    strings: list[str] = field(default_factory=lambda: ["red", "nir"])
    pulse_hz: float = 0.0
    duty: float = 1.0
    intensity: float = 1.0  # output level of this mode relative to the strings' full irradiance
    ripple: list[Ripple] = field(default_factory=list)
    auto_off_s: float | None = None  # this mode's own timer (from entering the mode); None: the wrap's


FAULT_EVENT_KINDS = ("sensor_nack", "sensor_disconnect", "sensor_frozen", "adc_nack", "adc_disconnect", "adc_stuck",
                     "probe_open", "probe_short", "probe_ok")


@dataclass
class FaultEvent:
    """A fault of the bench hardware at simulated time ``at_s`` (since the simulator started).

    ``sensor_*`` act on the spectral chip, ``adc_*`` on the ADS1115 (``*_nack``: the next ``count``
    transfers fail; ``*_disconnect``: every transfer fails from then on; ``sensor_frozen`` /
    ``adc_stuck``: the data stop changing), ``probe_*`` on the named thermistor.
    """

    at_s: float = 0.0
    kind: str = "sensor_nack"
    count: int = 1
    probe: str = "surface"


@dataclass
class Throttle:
    """A step of thermal throttling: from ``at_s`` after power-on or when the surface reaches ``at_surface_c``
    (whichever is first; either may be omitted), the drive is ``output_factor`` of its full level."""

    output_factor: float = 0.7
    at_s: float | None = None
    at_surface_c: float | None = None


@dataclass
class WrapFaults:
    """Faults of the wrap itself, and scheduled faults of the bench hardware (``events``)."""

    dead_strings: list[str] = field(default_factory=list)
    runaway_c_per_min: float = 0.0
    auto_off_broken: bool = False
    stuck_on: bool = False  # welded relay / shorted MOSFET: switching off has no effect
    never_on: bool = False
    events: list[FaultEvent] = field(default_factory=list)


@dataclass
class WrapPosition:
    """A place on the wrap as a sensor sees it: each string's share of its light there (default 1)."""

    name: str = "centre"
    weights: dict[str, float] = field(default_factory=dict)
    rise_factor: float = 1.0  # surface rise here relative to the wrap's (a hot spot > 1); a probe of this name


@dataclass
class WrapSpec:
    """Everything that describes a simulated wrap (the ``--sim-wrap`` TOML file)."""

    name: str = "simulated wrap"
    strings: list[LedString] = field(default_factory=lambda: [
        LedString("red", 660.0, 20.0, 25.0), LedString("nir", 850.0, 30.0, 25.0)])
    modes: list[WrapMode] = field(default_factory=lambda: [WrapMode()])
    start_mode: int = 0
    auto_off_s: float = 900.0
    warmup_tau_s: float = 60.0
    droop_fraction: float = 0.08
    wavelength_drift_nm: float = 2.0
    ambient_c: float = 22.0
    surface_rise_c: float = 12.0
    heat_tau_s: float = 240.0
    faults: WrapFaults = field(default_factory=WrapFaults)
    positions: list[WrapPosition] = field(default_factory=list)
    ripple: list[Ripple] = field(default_factory=list)  # in every mode (e.g. mains ripple at 100/120 Hz)
    relight_after_s: float | None = None  # after auto-off the controller lights again after this long
    throttle: list[Throttle] = field(default_factory=list)  # thermal throttling steps (none: never throttles)
    sensor: SensorSpread = field(default_factory=SensorSpread)  # the simulated chip's unit: its spread ([sensor])
    source: str = "<built-in>"

    def validate(self) -> WrapSpec:
        path = self.source
        self.sensor.validate(path)
        names = [s.name for s in self.strings]
        if not self.strings:
            raise ConfigError(path, "strings", "at least one LED string")
        if len(set(names)) != len(names):
            raise ConfigError(path, "strings", "unique string names", names)
        for i, string in enumerate(self.strings):
            if not 300 <= string.peak_nm <= 1100:
                raise ConfigError(path, f"strings[{i}].peak_nm", "a wavelength in 300..1100 nm", string.peak_nm)
            if not 1 <= string.fwhm_nm <= 200:
                raise ConfigError(path, f"strings[{i}].fwhm_nm", "a width in 1..200 nm", string.fwhm_nm)
            if string.irradiance_mw_cm2 < 0:
                raise ConfigError(path, f"strings[{i}].irradiance_mw_cm2", "an irradiance >= 0",
                                  string.irradiance_mw_cm2)
        if not self.modes:
            raise ConfigError(path, "modes", "at least one mode")
        for i, mode in enumerate(self.modes):
            for name in mode.strings:
                if name not in names:
                    raise ConfigError(path, f"modes[{i}].strings", f"names of strings ({', '.join(names)})", name)
            if mode.pulse_hz < 0:
                raise ConfigError(path, f"modes[{i}].pulse_hz", "a frequency >= 0 (0 = steady)", mode.pulse_hz)
            if not 0 < mode.duty <= 1:
                raise ConfigError(path, f"modes[{i}].duty", "a fraction in (0, 1]", mode.duty)
            if not 0 < mode.intensity <= 2:
                raise ConfigError(path, f"modes[{i}].intensity", "a factor in (0, 2]", mode.intensity)
        ripples = [(f"ripple[{i}]", r) for i, r in enumerate(self.ripple)] + [
            (f"modes[{m}].ripple[{i}]", r) for m, mode in enumerate(self.modes) for i, r in enumerate(mode.ripple)]
        for key, ripple in ripples:
            if ripple.shape not in RIPPLE_SHAPES:
                raise ConfigError(path, f"{key}.shape", "one of " + ", ".join(RIPPLE_SHAPES), ripple.shape)
            if not 0 < ripple.frequency_hz <= 100_000:
                raise ConfigError(path, f"{key}.frequency_hz", "a frequency in (0, 100000] Hz", ripple.frequency_hz)
            if not 0 <= ripple.depth_pct <= 100:
                raise ConfigError(path, f"{key}.depth_pct", "a percent flicker in 0..100", ripple.depth_pct)
            if not 0 < ripple.duty < 1:
                raise ConfigError(path, f"{key}.duty", "a fraction in (0, 1)", ripple.duty)
        for i, string in enumerate(self.strings):
            if string.heat_weight is not None and string.heat_weight < 0:
                raise ConfigError(path, f"strings[{i}].heat_weight", "a weight >= 0", string.heat_weight)
        for i, position in enumerate(self.positions):
            if not 0 <= position.rise_factor <= 10:
                raise ConfigError(path, f"positions[{i}].rise_factor", "a factor in 0..10", position.rise_factor)
            if not isinstance(position.weights, dict):
                raise ConfigError(path, f"positions[{i}].weights", "a table of string name = share", position.weights)
            for string_name, weight in position.weights.items():
                if string_name not in names:
                    raise ConfigError(path, f"positions[{i}].weights.{string_name}",
                                      f"names of strings ({', '.join(names)})", string_name)
                if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not 0 <= weight <= 10:
                    raise ConfigError(path, f"positions[{i}].weights.{string_name}",
                                      "a share of the string's light in 0..10 (a finite number)", weight)
        for i, mode in enumerate(self.modes):
            if mode.auto_off_s is not None and mode.auto_off_s <= 0:
                raise ConfigError(path, f"modes[{i}].auto_off_s", "seconds > 0", mode.auto_off_s)
        for i, step in enumerate(self.throttle):
            if not 0 < step.output_factor <= 1:
                raise ConfigError(path, f"throttle[{i}].output_factor", "a factor in (0, 1]", step.output_factor)
            if step.at_s is None and step.at_surface_c is None:
                raise ConfigError(path, f"throttle[{i}]", "at_s or at_surface_c (when the step happens)")
            if step.at_s is not None and step.at_s <= 0:
                raise ConfigError(path, f"throttle[{i}].at_s", "seconds after power-on > 0", step.at_s)
            if step.at_surface_c is not None and not self.ambient_c < step.at_surface_c <= 150:
                raise ConfigError(path, f"throttle[{i}].at_surface_c",
                                  f"a temperature above ambient ({self.ambient_c:g} C) and at most 150 C",
                                  step.at_surface_c)
        if self.relight_after_s is not None and self.relight_after_s <= 0:
            raise ConfigError(path, "relight_after_s", "seconds > 0", self.relight_after_s)
        if not 0 <= self.start_mode < len(self.modes):
            raise ConfigError(path, "start_mode", f"a mode index 0..{len(self.modes) - 1}", self.start_mode)
        for key in ("warmup_tau_s", "heat_tau_s"):
            if getattr(self, key) <= 0:
                raise ConfigError(path, key, "a time constant > 0 s", getattr(self, key))
        if self.auto_off_s <= 0:
            raise ConfigError(path, "auto_off_s", "seconds > 0", self.auto_off_s)
        if not 0 <= self.droop_fraction < 1:
            raise ConfigError(path, "droop_fraction", "a fraction in [0, 1)", self.droop_fraction)
        for i, event in enumerate(self.faults.events):
            if event.kind not in FAULT_EVENT_KINDS:
                raise ConfigError(path, f"faults.events[{i}].kind", "one of " + ", ".join(FAULT_EVENT_KINDS),
                                  event.kind)
            if event.at_s < 0 or event.count < 1:
                raise ConfigError(path, f"faults.events[{i}]", "at_s >= 0 and count >= 1")
            if not event.probe:
                raise ConfigError(path, f"faults.events[{i}].probe", "the name of a thermistor probe of the bench")
        for name in self.faults.dead_strings:
            if name not in names:
                raise ConfigError(path, "faults.dead_strings", f"names of strings ({', '.join(names)})", name)
        return self


def check_event_probes(spec: WrapSpec, probe_names: list[str]) -> None:
    """Every ``probe_*`` fault event names a probe the bench has (the wrap file does not know them; the
    simulated bench checks when it is built): a ConfigError naming the sim-wrap file and the event otherwise."""
    for i, event in enumerate(spec.faults.events):
        if event.kind.startswith("probe_") and event.probe not in probe_names:
            raise ConfigError(spec.source, f"faults.events[{i}].probe",
                              f"a thermistor probe of the bench config ({', '.join(probe_names)})", event.probe)


def load_wrap_spec(path: str | Path) -> WrapSpec:
    """Read a simulated-wrap TOML file; mistakes name the file and key."""
    return load_validated(WrapSpec, path)
