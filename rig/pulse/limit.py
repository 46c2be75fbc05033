"""What a capture could have seen: the highest frequency up to which full-depth PWM would have shown.

"Steady" is only said when it is earned. A capture that found no modulation
excludes 100 %-depth PWM (duty 10..90 %) only where some set of samples would
have shown it: the samples' variance in excess of their noise must then exceed
the detection threshold the analysis uses (:func:`rig.pulse.multirate.pooled_modulation`)
with margin. For on/off light of mean ``m`` counts at duty ``D``, seen through an
aperture of ``a`` seconds at frequency ``f``, the expected excess variance is
``m**2 * box_variance(D, a f)`` (the boxcar-averaged square wave's variance
over its squared mean, computed exactly below). At low light the short
apertures hold a few counts per sample and fast PWM hides in their noise: then
the capture says up to which frequency it could tell, never "steady" beyond it.

numpy only (runs on the Pi).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

COVER_DUTIES = (0.1, 0.3, 0.5, 0.7, 0.9)  # PWM duties the promise is made for
COVER_MAX_HZ = 25_000.0  # "steady" promises: no full-depth PWM up to this frequency
DETECT_SIGMAS = 7.0  # expected excess variance >= 5 sigma (the analysis' threshold) + 2 sigma (sure to cross it)
MIN_PERIODS = 2.5  # a set of bursts sees frequencies with this many periods in one burst
_PHASES = np.linspace(0.0, 1.0, 512, endpoint=False)


def box_variance(duty: float, aperture_periods: np.ndarray) -> np.ndarray:
    """Variance / mean**2 of a 0/1 square wave of ``duty``, averaged over a boxcar of ``aperture_periods``
    periods, over all phases (exact integral of the wave, sampled at 512 phases)."""
    u = np.asarray(aperture_periods, float)[:, None]

    def integral(t: np.ndarray) -> np.ndarray:  # of the wave from 0 to t (periods)
        whole, part = np.divmod(t, 1.0)
        return whole * duty + np.minimum(part, duty)

    values = (integral(_PHASES + u) - integral(_PHASES)) / u
    return values.var(axis=1) / duty ** 2


@lru_cache(maxsize=8)
def _frequency_grid(f_min_hz: float, f_max_hz: float) -> np.ndarray:
    """400 frequencies, log-spaced from ``f_min_hz`` to ``f_max_hz`` (read-only)."""
    grid = np.exp(np.linspace(math.log(f_min_hz), math.log(f_max_hz), 400))
    grid.flags.writeable = False
    return grid


@lru_cache(maxsize=256)
def _box_on_grid(duty: float, aperture_s: float, f_min_hz: float, f_max_hz: float) -> np.ndarray:
    """:func:`box_variance` over the frequency grid for one aperture (a capture uses a few apertures, every run
    the same ones: computed once)."""
    values = box_variance(duty, _frequency_grid(f_min_hz, f_max_hz) * aperture_s)
    values.flags.writeable = False
    return values


@dataclass(frozen=True)
class SampleSet:
    """Samples of one aperture: contiguous records of ``window_s``, ``n`` samples in all, their mean level
    (counts, dark-subtracted) and noise variance (counts**2, from the data)."""

    aperture_s: float
    window_s: float
    mean_counts: float
    noise_var: float
    n: int


def seen_up_to_hz(sets: Sequence[SampleSet], f_min_hz: float = 2.0, f_max_hz: float = COVER_MAX_HZ) -> float:
    """The highest frequency up to which every frequency from ``f_min_hz`` on is seen by some set, at every
    duty of :data:`COVER_DUTIES`; ``f_max_hz`` when all are (0 when not even ``f_min_hz`` is)."""
    grid = _frequency_grid(f_min_hz, f_max_hz)
    seen = np.zeros(grid.shape, bool)
    for s in sets:
        threshold = DETECT_SIGMAS * s.noise_var * math.sqrt(2.0 / max(s.n, 1))
        here = grid * s.window_s >= MIN_PERIODS
        for duty in COVER_DUTIES:
            here &= max(s.mean_counts, 0.0) ** 2 * _box_on_grid(duty, s.aperture_s, f_min_hz, f_max_hz) >= threshold
        seen |= here
    if seen.all():
        return f_max_hz
    first_gap = int(np.argmin(seen))
    return float(grid[first_gap - 1]) if first_gap > 0 else 0.0
