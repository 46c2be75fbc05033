"""The estimate itself: from readings (raw counts) to an :class:`~rig.spectrum.model.Estimate` each.

:func:`estimate_many` runs every stage on a batch of readings at once (numpy over a leading row axis);
:func:`estimate` is the same for one reading. This module batches the readings, runs the grid stage and judges
which lines are present; :mod:`rig.spectrum.final_fit` refines the present lines and
:mod:`rig.spectrum.stated` states each row's values and uncertainties. The method is described in
:mod:`rig.spectrum`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
from threadpoolctl import ThreadpoolController

from rig.spectrum.final_fit import JointLimits, finish, place
from rig.spectrum.grid_fit import Profile, Significance, model_of, profiles, significance
from rig.spectrum.model import DETECT_Z, MIN_SHARE, WEAK_SNR, Calibration, Estimate
from rig.spectrum.shapes import Grid, Noise, channel_peaks, grids

if TYPE_CHECKING:
    from rig.spectrum.line_plan import LinePlan

BATCH_ROWS = 256  # readings fitted together (memory: a few MB per grid-stage array)


def estimate(counts: Sequence[float], gain_x: float, t_int_ms: float, calibration: Calibration,
             saturated: bool = False, full_scale: int | None = None, plan: LinePlan | None = None) -> Estimate:
    """Peaks and irradiance at the wrap surface from one reading.

    ``counts``: raw counts in the calibration's chip's channel order; ``gain_x``: one of the chip's nominal gains;
    ``t_int_ms``: integration time (ms); ``saturated``: the sensor's saturation flag; ``full_scale``:
    digital full scale (counts), if given any channel at or above it counts as saturated. A saturated
    reading is refused: the result has only the flag ``saturated``. ``plan``: the lines the claims name
    (:func:`rig.spectrum.line_plan.plan_lines`); without one the calibration's lines (red + NIR) are fitted.
    """
    raw = np.asarray(counts, dtype=float)
    channels = calibration.chip.channels
    if raw.shape != (len(channels),):
        raise ValueError(f"need {len(channels)} counts in the order {', '.join(channels)}, got {raw.shape}")
    return estimate_many(raw[None, :], [gain_x], [t_int_ms], calibration, [saturated], [full_scale], plan)[0]


def estimate_many(counts: Sequence[Sequence[float]] | np.ndarray, gain_x: Sequence[float],
                  t_int_ms: Sequence[float], calibration: Calibration, saturated: Sequence[bool] | None = None,
                  full_scale: Sequence[int | None] | None = None, plan: LinePlan | None = None
                  ) -> list[Estimate]:
    """:func:`estimate` for many readings (rows of ``counts``, one value per row in the other arguments), fitted
    together in batches of ``BATCH_ROWS``: the same result per row as one at a time, at a fraction of the cost."""
    raw = np.asarray(counts, dtype=float)
    channels = calibration.chip.channels
    if raw.ndim != 2 or raw.shape[1] != len(channels):
        raise ValueError(f"need rows of {len(channels)} counts in the order {', '.join(channels)}, got {raw.shape}")
    rows = len(raw)
    gain = np.asarray(gain_x, dtype=float).reshape(rows)
    t_int = np.asarray(t_int_ms, dtype=float).reshape(rows)
    bad = np.flatnonzero(~(t_int > 0))
    if len(bad):
        where = f" (row {bad[0]})" if rows > 1 else ""
        raise ValueError(f"integration time must be > 0 ms, got {float(t_int[bad[0]])!r}{where}")
    flagged = np.zeros(rows, bool) if saturated is None else np.asarray(saturated, dtype=bool).reshape(rows)
    limit = np.full(rows, np.inf) if full_scale is None else \
        np.array([np.inf if f is None else float(f) for f in full_scale])
    peak_counts = raw.max(axis=1)
    refused = flagged | (peak_counts >= limit) | (peak_counts >= calibration.chip.timing.counts_max)
    out: list[Estimate] = [Estimate(flags=["saturated"]) for _ in range(rows)]
    todo = np.flatnonzero(~refused)
    with _blas().limit(limits=1, user_api="blas"):  # small products: more threads only wait on each other
        for start in range(0, len(todo), BATCH_ROWS):
            batch = todo[start:start + BATCH_ROWS]
            place(out, batch, _estimate_batch(raw[batch], gain[batch], t_int[batch], calibration, plan))
    return out


@lru_cache(maxsize=1)
def _blas() -> ThreadpoolController:
    """The BLAS libraries numpy and scipy loaded, found once (limiting them is then cheap)."""
    return ThreadpoolController()


def _estimate_batch(raw: np.ndarray, gain_x: np.ndarray, t_int_ms: np.ndarray, calibration: Calibration,
                    plan: LinePlan | None) -> list[Estimate]:
    responsivity = calibration.table
    per_basic = np.array([calibration.gain_ratio(g) for g in gain_x]) * t_int_ms  # raw counts per basic count
    dark = np.asarray(calibration.dark_counts, dtype=float)
    y = (raw - dark) / per_basic[:, None]
    to_mw = calibration.scale / calibration.transmission / 1000.0  # uW/cm2 at the sensor -> mW/cm2 at the surface
    line_grids = grids(responsivity, plan.specs if plan is not None else calibration.lines)
    noise = Noise(per_basic, float(np.mean(dark)), calibration.model_u, channel_peaks(responsivity))
    rows = len(y)
    scale_u = np.hypot(calibration.scale_u_rel, [calibration.gain_u_rel(g) for g in gain_x])
    w = noise.weights(np.maximum(y, 0.0), np.zeros_like(y), np.zeros_like(y))
    weak = np.all(y * np.sqrt(noise.counting_weights(np.maximum(y, 0.0))) < WEAK_SNR, axis=1)  # no light to fit
    results: list[Estimate | None] = [None] * rows
    at = np.flatnonzero(weak)
    if len(at):
        place(results, at, finish(y[at], w[at], line_grids, {}, to_mw, calibration, scale_u[at], ["too_weak"],
                                  plan, noise=noise.take(at)))
    strong = np.flatnonzero(~weak)
    if len(strong):
        place(results, strong, _fit_lit(y[strong], w[strong], noise.take(strong), line_grids, to_mw, calibration,
                                        scale_u[strong], plan))
    return results  # type: ignore[return-value]


def _fit_lit(y: np.ndarray, w: np.ndarray, noise: Noise, line_grids: Sequence[Grid], to_mw: float,
             calibration: Calibration, scale_u: np.ndarray, plan: LinePlan | None) -> list[Estimate]:
    """Readings clearly above dark: grid profiles with every line, presence, then the present lines' fit."""
    everything = list(range(len(line_grids)))
    w = 1.0 / (1.0 / w + (0.1 * np.maximum(y, 0.0)) ** 2)  # first pass: a rough model error on the observed counts
    all_profiles = profiles(y, w, line_grids, everything)
    for _ in range(2):  # weights from the best model (not from the observed counts, which would bias weak readings)
        w = noise.weights(*model_of(line_grids, all_profiles))
        all_profiles = profiles(y, w, line_grids, everything)
    units = _units(line_grids, plan)
    seen = significance(y, w, line_grids, all_profiles, units)
    by_present: dict[tuple[int, ...], list[int]] = {}
    for row in range(len(y)):
        by_present.setdefault(_present(seen, row), []).append(row)
    results: list[Estimate | None] = [None] * len(y)
    for present, members in by_present.items():
        at = np.asarray(members)
        y_at, w_at = y[at], w[at]
        fitted = {i: p.take(at) for i, p in all_profiles.items()}
        joint = None
        if len(present) < len(line_grids):
            if plan is None:
                joint = _joint_limits(y_at, w_at, line_grids, fitted, present, to_mw, calibration, scale_u[at])
            fitted = profiles(y_at, w_at, line_grids, present)
            w_at = noise.take(at).weights(*model_of(line_grids, fitted))
            fitted = profiles(y_at, w_at, line_grids, present)
        place(results, at, finish(y_at, w_at, line_grids, fitted, to_mw, calibration, scale_u[at], [], plan,
                                  joint, noise.take(at)))
    return results  # type: ignore[return-value]


