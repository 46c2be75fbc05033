"""The estimate itself: from readings (raw counts) to an :class:`~rig.spectrum.model.Estimate` each.

:func:`estimate_many` runs every stage on a batch of readings at once (numpy over a leading row axis);
:func:`estimate` is the same for one reading. The method is described in :mod:`rig.spectrum`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
from threadpoolctl import ThreadpoolController

from rig.spectrum.grid_fit import Profile, Significance, interval, model_of, profiles, significance
from rig.spectrum.model import (
    ABSENT_MW_CM2,
    ABSENT_SHARE,
    DETECT_Z,
    FAR_RED_NM,
    FIT_POOR_REDUCED_CHI2,
    MIN_SHARE,
    RANK_RTOL,
    WEAK_SNR,
    Calibration,
    Estimate,
    K,
    LineSpec,
)
from rig.spectrum.referenced import amplitude_covariance
from rig.spectrum.refine import refine
from rig.spectrum.responsivity import Responsivity
from rig.spectrum.shapes import Grid, Noise, channel_peaks, grids, line_shapes

if TYPE_CHECKING:
    from rig.spectrum.line_plan import LinePlan

BATCH_ROWS = 256  # readings fitted together (memory: a few MB per grid-stage array)

# (rows of this batch) -> each row's upper limits (mW/cm2) of the undetected lines with every line free
JointLimits = Callable[[np.ndarray], list[dict[str, float]]]


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
            _place(out, batch, _estimate_batch(raw[batch], gain[batch], t_int[batch], calibration, plan))
    return out


@lru_cache(maxsize=1)
def _blas() -> ThreadpoolController:
    """The BLAS libraries numpy and scipy loaded, found once (limiting them is then cheap)."""
    return ThreadpoolController()


def _estimate_batch(raw: np.ndarray, gain_x: np.ndarray, t_int_ms: np.ndarray, calibration: Calibration,
                    plan: LinePlan | None) -> list[Estimate]:
    responsivity = calibration.responsivity
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
        _place(results, at, _finish(y[at], w[at], line_grids, {}, to_mw, calibration, scale_u[at], ["too_weak"],
                                    plan, noise=noise.take(at)))
    strong = np.flatnonzero(~weak)
    if len(strong):
        _place(results, strong, _fit_lit(y[strong], w[strong], noise.take(strong), line_grids, to_mw, calibration,
                                         scale_u[strong], plan))
    return results  # type: ignore[return-value]


def _place(results: list, rows: np.ndarray, values: Sequence) -> None:
    for row, value in zip(rows, values, strict=True):
        results[row] = value


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
        _place(results, at, _finish(y_at, w_at, line_grids, fitted, to_mw, calibration, scale_u[at], [], plan,
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
        for joint in _finish(y[rows], w[rows], line_grids, fitted, to_mw, calibration, scale_u[rows], []):
            out.append({g.spec.name: (getattr(joint, f"{g.spec.name}_irradiance_mw_cm2") or 0.0)
                        + (getattr(joint, f"{g.spec.name}_irradiance_u_mw_cm2") or 0.0)
                        for n, g in enumerate(line_grids) if n not in present})
        return out

    return limits


def _excluded(limit_mw_cm2: float, total_mw_cm2: float) -> bool:
    """An undetected line is *absent* when its k=2 upper limit excludes ``ABSENT_MW_CM2`` or ``ABSENT_SHARE`` of
    the light; otherwise it is *undetermined*: somewhere between 0 and that limit."""
    return limit_mw_cm2 < ABSENT_MW_CM2 or limit_mw_cm2 < ABSENT_SHARE * total_mw_cm2


class _Layout:
    """The refined parameters of the present lines: per line amplitude (uW/cm2 at the sensor), peak, and FWHM
    when the line's width is fitted (else held at the grid's best, per row)."""

    def __init__(self, line_grids: Sequence[Grid], present: Mapping[int, Profile], responsivity: Responsivity,
                 rows: int):
        self.responsivity = responsivity
        self.lines: list[tuple[int, int, bool]] = []  # (line index, first parameter, width fitted)
        self.held_fwhm: dict[int, np.ndarray] = {}
        start, lower, upper = [], [], []
        at = np.arange(rows)
        for i, profile in present.items():
            spec, b = line_grids[i].spec, profile.best
            peaks = line_grids[i].unique_peaks_nm
            self.lines.append((i, len(start), spec.fit_width))
            start += [np.maximum(profile.amplitude[at, b], 1e-9), profile.grid.peaks_nm[b]]
            lower += [0.0, float(peaks[0])]
            upper += [np.inf, float(peaks[-1])]
            if spec.fit_width:
                start.append(profile.grid.fwhm_nm[b])
                lower.append(spec.fwhm_bounds_nm[0])
                upper.append(spec.fwhm_bounds_nm[1])
            else:
                self.held_fwhm[i] = profile.grid.fwhm_nm[b]
        self.start = np.column_stack(start) if start else np.zeros((rows, 0))
        self.lower, self.upper = np.asarray(lower, float), np.asarray(upper, float)

    def model_and_jacobian(self, theta: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n_channels = self.responsivity.chip.n_channels
        model = np.zeros((len(theta), n_channels))
        jac = np.zeros((len(theta), n_channels, theta.shape[1]))
        for i, k, fit_width in self.lines:
            fwhm = theta[:, k + 2] if fit_width else self.held_fwhm[i][rows]
            response, d_peak, d_fwhm = line_shapes(self.responsivity, theta[:, k + 1], fwhm)
            amplitude = theta[:, k, None]
            model += amplitude * response
            jac[:, :, k] = response
            jac[:, :, k + 1] = amplitude * d_peak
            if fit_width:
                jac[:, :, k + 2] = amplitude * d_fwhm
        return model, jac


def _finish(y: np.ndarray, w: np.ndarray, line_grids: Sequence[Grid], present: Mapping[int, Profile],
            to_mw: float, calibration: Calibration, scale_u: np.ndarray, flags: list[str],
            plan: LinePlan | None = None, joint: JointLimits | None = None, noise: Noise | None = None
            ) -> list[Estimate]:
    """Refine the present lines (the same for every row), state their uncertainties and upper limits for the
    undetected ones (absent or, without a plan, undetermined). ``joint``: the undetected lines' upper limits
    (mW/cm2) from the fit with every line free, taken when larger, when a present line is refined to beyond
    ``FAR_RED_NM``: only F8's tail, Clear and NIR see it there, as they see NIR light, so it can stand in for an
    NIR line."""
    rows = len(y)
    sw = np.sqrt(w)
    layout = _Layout(line_grids, present, calibration.responsivity, rows)
    theta = layout.start
    if layout.lines:
        theta = refine(theta, layout.lower, layout.upper, layout.model_and_jacobian, y, sw)
    model, jac = layout.model_and_jacobian(theta, np.arange(rows))
    chi2 = np.einsum("rc,rc->r", (y - model) * sw, (y - model) * sw)
    weighted_jac = jac * sw[:, :, None]
    dof = np.maximum(1, calibration.chip.n_channels - _effective_parameters(weighted_jac))
    s2 = np.maximum(1.0, chi2 / dof)
    cov = np.zeros((rows, 0, 0))
    if layout.lines:
        # a weak line's width is undetermined by the channels: linearised, it would range thousands of nm and its
        # correlation inflate the amplitude's variance tenfold. Its bounds (LED widths) are a prior: a uniform
        # one's variance, (upper - lower)^2 / 12, is added as information; a well-determined width is unchanged
        information = np.einsum("rcp,rcq->rpq", weighted_jac, weighted_jac)
        for _i, k, fit_width in layout.lines:
            if fit_width:
                information[:, k + 2, k + 2] += 12.0 / (layout.upper[k + 2] - layout.lower[k + 2]) ** 2
        cov = np.linalg.pinv(information)
        amp = [k for _i, k, _f in layout.lines]
        referenced = None if noise is None else amplitude_covariance(
            calibration, np.einsum("rpq,rcq,rc->rpc", cov, jac, w), 1.0 / noise.counting_weights(model), amp,
            theta[:, [k + 1 for k in amp]], np.column_stack([theta[:, k + 2] if f else layout.held_fwhm[i]
                                                             for i, k, f in layout.lines]), theta[:, amp])
        if referenced is not None:  # the model terms relative to the scale's reference (they cancel there)
            cov[:, np.array(amp)[:, None], np.array(amp)[None, :]] = referenced
        cov = cov * s2[:, None, None]
    absent = [g for n, g in enumerate(line_grids) if n not in present]
    limits = _upper_limits(y, sw, calibration.responsivity, model, jac, [g.spec for g in absent], s2)
    joint_mw: list[Mapping[str, float]] = [{}] * rows
    if joint is not None and absent:
        far_red = np.zeros(rows, bool)
        for _i, k, _f in layout.lines:
            far_red |= (FAR_RED_NM <= theta[:, k + 1]) & (theta[:, k + 1] < 760.0)
        asked = np.flatnonzero(far_red)
        if len(asked):
            _place(joint_mw, asked, joint(asked))
    fit = _Fit(line_grids, present, layout, theta, model, cov, chi2 / dof, s2, limits, absent, to_mw, calibration,
               plan, y)
    return [fit.row(r, flags, joint_mw[r], float(scale_u[r])) for r in range(rows)]


class _Fit:
    """A batch's refined fit, turned into one :class:`Estimate` per row."""

    def __init__(self, line_grids: Sequence[Grid], present: Mapping[int, Profile], layout: _Layout,
                 theta: np.ndarray, model: np.ndarray, cov: np.ndarray, reduced_chi2: np.ndarray, s2: np.ndarray,
                 limits: Mapping[str, np.ndarray], absent: Sequence[Grid], to_mw: float, calibration: Calibration,
                 plan: LinePlan | None, y: np.ndarray):
        self.grids, self.present, self.layout, self.theta, self.cov = line_grids, present, layout, theta, cov
        self.reduced_chi2, self.s2, self.limits, self.absent = reduced_chi2, s2, limits, absent
        self.to_mw, self.calibration, self.plan = to_mw, calibration, plan
        self.best = {i: p.best for i, p in present.items()}
        self.per_peak = {i: line_grids[i].per_peak(p.chi2) for i, p in present.items()}
        signal_rms = np.sqrt(np.mean(y**2, axis=1))
        with np.errstate(divide="ignore", invalid="ignore"):
            self.residual_rel = np.sqrt(np.mean((y - model) ** 2, axis=1)) / signal_rms
        self.signal = signal_rms > 0

    def row(self, r: int, flags: list[str], joint_mw: Mapping[str, float], scale_u_rel: float) -> Estimate:
        calibration, to_mw, grids, layout = self.calibration, self.to_mw, self.grids, self.layout
        theta, cov = self.theta[r], self.cov[r]
        order = layout.lines
        result = Estimate(flags=list(flags))
        if self.signal[r] and "too_weak" not in flags:
            result.residual_rel = float(self.residual_rel[r])
        if order and self.reduced_chi2[r] > FIT_POOR_REDUCED_CHI2:
            result.flags.append("fit_poor")

        scale_u = K * scale_u_rel
        amplitudes = {g.spec.name: 0.0 for g in grids}
        stat_u = {g.spec.name: 0.0 for g in grids}
        spreads = []
        threshold = K**2 * float(self.s2[r])
        for i, k, _fit_width in order:
            profile, spec = self.present[i], grids[i].spec
            low, high, one_island, accepted = interval(grids[i], profile.chi2[r], self.per_peak[i][r], threshold)
            peak = float(theta[k + 1])
            if one_island or spec.resolved:
                value, half = peak, max(peak - low, high - peak)
            else:  # two islands (880 vs 940 nm): the middle of the hull, with its half width
                value, half = 0.5 * (low + high), 0.5 * (high - low)
            _put(result, f"{spec.name}_peak_nm", value)
            _put(result, f"{spec.name}_peak_u_nm", math.hypot(half, calibration.floor_nm(_band_of(spec))))
            amplitudes[spec.name] = float(theta[k])
            any_accepted = bool(np.any(accepted))
            spread = float(np.max(np.abs(profile.amplitude[r][accepted] - theta[k]))) if any_accepted else 0.0
            stat_u[spec.name] = max(K * math.sqrt(max(cov[k, k], 0.0)), spread)
            if len(order) > 1 and any_accepted:
                total = profile.total[r]
                spreads.append(float(np.max(np.abs(total[accepted] - total[self.best[i][r]]))))
            if not spec.resolved and spec.flag_unresolved:
                result.flags.append(f"{spec.name}_unresolved")

        undetermined = []
        for g in self.absent:
            name = g.spec.name
            stat_u[name] = max(float(self.limits[name][r]), joint_mw.get(name, 0.0) / to_mw)
            if self.plan is None and not _excluded(stat_u[name] * to_mw, sum(amplitudes.values()) * to_mw):
                undetermined.append(name)
            result.flags.append(f"{name}_{'undetermined' if name in undetermined else 'absent'}")

        for name in amplitudes:
            value = amplitudes[name] * to_mw
            _put(result, f"{name}_irradiance_mw_cm2", value)
            _put(result, f"{name}_irradiance_u_mw_cm2", math.hypot(stat_u[name] * to_mw, scale_u * value))
        for name in undetermined:  # somewhere in [0, its upper limit]: the middle, its U reaching both ends
            _put(result, f"{name}_irradiance_mw_cm2", 0.5 * stat_u[name] * to_mw)
            _put(result, f"{name}_irradiance_u_mw_cm2", 0.5 * stat_u[name] * to_mw)
        if self.plan is not None:
            index = {grids[i].spec.name: k for i, k, _f in order}
            _groups(result, self.plan, index, theta, cov, stat_u, to_mw, scale_u)
            _plan_columns(result, self.plan, grids, to_mw * scale_u, amplitudes, stat_u, to_mw)
        total = sum(amplitudes.values())
        amplitude_index = [k for _i, k, _f in order]
        total_var = float(cov[np.ix_(amplitude_index, amplitude_index)].sum()) if order else 0.0
        total_stat = max(K * math.sqrt(max(total_var, 0.0)), max(spreads, default=0.0))
        if len(order) == 1:
            total_stat = stat_u[grids[order[0][0]].spec.name]
        # undetermined lines may be there up to their limit; absent ones only bound a reading with no line seen
        unseen = undetermined if order else [g.spec.name for g in self.absent]
        total_stat = math.sqrt(total_stat**2 + sum(stat_u[name] ** 2 for name in unseen))
        result.irradiance_mw_cm2 = total * to_mw
        result.irradiance_u_mw_cm2 = math.hypot(total_stat * to_mw, scale_u * total * to_mw)
        return result


