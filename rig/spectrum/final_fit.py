"""The refined fit of a batch's present lines: a bounded least squares from the grid's best point, its
covariance (the amplitudes' model terms relative to the scale's reference) and the upper limits of the lines not
detected; :class:`~rig.spectrum.stated.FitRows` then states one :class:`~rig.spectrum.model.Estimate` per row.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from rig.spectrum.grid_fit import Profile
from rig.spectrum.model import FAR_RED_NM, NIR_LIGHT_NM, RANK_RTOL, Calibration, Estimate, K, LineSpec
from rig.spectrum.referenced import amplitude_covariance
from rig.spectrum.refine import refine
from rig.spectrum.responsivity import Responsivity, out_of_band
from rig.spectrum.shapes import Grid, Noise, line_shapes
from rig.spectrum.stated import FitRows

if TYPE_CHECKING:
    from rig.spectrum.line_plan import LinePlan

# (rows of this batch) -> each row's upper limits (mW/cm2) of the undetected lines with every line free
JointLimits = Callable[[np.ndarray], list[dict[str, float]]]


def place(results: list, rows: np.ndarray, values: Sequence) -> None:
    """Put each of ``values`` at its row of ``results``."""
    for row, value in zip(rows, values, strict=True):
        results[row] = value


class Layout:
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


def finish(y: np.ndarray, w: np.ndarray, line_grids: Sequence[Grid], present: Mapping[int, Profile],
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
    layout = Layout(line_grids, present, calibration.table, rows)
    theta = layout.start
    if layout.lines:
        theta = refine(theta, layout.lower, layout.upper, layout.model_and_jacobian, y, sw)
    model, jac = layout.model_and_jacobian(theta, np.arange(rows))
    chi2 = np.einsum("rc,rc->r", (y - model) * sw, (y - model) * sw)
    weighted_jac = jac * sw[:, :, None]
    dof = np.maximum(1, calibration.chip.n_channels - effective_parameters(weighted_jac))
    s2 = np.maximum(1.0, chi2 / dof)
    cov = np.zeros((rows, 0, 0))
    noise_share = None
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
        if noise is not None:  # the weighted solve, and each parameter's variance from counting noise through it
            solve, counting_var = np.einsum("rpq,rcq,rc->rpc", cov, jac, w), 1.0 / noise.counting_weights(model)
            # each parameter's share of its linearised variance that is counting noise (its profile scales it)
            noise_share = np.einsum("rpc,rc,rpc->rp", solve, counting_var, solve) / np.maximum(
                np.einsum("rpp->rp", cov), 1e-300)
        referenced = None if noise is None else amplitude_covariance(
            calibration, solve, counting_var, amp,
            theta[:, [k + 1 for k in amp]], np.column_stack([theta[:, k + 2] if f else layout.held_fwhm[i]
                                                             for i, k, f in layout.lines]), theta[:, amp])
        if referenced is not None:  # the model terms relative to the scale's reference (they cancel there)
            cov[:, np.array(amp)[:, None], np.array(amp)[None, :]] = referenced
        cov = cov * s2[:, None, None]
    absent = [g for n, g in enumerate(line_grids) if n not in present]
    limits = upper_limits(y, sw, calibration.table, model, jac, [g.spec for g in absent], s2)
    reach: tuple[dict[str, np.ndarray], dict[str, np.ndarray]] = ({}, {})
    if plan is None and absent:  # undetermined lines' reach: their own limit and the total's
        reach = hidden_limits(y, sw, calibration.table, model, jac, [g.spec for g in absent], s2,
                              [k for _i, k, _f in layout.lines], theta[:, [k + 1 for _i, k, _f in layout.lines]],
                              noise)
    joint_mw: list[Mapping[str, float]] = [{}] * rows
    if joint is not None and absent:
        far_red = np.zeros(rows, bool)
        for _i, k, _f in layout.lines:
            far_red |= (FAR_RED_NM <= theta[:, k + 1]) & (theta[:, k + 1] < 760.0)
        asked = np.flatnonzero(far_red)
        if len(asked):
            place(joint_mw, asked, joint(asked))
    fit = FitRows(line_grids, present, layout, theta, model, cov, chi2 / dof, s2, limits, absent, to_mw,
                  calibration, plan, y, *reach, noise_share=noise_share)
    return [fit.row(r, flags, joint_mw[r], float(scale_u[r])) for r in range(rows)]


def effective_parameters(weighted_jac: np.ndarray) -> np.ndarray:
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


def upper_limits(y: np.ndarray, sw: np.ndarray, responsivity: Responsivity, model: np.ndarray, jac: np.ndarray,
                 absent: list[LineSpec], s2: np.ndarray) -> dict[str, np.ndarray]:
    """Per row, the k=2 upper limit (uW/cm2 at the sensor) of each absent line: a nominal line's free-sign
    amplitude, linearised around the present lines' fit."""
    if not absent:
        return {}
    out = {}
    for shapes in _limit_shapes(absent):
        coef, cov = _with_lines_free(y, sw, responsivity, model, jac * sw[:, :, None], shapes, s2)
        for n, spec in enumerate(absent):
            out[spec.name] = _k2_limits(coef, cov, jac.shape[2])[:, n]
    return out


