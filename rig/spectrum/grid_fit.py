"""The grid stage of the estimate: non-negative linear fits of every grid line, profiles, significance.

Batched over readings: ``y`` and ``w`` are rows x 10 (basic counts, 1 / variance); a profile holds rows x
grid lines.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from rig.spectrum.model import NIR_LIGHT_NM
from rig.spectrum.shapes import Grid

SWEEPS = 3  # coordinate-descent sweeps over the lines' grids


def nnls(grid: Grid, others: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Non-negative weighted least squares of each row of ``y`` on each candidate line (``grid``'s lines) plus
    that row's fixed ``others`` (rows x m x 10). Exact for a few lines: the optimum is the best feasible
    unconstrained solution over all supports. Returns, rows x grid lines: the candidate's amplitude, all the
    lines' amplitude sum, and chi-square.

    Only the candidate varies along the grid, so each support of the others is inverted once per row and the
    candidate joins it by the Schur complement."""
    m = others.shape[1]
    if m <= 1:
        return _nnls_two(grid, others[:, 0] if m else None, y, w)
    wy = w * y
    yy = np.einsum("rc,rc->r", y, wy)
    fixed = others.transpose(0, 2, 1)  # rows x 10 x m
    g_ff = np.einsum("rcm,rc,rcn->rmn", fixed, w, fixed)
    b_f = np.einsum("rcm,rc->rm", fixed, wy)
    g_cf = grid.responses @ (w[:, :, None] * fixed)  # rows x grid x m
    a_cc = w @ grid.squared_t
    b_c = wy @ grid.responses_t
    best_chi2 = np.repeat(yy[:, None], len(grid.responses), axis=1)
    best_x = np.zeros((*best_chi2.shape, 1 + m))
    rows = len(y)
    for size in range(0, m + 1):
        for support in itertools.combinations(range(m), size):
            idx = list(support)
            cols = [i + 1 for i in idx]
            b_s = b_f[:, idx]
            inv = np.linalg.pinv(g_ff[:, idx][:, :, idx]) if idx else np.zeros((rows, 0, 0))
            alone = np.einsum("rij,rj->ri", inv, b_s)
            if idx:  # the others alone (the candidate at 0): the same for every grid line
                chi2_alone = yy - np.einsum("ri,ri->r", alone, b_s)
                better = np.all(alone >= 0, axis=1)[:, None] & (chi2_alone[:, None] < best_chi2)
                best_chi2 = np.where(better, chi2_alone[:, None], best_chi2)
                best_x[better] = 0.0
                best_x[..., cols] = np.where(better[..., None], alone[:, None, :], best_x[..., cols])
            g = g_cf[:, :, idx]
            t = g @ inv  # rows x grid x size
            with np.errstate(all="ignore"):
                x0 = (b_c - np.einsum("rgs,rs->rg", t, b_s)) / (a_cc - np.einsum("rgs,rgs->rg", t, g))
                xs = alone[:, None, :] - t * x0[..., None]
                chi2 = yy[:, None] - x0 * b_c - np.einsum("rgs,rs->rg", xs, b_s)
            ok = (x0 >= 0) & np.all(xs >= 0, axis=2) & np.isfinite(chi2) & (chi2 < best_chi2)
            best_chi2 = np.where(ok, chi2, best_chi2)
            best_x[ok] = 0.0
            best_x[..., 0] = np.where(ok, x0, best_x[..., 0])
            best_x[..., cols] = np.where(ok[..., None], xs, best_x[..., cols])
    return best_x[..., 0], best_x.sum(axis=2), np.maximum(best_chi2, 0.0)


