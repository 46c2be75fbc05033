"""What the emulated spectral sensor sees: LED lines, averaged over an integration window."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class SpectralLine:
    """One LED emission line: Gaussian of ``fwhm_nm`` around ``peak_nm``.

    ``irradiance_uw_cm2`` is the line's total (band-integrated) irradiance at the
    point it is given for: at the wrap surface, or at the sensor behind the jig's
    attenuator, as the producer's docstring says.
    """

    peak_nm: float
    fwhm_nm: float
    irradiance_uw_cm2: float


class LightSource(Protocol):
    """Anything that lights the sensor (the simulated wrap seen through the jig)."""

    def lines_between(self, t0_s: float, t1_s: float) -> list[SpectralLine]:
        """Lines at the sensor, each with its mean irradiance over ``[t0_s, t1_s]`` (simulated clock)."""


class FixedLight:
    """A constant source: these lines, always (tests, calibration)."""

    def __init__(self, lines: list[SpectralLine] | None = None) -> None:
        self.lines = list(lines or [])

    def lines_between(self, t0_s: float, t1_s: float) -> list[SpectralLine]:
        return list(self.lines)
