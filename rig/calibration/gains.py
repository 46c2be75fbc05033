"""Measured gain ratios: a steady source read at several gains tells this part's ratio of each gain to 64x.

The datasheet states each gain's ratio to 64x only to +/-5 %; a calibrated reading taken at another gain than
the irradiance scale's carries that error (:func:`rig.spectrum.responsivity.gain_ratio_u`). Readings of one
steady source (a *series*) at several gains measure it: per reading, the light per basic count summed over the
channels, ``S = sum_c (counts_c - dark_c) / (typical ratio x t_int)``, is the source's level times this part's
factor at that gain. In logs, ``ln S_i = level(series) + ln factor(gain)`` with ``ln factor(64x) = 0``: a
weighted least-squares fit over every series with two or more gains (weights from counting noise plus a
``DRIFT_U_REL`` floor for the source; the covariance scaled by the reduced chi-square when it is above 1).
A gain is measured when its series connect it to 64x; any other keeps factor 1 and the datasheet's u.

The series are stored raw (``gain_readings``, one series label each) and every stored irradiance or spectral
reference (one series per reference) joins them, so each ``rig calibrate`` step refits them all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rig.calibration.fit import Reading
from rig.chips import SpectralChip
from rig.spectrum.model import READ_NOISE_COUNTS
from rig.spectrum.responsivity import GAIN_RATIO_U_REL

DRIFT_U_REL = 0.002  # a steady source's reading-to-reading drift (standard, relative) on top of counting noise
MIN_SIGNAL_COUNTS = 200.0  # a reading whose channels sum to fewer counts above dark is too weak to weigh a gain


@dataclass(frozen=True)
class GainFit:
    """Per gain code of the chip: the factor (measured ratio vs 64x over the typical one), its standard relative u
    and whether it was measured (else 1 and the datasheet's u)."""

    factors: tuple[float, ...]
    u_rel: tuple[float, ...]
    measured: tuple[bool, ...]

    @property
    def any_measured(self) -> bool:
        return any(self.measured)


def _signal(reading: Reading, chip: SpectralChip, dark: np.ndarray) -> tuple[float, float] | None:
    """ln S of one reading and its variance (counting noise + drift), or None when saturated or too weak."""
    if reading.saturated:
        return None
    counts = np.asarray(reading.counts, float)
    above = float(np.sum(counts - dark))
    if above < MIN_SIGNAL_COUNTS:
        return None
    noise = float(np.sum(np.maximum(counts, 0.0) + READ_NOISE_COUNTS**2 + 1 / 12))
    per_basic = chip.gain_ratio(reading.gain_x) * reading.t_int_ms
    return float(np.log(above / per_basic)), noise / above**2 + DRIFT_U_REL**2


def fit_gain_factors(series: Sequence[Sequence[Reading]], chip: SpectralChip,
                     dark_counts: Sequence[float] | None = None) -> GainFit:
    """The factors of every gain the series connect to 64x (see the module)."""
    codes = chip.gain_codes_x
    dark = np.asarray(dark_counts, float) if dark_counts else np.zeros(chip.n_channels)
    rows: list[tuple[int, int, float, float]] = []  # (series, code, ln S, var)
    for s, readings in enumerate(series):
        taken = [(chip.gain_code(r.gain_x), _signal(r, chip, dark)) for r in readings]
        taken = [(code, got) for code, got in taken if got is not None]
        if len({code for code, _ in taken}) >= 2:
            rows += [(s, code, value, var) for code, (value, var) in taken]
    connected = _connected_to_64x(rows, codes)
    free = [c for c in range(len(codes)) if c in connected and codes[c] != 64.0]
    factors, u_rel = [1.0] * len(codes), [0.0 if g == 64.0 else GAIN_RATIO_U_REL for g in codes]
    measured = [g == 64.0 and bool(free) for g in codes]
    rows = [row for row in rows if row[1] in connected]
    if not free:
        return GainFit(tuple(factors), tuple(u_rel), tuple(measured))
    levels = sorted({s for s, *_ in rows})
    design = np.zeros((len(rows), len(levels) + len(free)))
    for i, (s, code, _value, _var) in enumerate(rows):
        design[i, levels.index(s)] = 1.0
        if code in free:
            design[i, len(levels) + free.index(code)] = 1.0
    z = np.array([value for _s, _c, value, _v in rows])
    w = 1.0 / np.array([var for *_rest, var in rows])
    normal = design.T @ (w[:, None] * design)
    cov = np.linalg.pinv(normal)
    theta = cov @ (design.T @ (w * z))
    residual = z - design @ theta
    dof = len(rows) - design.shape[1]
    if dof > 0:
        cov = cov * max(1.0, float(np.sum(w * residual**2)) / dof)
    for k, code in enumerate(free):
        factors[code] = float(np.exp(theta[len(levels) + k]))
        u_rel[code] = float(np.sqrt(max(cov[len(levels) + k, len(levels) + k], 0.0)))
        measured[code] = True
    return GainFit(tuple(factors), tuple(u_rel), tuple(measured))


def _connected_to_64x(rows: list[tuple[int, int, float, float]], codes: tuple[float, ...]) -> set[int]:
    """Gain codes linked to 64x through series that read both (each series links all its gains)."""
    if 64.0 not in codes:
        return set()
    by_series: dict[int, set[int]] = {}
    for s, code, _value, _var in rows:
        by_series.setdefault(s, set()).add(code)
    linked = {codes.index(64.0)}
    grew = True
    while grew:
        grew = False
        for members in by_series.values():
            if members & linked and not members <= linked:
                linked |= members
                grew = True
    return linked if len(linked) > 1 else set()


def sweep(sensor, count: int, min_fraction: float = 0.05, on_reading=None) -> list[Reading]:
    """``count`` raw readings of the light on ``sensor`` (a spectral driver: ``set_gain``, ``read_raw``) at every
    gain where it is neither saturated nor below ``min_fraction`` of full scale, at the sensor's integration time;
    ``on_reading`` sees each reading (the run's guard); the sensor's gain is restored after."""
    chip, before = sensor.chip, sensor.gain_x

    def read():
        reading = sensor.read_raw()
        if on_reading is not None:
            on_reading(reading)
        return reading

    out = []
    try:
        for gain in chip.gain_codes_x:
            sensor.set_gain(gain)
            first = read()
            if first.saturated or max(first.counts) < min_fraction * first.full_scale:
                continue
            readings = [first] + [read() for _ in range(count - 1)]
            out += [Reading(tuple(r.counts), r.gain_x, r.t_int_ms, r.saturated) for r in readings if not r.saturated]
    finally:
        sensor.set_gain(before)
    return out