def _units(line_grids: Sequence[Grid], plan: LinePlan | None) -> list[tuple[int, ...]]:
    """Lines judged present or absent together: each group of the plan, every other line alone."""
    index = {g.spec.name: n for n, g in enumerate(line_grids)}
    groups = [tuple(index[m] for m in members if m in index) for _name, members in (plan.groups if plan else ())]
    groups = [group for group in groups if group]  # a group fitted as one line is a unit of its own
    grouped = {i for group in groups for i in group}
    return [*groups, *((n,) for n in range(len(line_grids)) if n not in grouped)]


def _present(seen: Mapping[tuple[int, ...], Significance], row: int) -> tuple[int, ...]:
    """One row's present lines, in the order they are fitted: units at least ``DETECT_Z`` sigma above 0 with
    ``MIN_SHARE`` of the light (else the most significant unit); a group's members with light."""
    amplitude = {u: float(s.amplitude[row]) for u, s in seen.items()}
    z = {u: float(s.z[row]) for u, s in seen.items()}
    total = max(sum(max(a, 0.0) for a in amplitude.values()), 1e-30)
    kept = [u for u in seen if z[u] >= DETECT_Z and amplitude[u] >= MIN_SHARE * total]
    if not kept:  # clearly above dark: keep the most significant line rather than report no light
        kept = [max(seen, key=z.get)]
    present: list[int] = []
    for unit in kept:  # a group's members: those with light (the sum is what is significant)
        members = {i: float(a[row]) for i, a in seen[unit].members.items()}
        present += [i for i, a in members.items() if a > 0] or [max(members, key=members.get)]
    return tuple(present)


def _joint_limits(y: np.ndarray, w: np.ndarray, line_grids: Sequence[Grid], all_profiles: Mapping[int, Profile],
                  present: Sequence[int], to_mw: float, calibration: Calibration, scale_u: np.ndarray) -> JointLimits:
    """k=2 upper limits (mW/cm2 at the surface) of each undetected line from the refinement with *every* line
    free (its value + k=2 uncertainty, which carries the correlation with the present lines' peaks and widths:
    the linearised limit, taken at the far-red fit, does not), for the rows asked."""

    def limits(rows: np.ndarray) -> list[dict[str, float]]:
        fitted = {i: p.take(rows) for i, p in all_profiles.items()}
        out = []
        for joint in finish(y[rows], w[rows], line_grids, fitted, to_mw, calibration, scale_u[rows], []):
            out.append({g.spec.name: (getattr(joint, f"{g.spec.name}_irradiance_mw_cm2") or 0.0)
                        + (getattr(joint, f"{g.spec.name}_irradiance_u_mw_cm2") or 0.0)
                        for n, g in enumerate(line_grids) if n not in present})
        return out

    return limits
