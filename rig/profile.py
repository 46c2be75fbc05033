"""The wrap profile: who made the wrap, its modes, and the maker's claims per mode (TOML).

See ``rig/data/example_profile.toml`` for a commented example. Mistakes raise
:class:`~rig.errors.ConfigError` naming the file and key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from rig.config import load_validated
from rig.errors import ConfigError

IRRADIANCE_OVER = ("measure", "session")
SKIN_CONTACT_LIMIT_C = 43.0  # IEC 60601-1 (3rd ed.): applied parts on skin for 10 min or longer


@dataclass
class Claims:
    """What the maker claims for one mode; ``None`` = not claimed. Tolerances are the acceptance band."""

    red_peak_nm: float | None = None
    nir_peak_nm: float | None = None
    red_peak_tolerance_nm: float = 10.0
    nir_peak_tolerance_nm: float = 20.0
    irradiance_mw_cm2: float | None = None
    irradiance_tolerance_pct: float = 20.0
    irradiance_over: str = "measure"  # the irradiance claim holds over the "measure" phase or the whole "session"
    irradiance_session_min_mw_cm2: float | None = None  # the output never falls below this during the session
    dose_j_cm2: float | None = None
    dose_tolerance_pct: float = 20.0
    session_s: float | None = None
    session_tolerance_s: float = 30.0
    surface_limit_c: float = SKIN_CONTACT_LIMIT_C  # the claim: skin-side surface at most this (not the interlock)
    pulse_hz: float | None = None
    pulse_tolerance_pct: float = 5.0
    duty_pct: float | None = None
    duty_tolerance_pct: float = 5.0  # percentage points
    max_flicker_pct: float | None = None  # "flicker-free": percent flicker (IEEE 1789) at most this
    min_uniformity_ratio: float | None = None  # lowest / highest irradiance across positions, at least this
    max_cv_pct: float | None = None  # coefficient of variation of irradiance across positions, at most this

    RENAMED_KEYS: ClassVar[dict[str, str]] = {"max_surface_c": "surface_limit_c"}  # old profiles still load

    def validate(self, path: str, prefix: str) -> None:
        for key, low, high in (("red_peak_nm", 580, 720), ("nir_peak_nm", 740, 1100)):
            value = getattr(self, key)
            if value is not None and not low <= value <= high:
                raise ConfigError(path, prefix + key, f"a wavelength in {low}..{high} nm", value)
        if self.irradiance_over not in IRRADIANCE_OVER:
            raise ConfigError(path, prefix + "irradiance_over", "one of " + ", ".join(map(repr, IRRADIANCE_OVER)),
                              self.irradiance_over)
        for key in ("irradiance_mw_cm2", "dose_j_cm2", "session_s", "pulse_hz", "irradiance_session_min_mw_cm2"):
            value = getattr(self, key)
            if value is not None and value <= 0:
                raise ConfigError(path, prefix + key, "a value > 0", value)
        if self.max_flicker_pct is not None and not 0 <= self.max_flicker_pct <= 100:
            raise ConfigError(path, prefix + "max_flicker_pct", "a percentage in [0, 100]", self.max_flicker_pct)
        if self.duty_pct is not None and not 0 < self.duty_pct <= 100:
            raise ConfigError(path, prefix + "duty_pct", "a percentage in (0, 100]", self.duty_pct)
        if not 20 <= self.surface_limit_c <= 80:
            raise ConfigError(path, prefix + "surface_limit_c", "a temperature in 20..80 C", self.surface_limit_c)
        for key in ("red_peak_tolerance_nm", "nir_peak_tolerance_nm", "irradiance_tolerance_pct",
                    "dose_tolerance_pct", "session_tolerance_s", "pulse_tolerance_pct", "duty_tolerance_pct"):
            if getattr(self, key) < 0:
                raise ConfigError(path, prefix + key, "a tolerance >= 0", getattr(self, key))


@dataclass
class ModeProfile:
    """A mode of the wrap's controller: ``presses`` = button presses after power-on to reach it."""

    name: str = "default"
    presses: int = 0
    claims: Claims = field(default_factory=Claims)


@dataclass
class WrapProfile:
    """The wrap under test and its maker's claims."""

    maker: str = ""
    model: str = ""
    unit: str = ""
    notes: str = ""
    modes: list[ModeProfile] = field(default_factory=list)
    source: str = "<built-in>"

    def mode(self, name: str | None) -> ModeProfile:
        """The named mode (the first one when ``name`` is None)."""
        if name is None:
            return self.modes[0]
        for mode in self.modes:
            if mode.name == name:
                return mode
        have = ", ".join(m.name for m in self.modes)
        raise ConfigError(self.source, "modes", f"a mode named {name!r} (have: {have})")

    @property
    def label(self) -> str:
        return " ".join(part for part in (self.maker, self.model, self.unit) if part) or "unnamed wrap"

    def validate(self) -> WrapProfile:
        path = self.source
        if not self.model:
            raise ConfigError(path, "model", "the wrap's model name (a non-empty string)")
        if not self.modes:
            raise ConfigError(path, "modes", "at least one [[modes]] table with its claims")
        names = [m.name for m in self.modes]
        if len(set(names)) != len(names):
            raise ConfigError(path, "modes", "unique mode names", names)
        for index, mode in enumerate(self.modes):
            if not 0 <= mode.presses <= 20:
                raise ConfigError(path, f"modes[{index}].presses", "0..20 button presses", mode.presses)
            mode.claims.validate(path, f"modes[{index}].claims.")
        return self


def load_profile(path: str | Path) -> WrapProfile:
    """Read and check a wrap profile TOML file."""
    return load_validated(WrapProfile, path)
