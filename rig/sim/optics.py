"""What the emulated spectral sensor sees: LED lines, averaged over an integration window."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np


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


def weighted_between(light: LightSource, starts_s: np.ndarray, ends_s: np.ndarray,
                     weight: Callable[[SpectralLine], float]) -> np.ndarray:
    """Per interval ``[starts_s[i], ends_s[i]]``: the sum over the light's lines of irradiance x ``weight(line)``
    (e.g. a channel's response): :meth:`LightSource.lines_between` interval by interval, or the source's own
    vectorised ``weighted_between`` when it has one (the simulated wrap: thousands of flicker samples)."""
    own = getattr(light, "weighted_between", None)
    if own is not None:
        return own(starts_s, ends_s, weight)
    return np.array([sum(line.irradiance_uw_cm2 * weight(line) for line in light.lines_between(a, b))
                     for a, b in zip(starts_s, ends_s, strict=True)], dtype=float)


class FixedLight:
    """A constant source: these lines, always (tests, calibration)."""

    def __init__(self, lines: list[SpectralLine] | None = None) -> None:
        self.lines = list(lines or [])

    def lines_between(self, t0_s: float, t1_s: float) -> list[SpectralLine]:
        return list(self.lines)