def _k2_limits(coef: np.ndarray, cov: np.ndarray, first: int) -> np.ndarray:
    """Rows x lines: each free-sign line's (parameters from ``first`` on) k=2 upper limit, its amplitude clipped at
    0 plus twice its standard deviation."""
    return np.maximum(coef[:, first:], 0.0) + K * np.sqrt(np.maximum(np.einsum("rii->ri", cov)[:, first:], 0.0))


def _with_lines_free(y: np.ndarray, sw: np.ndarray, responsivity: Responsivity, model: np.ndarray,
                     weighted_jac: np.ndarray, shapes: Sequence[tuple[float, float]], s2: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray]:
    """The linearised fit's parameters and their covariance (rows x parameters) with one more free-sign line per
    shape (peak, FWHM) appended after the present lines' parameters (``weighted_jac``: rows x channels x
    parameters, already weighted)."""
    rows = len(y)
    nominal = np.column_stack([responsivity.line_response(*shape) for shape in shapes])  # channels x lines
    design = np.concatenate([weighted_jac, np.broadcast_to(nominal, (rows, *nominal.shape)) * sw[:, :, None]],
                            axis=2)
    solve = np.linalg.pinv(design, rcond=np.finfo(float).eps * max(design.shape[1:]))  # lstsq's default cutoff
    coef = np.einsum("rpc,rc->rp", solve, (y - model) * sw)
    cov = np.linalg.pinv(np.einsum("rcp,rcq->rpq", design, design)) * s2[:, None, None]
    return coef, cov


