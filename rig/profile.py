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


LINE_PEAK_RANGE_NM = (580.0, 1000.0)  # red, far-red and NIR lines a profile may claim


def line_name(peak_nm: float) -> str:
    """Stable name of a claimed line: ``line_660nm`` (``line_656p5nm`` for a fractional peak)."""
    return "line_" + f"{peak_nm:g}".replace(".", "p") + "nm"


@dataclass
class LineClaim:
    """One claimed emission line of a mode (``[[modes.claims.lines]]``).

    ``tolerance_nm`` defaults to 10 nm below 740 nm and 20 nm above; ``irradiance_mw_cm2`` (at contact) and
    ``share_pct`` (of the mode's total irradiance, +/- ``share_tolerance_pct`` points) are optional.
    ``fwhm_nm`` is informative (the simulated wrap uses it; the estimate fits the width).
    """

    peak_nm: float | None = None
    tolerance_nm: float | None = None
    irradiance_mw_cm2: float | None = None
    irradiance_tolerance_pct: float = 20.0
    share_pct: float | None = None
    share_tolerance_pct: float = 10.0
    fwhm_nm: float | None = None

    @property
    def name(self) -> str:
        return line_name(float(self.peak_nm or 0.0))

    @property
    def tolerance(self) -> float:
        if self.tolerance_nm is not None:
            return self.tolerance_nm
        return 10.0 if (self.peak_nm or 0.0) < 740 else 20.0

    def validate(self, path: str, key: str) -> None:
        low, high = LINE_PEAK_RANGE_NM
        if self.peak_nm is None:
            raise ConfigError(path, key + "peak_nm", f"the line's claimed peak, a wavelength in {low:g}..{high:g} nm")
        if not low <= self.peak_nm <= high:
            raise ConfigError(path, key + "peak_nm", f"a wavelength in {low:g}..{high:g} nm", self.peak_nm)
        for name in ("tolerance_nm", "irradiance_tolerance_pct", "share_tolerance_pct"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ConfigError(path, key + name, "a tolerance >= 0", value)
        if self.irradiance_mw_cm2 is not None and self.irradiance_mw_cm2 <= 0:
            raise ConfigError(path, key + "irradiance_mw_cm2", "a value > 0", self.irradiance_mw_cm2)
        if self.share_pct is not None and not 0 < self.share_pct <= 100:
            raise ConfigError(path, key + "share_pct", "a percentage in (0, 100]", self.share_pct)
        if self.fwhm_nm is not None and not 5 <= self.fwhm_nm <= 80:
            raise ConfigError(path, key + "fwhm_nm", "a line width (FWHM) in 5..80 nm", self.fwhm_nm)


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
    lines: list[LineClaim] = field(default_factory=list)  # [[modes.claims.lines]]: any number of claimed lines

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
        if self.min_uniformity_ratio is not None and not 0 < self.min_uniformity_ratio <= 1:
            raise ConfigError(path, prefix + "min_uniformity_ratio", "a ratio lowest / highest irradiance in (0, 1]",
                              self.min_uniformity_ratio)
        if self.max_cv_pct is not None and not 0 <= self.max_cv_pct <= 100:
            raise ConfigError(path, prefix + "max_cv_pct", "a coefficient of variation in [0, 100] %",
                              self.max_cv_pct)
        if self.duty_pct is not None and not 0 < self.duty_pct <= 100:
            raise ConfigError(path, prefix + "duty_pct", "a percentage in (0, 100]", self.duty_pct)
        if not 20 <= self.surface_limit_c <= 80:
            raise ConfigError(path, prefix + "surface_limit_c", "a temperature in 20..80 C", self.surface_limit_c)
        for key in ("red_peak_tolerance_nm", "nir_peak_tolerance_nm", "irradiance_tolerance_pct",
                    "dose_tolerance_pct", "session_tolerance_s", "pulse_tolerance_pct", "duty_tolerance_pct"):
            if getattr(self, key) < 0:
                raise ConfigError(path, prefix + key, "a tolerance >= 0", getattr(self, key))
        self._validate_lines(path, prefix)

    def _validate_lines(self, path: str, prefix: str) -> None:
        if self.lines and (self.red_peak_nm is not None or self.nir_peak_nm is not None):
            raise ConfigError(path, prefix + "lines", "either [[...claims.lines]] for every line or red_peak_nm / "
                              "nir_peak_nm, not both (write the red and NIR peaks as lines too)")
        for index, line in enumerate(self.lines):
            line.validate(path, f"{prefix}lines[{index}].")
        peaks = sorted(float(line.peak_nm or 0.0) for line in self.lines)
        for a, b in zip(peaks, peaks[1:], strict=False):
            if b - a < 5.0:
                raise ConfigError(path, prefix + "lines", "claimed lines at least 5 nm apart", [a, b])
        shares = [line.share_pct for line in self.lines if line.share_pct is not None]
        if sum(shares) > 100.0 + 1e-9:
            raise ConfigError(path, prefix + "lines", "irradiance shares (share_pct) adding up to at most 100 %",
                              sum(shares))


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