def _nnls_two(grid: Grid, other: np.ndarray | None, y: np.ndarray, w: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`nnls` for one candidate and at most one fixed line (rows x 10), in closed form (the hot path).

    Both lines free: the candidate joins the other line by the Schur complement (``c``: its projection on the
    other line). Where that puts a line below zero, the better of either line alone."""
    wy = w * y
    yy = np.einsum("rc,rc->r", y, wy)[:, None]
    a11 = w @ grid.squared_t
    b1 = wy @ grid.responses_t
    if other is None:
        x1 = np.maximum(b1 / a11, 0.0)
        return x1, x1, np.maximum(yy - x1 * b1, 0.0)
    wo = w * other
    a12 = wo @ grid.responses_t
    a22 = np.einsum("rc,rc->r", other, wo)[:, None]
    b2 = np.einsum("rc,rc->r", other, wy)[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):  # rows x grid lines each: in place where possible
        per_a22 = 1.0 / a22
        alone2 = np.where(a22 > 0, np.maximum(b2 * per_a22, 0.0), 0.0)
        chi_other = yy - b2 * b2 * per_a22
        c = a12 * per_a22
        rest = np.multiply(c, a12)
        np.subtract(a11, rest, out=rest)
        b1_rest = np.multiply(c, b2, out=c)
        np.subtract(b1, b1_rest, out=b1_rest)
        x1 = np.divide(b1_rest, rest, out=rest)
        chi2 = np.multiply(b1_rest, x1, out=b1_rest)
        np.subtract(chi_other, chi2, out=chi2)
        x2 = np.multiply(a12, x1, out=a12)
        np.subtract(b2, x2, out=x2)
        x2 *= per_a22
    bad = np.flatnonzero(~((x1 >= 0) & (x2 >= 0) & np.isfinite(chi2)))
    if len(bad):
        rows = bad // a11.shape[1]
        b1_bad = b1.ravel()[bad]
        alone1 = np.maximum(b1_bad / a11.ravel()[bad], 0.0)
        chi_alone1 = yy[rows, 0] - alone1 * b1_bad
        chi_alone2 = (yy - alone2 * b2)[rows, 0]
        first = chi_alone1 <= chi_alone2
        np.put(x1, bad, np.where(first, alone1, 0.0))
        np.put(x2, bad, np.where(first, 0.0, alone2[rows, 0]))
        np.put(chi2, bad, np.minimum(chi_alone1, chi_alone2))
    return x1, x1 + x2, np.maximum(chi2, 0.0)


@dataclass
class Profile:
    """A line's grid profiles, one per row: chi-square and amplitudes per grid line, the other lines held at
    their best."""

    grid: Grid
    chi2: np.ndarray  # rows x grid lines
    amplitude: np.ndarray  # this line's
    total: np.ndarray  # all lines' amplitude sum per grid line

    @property
    def best(self) -> np.ndarray:
        """Rows: the grid line of the lowest chi-square."""
        return np.argmin(self.chi2, axis=1)

    def take(self, rows: np.ndarray) -> Profile:
        return Profile(self.grid, self.chi2[rows], self.amplitude[rows], self.total[rows])


def profiles(y: np.ndarray, w: np.ndarray, grids: Sequence[Grid], active: Sequence[int]) -> dict[int, Profile]:
    """Profiles of the ``active`` lines fitted together (coordinate descent over the lines' grids); a row stops
    when a sweep changes none of its lines' best grid line (further sweeps would repeat it)."""
    rows = len(y)
    none = np.zeros((rows, 0, y.shape[1]))
    best = {i: np.argmin(nnls(grids[i], none, y, w)[2], axis=1) for i in active}  # start: each alone
    out: dict[int, Profile] = {}
    moving = np.arange(rows)
    for sweep in range(SWEEPS):
        changed = np.zeros(len(moving), bool)
        for i in active:
            others = [grids[j].responses[best[j][moving]] for j in active if j != i]
            stacked = np.stack(others, axis=1) if others else none[moving]
            amplitude, total, chi2 = nnls(grids[i], stacked, y[moving], w[moving])
            if sweep == 0:
                out[i] = Profile(grids[i], chi2, amplitude, total)
            else:
                out[i].chi2[moving], out[i].amplitude[moving], out[i].total[moving] = chi2, amplitude, total
            new = np.argmin(chi2, axis=1)
            changed |= new != best[i][moving]
            best[i][moving] = new
        moving = moving[changed]
        if not len(moving):
            break
    return out


def interval(grid: Grid, chi2: np.ndarray, per_peak: np.ndarray, threshold: float
             ) -> tuple[float, float, bool, np.ndarray]:
    """One row's accepted peak interval (edges interpolated), whether it is one island, and the accepted grid
    lines (``chi2``: that row's profile, ``per_peak``: its :meth:`Grid.per_peak`)."""
    peaks = grid.unique_peaks_nm
    limit = float(per_peak.min()) + threshold
    inside = np.flatnonzero(per_peak <= limit)
    first, last = int(inside[0]), int(inside[-1])

    def edge(i: int, j: int) -> float:  # crossing of the limit between accepted i and rejected neighbour j
        if not 0 <= j < len(peaks):
            return float(peaks[i])
        fraction = (limit - per_peak[i]) / (per_peak[j] - per_peak[i])
        return float(peaks[i] + min(max(fraction, 0.0), 1.0) * (peaks[j] - peaks[i]))

    one_island = last - first + 1 == len(inside)
    return edge(first, first - 1), edge(last, last + 1), one_island, chi2 <= limit


def model_of(grids: Sequence[Grid], profiles: Mapping[int, Profile]
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per row: model, its d/dlambda, its out-of-band part, its tilt (model x distance from the tilt origin,
    per 100 nm), its NIR light's part (lines peaking from ``NIR_LIGHT_NM``) and that light's out-of-band part, at the
    profiles' best joint point."""
    rows = len(next(iter(profiles.values())).chi2)
    channels = grids[0].responses.shape[1]  # the table's chip's channels
    model, slope, oob, tilt, nir, oob_nir = (np.zeros((rows, channels)) for _ in range(6))
    at = np.arange(rows)
    for i, profile in profiles.items():
        b = profile.best
        amplitude = profile.amplitude[at, b]
        model += amplitude[:, None] * grids[i].responses[b]
        slope += amplitude[:, None] * grids[i].d_peak[b]
        oob += amplitude[:, None] * grids[i].oob_responses[b]
        tilt += amplitude[:, None] * grids[i].tilt_responses[b]
        in_nir = (amplitude * (grids[i].peaks_nm[b] >= NIR_LIGHT_NM))[:, None]
        nir += in_nir * grids[i].responses[b]
        oob_nir += in_nir * grids[i].oob_responses[b]
    return model, slope, oob, tilt, nir, oob_nir


@dataclass(frozen=True)
class Significance:
    """A unit's (a line, or a group of lines the sensor cannot tell apart) joint amplitude per row, its z-score
    (summed amplitude / its standard error, no goodness-of-fit scaling) and its members' amplitudes."""

    amplitude: np.ndarray  # rows
    z: np.ndarray  # rows
    members: dict[int, np.ndarray]  # line index -> rows


def significance(y: np.ndarray, w: np.ndarray, grids: Sequence[Grid], profiles: Mapping[int, Profile],
                 units: Sequence[tuple[int, ...]]) -> dict[tuple[int, ...], Significance]:
    """Each unit's :class:`Significance` from the joint linear fit at the profiles' best shapes."""
    order = list(profiles)
    design = np.stack([grids[i].responses[profiles[i].best] for i in order], axis=2)  # rows x 10 x n
    gram = np.einsum("rci,rc,rcj->rij", design, w, design)
    cov = np.linalg.pinv(gram)
    x = np.einsum("rij,rj->ri", cov, np.einsum("rci,rc->ri", design, w * y))
    position = {i: n for n, i in enumerate(order)}
    out = {}
    for unit in units:
        at = [position[i] for i in unit if i in position]
        if not at:
            continue
        amplitude = x[:, at].sum(axis=1)
        sd = np.sqrt(np.maximum(cov[:, at][:, :, at].sum(axis=(1, 2)), 1e-300))
        out[unit] = Significance(amplitude, amplitude / sd, {order[n]: x[:, n] for n in at})
    return out