def _effective_parameters(weighted_jac: np.ndarray) -> np.ndarray:
    """Per row, the parameters the channels actually constrain: the rank of the (column-normalised) weighted
    Jacobian, so lines the sensor cannot tell apart (two NIR lines) do not eat the degrees of freedom of the
    fit. A column of zeros (a line at 0) constrains nothing."""
    if weighted_jac.shape[2] == 0:
        return np.zeros(len(weighted_jac), int)
    norms = np.linalg.norm(weighted_jac, axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        scaled = np.where(norms > 0, weighted_jac / norms, 0.0)
    singular = np.linalg.svd(scaled, compute_uv=False)
    return np.sum(singular > RANK_RTOL * singular[:, :1], axis=1)


def _put(result: Estimate, key: str, value: float | None) -> None:
    if key in Estimate.KEYS:
        setattr(result, key, value)
    else:
        result.lines[key] = value


def _band_of(spec: LineSpec) -> str:
    """The peak floor a line takes: the red one below 740 nm, the NIR one above."""
    return spec.name if spec.name in ("red", "nir") else ("red" if spec.nominal[0] < 740 else "nir")


def _groups(result: Estimate, plan: LinePlan, index: Mapping[str, int], theta: np.ndarray, cov: np.ndarray,
            stat_u: Mapping[str, float], to_mw: float, scale_u: float) -> None:
    """Each group of unresolved claimed lines: the members' sum (U from their covariance and the absent members'
    upper limits) and centroid; the members' own columns emptied."""
    for group, members in plan.groups:
        if group in stat_u:  # fitted as one line (its own columns are set): the members' columns stay empty
            continue
        present = [m for m in members if m in index]
        ks = [index[m] for m in present]
        value = float(sum(theta[k] for k in ks))
        var = float(sum(cov[i, j] for i in ks for j in ks))
        stat = math.sqrt(K**2 * max(var, 0.0) + sum(stat_u[m] ** 2 for m in members if m not in index))
        result.lines[f"{group}_irradiance_mw_cm2"] = value * to_mw
        result.lines[f"{group}_irradiance_u_mw_cm2"] = math.hypot(stat * to_mw, scale_u * value * to_mw)
        peaks = [(theta[index[m]], result.lines[f"{m}_peak_nm"], result.lines[f"{m}_peak_u_nm"]) for m in present]
        if value > 0 and peaks:
            centroid = sum(a * p for a, p, _ in peaks) / value
            reach = max(abs(p - centroid) + (u or 0.0) for a, p, u in peaks)
            for spec in (s for s in plan.specs if s.name in members and s.name not in index):  # undetected:
                far = max(abs(spec.peaks_nm[0] - centroid), abs(spec.peaks_nm[1] - centroid))  # up to its limit
                reach += far * stat_u[spec.name] / (value + stat_u[spec.name])  # anywhere in its range
            result.lines[f"{group}_peak_nm"], result.lines[f"{group}_peak_u_nm"] = centroid, reach
        for member in members:
            for suffix in ("peak_nm", "peak_u_nm", "irradiance_mw_cm2", "irradiance_u_mw_cm2"):
                result.lines[f"{member}_{suffix}"] = None


def _plan_columns(result: Estimate, plan: LinePlan, line_grids: Sequence[Grid], scale_u_mw: float,
                  amplitudes: Mapping[str, float], stat_u: Mapping[str, float], to_mw: float) -> None:
    """Claimed lines merged in a group: no peak, no irradiance (flag ``<line>_unresolved``); the band sums
    in ``red_*`` / ``nir_*`` (peaks there only from an ``unclaimed_*`` line)."""
    for column in plan.columns:
        result.lines.setdefault(column, None)
    for member in plan.unresolved:
        result.flags.append(f"{member}_unresolved")
    for flag in [f for f in result.flags if f.endswith("_absent") and f.removesuffix("_absent") in plan.claimed]:
        result.lines[flag.replace("_absent", "_peak_nm")] = None
    for band in ("red", "nir"):
        specs = [g.spec for g in line_grids if _band_of(g.spec) == band]
        value = sum(amplitudes[s.name] for s in specs)
        u = math.sqrt(sum((stat_u[s.name] * to_mw) ** 2 for s in specs)) if specs else 0.0
        setattr(result, f"{band}_irradiance_mw_cm2", value * to_mw)
        setattr(result, f"{band}_irradiance_u_mw_cm2", math.hypot(u, scale_u_mw * value))
        unclaimed = f"unclaimed_{band}"
        setattr(result, f"{band}_peak_nm", result.lines.get(f"{unclaimed}_peak_nm"))
        setattr(result, f"{band}_peak_u_nm", result.lines.get(f"{unclaimed}_peak_u_nm"))
    result.flags = [f for f in result.flags if f not in ("red_absent", "nir_absent")]
    for band in ("red", "nir"):
        if not getattr(result, f"{band}_irradiance_mw_cm2"):
            result.flags.append(f"{band}_absent")


def _upper_limits(y: np.ndarray, sw: np.ndarray, responsivity: Responsivity, model: np.ndarray, jac: np.ndarray,
                  absent: list[LineSpec], s2: np.ndarray) -> dict[str, np.ndarray]:
    """Per row, the k=2 upper limit (uW/cm2 at the sensor) of each absent line: a nominal line's free-sign
    amplitude, linearised around the present lines' fit."""
    if not absent:
        return {}
    rows = len(y)
    target = (y - model) * sw
    out = {spec.name: np.zeros(rows) for spec in absent}
    for shapes in _limit_shapes(absent):  # the line could be anywhere in its range: the largest limit of a few
        nominal = np.column_stack([responsivity.line_response(*shape) for shape in shapes])  # 10 x absent
        design = np.concatenate([jac, np.broadcast_to(nominal, (rows, *nominal.shape))], axis=2) * sw[:, :, None]
        solve = np.linalg.pinv(design, rcond=np.finfo(float).eps * max(design.shape[1:]))  # lstsq's default cutoff
        coef = np.einsum("rpc,rc->rp", solve, target)
        cov = np.linalg.pinv(np.einsum("rcp,rcq->rpq", design, design)) * s2[:, None, None]
        for n, spec in enumerate(absent):
            i = jac.shape[2] + n
            limit = np.maximum(coef[:, i], 0.0) + K * np.sqrt(np.maximum(cov[:, i, i], 0.0))
            out[spec.name] = np.maximum(out[spec.name], limit)
    return out


def _limit_shapes(absent: Sequence[LineSpec]) -> list[list[tuple[float, float]]]:
    """Shapes an undetected line's upper limit is taken at: its nominal shape. (Taking the largest limit over its
    search range as well, 810 nm for NIR, removes the uncalibrated readings where a red line soaks up an 810-830 nm
    line's light, but leaves the NIR band undetermined beside most red lines on parts that leak much red light
    into the NIR channel, with a limit as large as the red: not done.)"""
    return [[spec.nominal for spec in absent]]