def hidden_limits(y: np.ndarray, sw: np.ndarray, responsivity: Responsivity, model: np.ndarray, jac: np.ndarray,
                  absent: list[LineSpec], s2: np.ndarray, amplitude_index: Sequence[int],
                  present_peaks_nm: np.ndarray, noise: Noise | None = None
                  ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Per row, for each absent line taken anywhere in its reach (:func:`_reach_shapes`): its k=2 upper limit
    (uW/cm2 at the sensor) as :func:`upper_limits` takes it, and the k=2 upper limit of the light it could hide
    from the *total*: freeing it moves the present lines' amplitudes too (a red line soaks up part of an 830 nm
    line's light through Clear), so the total misses only the net change and its extra variance. A reach shape
    closer than ``REACH_GAP_NM`` to a present line's peak (``present_peaks_nm``, rows x lines) is not taken in that
    row: the two are one light to the channels there, and its limit would be as large as that line.

    A limit asks how much light the line could have: the channels' model uncertainty is then the model's with
    that light in it (a part's NIR channel 20 % low at 810 nm hides 20 % of an 810 nm line), not the one without
    it. With ``noise``, each shape's limit is taken again with the weights at the present lines plus the absent
    ones at their limits (twice: the limit moves little the second time)."""
    rows = len(y)
    amp = list(amplitude_index)
    own = {spec.name: np.zeros(rows) for spec in absent}
    total = {spec.name: np.zeros(rows) for spec in absent}
    for shapes in _reach_shapes(absent):
        coef, cov, weighted = _at_limits(y, sw, responsivity, model, jac, shapes, s2, noise)
        present_cov = np.linalg.pinv(np.einsum("rcp,rcq->rpq", weighted, weighted)) * s2[:, None, None]
        present_var = present_cov[:, amp][:, :, amp].sum(axis=(1, 2)) if amp else np.zeros(rows)
        limits = _k2_limits(coef, cov, jac.shape[2])
        for n, spec in enumerate(absent):
            i = jac.shape[2] + n
            limit = limits[:, n]
            sel = [*amp, i]
            extra = cov[:, sel][:, :, sel].sum(axis=(1, 2)) - present_var
            hidden = np.maximum(coef[:, sel].sum(axis=1), 0.0) + K * np.sqrt(np.maximum(extra, 0.0))
            if shapes[n] != spec.nominal:
                close = np.any(np.abs(present_peaks_nm - shapes[n][0]) < REACH_GAP_NM, axis=1)
                limit, hidden = np.where(close, 0.0, limit), np.where(close, 0.0, hidden)
            own[spec.name] = np.maximum(own[spec.name], limit)
            total[spec.name] = np.maximum(total[spec.name], hidden)
    return own, total


def _at_limits(y: np.ndarray, sw: np.ndarray, responsivity: Responsivity, model: np.ndarray, jac: np.ndarray,
               shapes: Sequence[tuple[float, float]], s2: np.ndarray, noise: Noise | None
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_with_lines_free` for these shapes, with the weights (``sw``: their square roots) taken again at the
    lines' k=2 limits (the model uncertainty of their light added; no ``noise``: as given), and the present lines'
    weighted Jacobian under those weights."""
    weighted = jac * sw[:, :, None]
    coef, cov = _with_lines_free(y, sw, responsivity, model, weighted, shapes, s2)
    if noise is None:
        return coef, cov, weighted
    peaks, fwhms = np.array(shapes, float).T
    response, d_peak, _ = line_shapes(responsivity, peaks, fwhms)  # lines x channels
    leaking, _, _ = line_shapes(out_of_band(responsivity), peaks, fwhms)
    in_nir = (peaks >= NIR_LIGHT_NM)[:, None]
    empty = np.zeros_like(y)
    floor = 1.0 / noise.weights(empty, empty, empty)  # a dark reading's variance: counted once, in ``sw``
    for _ in range(2):
        amplitude = _k2_limits(coef, cov, jac.shape[2])  # rows x lines: each at its limit
        extra = 1.0 / noise.weights(amplitude @ response, amplitude @ d_peak, amplitude @ leaking, None,
                                    amplitude @ (response * in_nir), amplitude @ (leaking * in_nir)) - floor
        sw_at = 1.0 / np.sqrt(1.0 / sw**2 + np.maximum(extra, 0.0))
        weighted = jac * sw_at[:, :, None]
        coef, cov = _with_lines_free(y, sw_at, responsivity, model, weighted, shapes, s2)
    return coef, cov, weighted


def _limit_shapes(absent: Sequence[LineSpec]) -> list[list[tuple[float, float]]]:
    """Shapes an undetected line's upper limit is taken at, which decides absent or undetermined: its nominal shape.
    (Deciding at 830 nm as well left the NIR band undetermined beside 3 of 4 uncalibrated red lines, not half, and
    widened a red-only reading's total U 37 % -> 62 % after an irradiance-only calibration: not done. An
    undetermined line's *interval* reaches 830 and 810 nm instead, :func:`_reach_shapes`.)"""
    return [[spec.nominal for spec in absent]]


# an undetermined NIR line's reach (nm from its nominal peak): 830 and 810 nm, the common NIR LEDs nearest the red,
# whose light a red line soaks up through Clear; a reach shape closer than REACH_GAP_NM to a present line is one light
# with it to the channels (a 690 nm LED fitted at 694 nm and an 810 nm line): not taken there
REACH_SHIFTS_NM = (-20.0, -40.0)
REACH_GAP_NM = 130.0


def _reach_shapes(absent: Sequence[LineSpec]) -> list[list[tuple[float, float]]]:
    """Shapes an *undetermined* line's upper limit (the interval it is reported in) is taken at: its nominal one and,
    for an NIR line, ``REACH_SHIFTS_NM`` away from it within its search range: a red line soaks up an 810-830 nm
    line's light (both are seen through Clear), so the nominal limit there can be below the line. Whether the line
    is absent stays decided at its nominal shape (:func:`_limit_shapes`): the reach only widens the interval of a
    line already undetermined."""
    out = [[spec.nominal for spec in absent]]
    for shift in REACH_SHIFTS_NM:
        out.append([(min(max(spec.nominal[0] + shift, spec.peaks_nm[0]), spec.peaks_nm[1]), spec.nominal[1])
                    if spec.nominal[0] >= NIR_LIGHT_NM else spec.nominal for spec in absent])
    return out
