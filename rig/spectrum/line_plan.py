"""Which lines the estimate fits, from the lines a profile claims, and which of them this sensor can resolve.

Every claimed line becomes a fitted line (:class:`~rig.spectrum.LineSpec`) whose peak is free within its
*search range*: the claimed peak +/- (tolerance + ``SEARCH_MARGIN_NM``), cut at the midpoint to a neighbouring
claimed line so that two lines never search the same wavelengths. Light the claims do not name is fitted by a
catch-all line per band that has no claimed line (``unclaimed_red`` in 590-720 nm, ``unclaimed_nir`` in
760-960 nm, starting 40 nm above a claimed far-red line's range), so an unclaimed string shows up instead of
pulling a claimed line's peak.

**Resolvability rule** (:func:`separation_chi2`). Two neighbouring claimed lines are resolvable when their sum,
seen through the channels, cannot be mistaken for *one* LED-like line (FWHM 10-50 nm, its peak in either
line's search range): the best single-line fit to the two-line response (equal irradiance, and 1:3 / 3:1)
must leave a weighted chi-square of at least
``RESOLVE_CHI2``, the weights being the sensor's model uncertainty (:class:`~rig.spectrum.ModelUncertainty`:
sensitivity, filter centre, out-of-band; at high signal, where the counting noise no longer matters). A
calibrated sensor has a smaller model uncertainty and resolves closer lines. Lines that fail form a *group*
(``group_630nm_660nm``) by complete linkage (:func:`_clusters`): neighbouring groups merge only when every pair
across them fails, so a line between two resolvable ones never chains them. A group of red lines (all below
``ONE_LINE_BELOW_NM``) is fitted as the one LED-like line its light looks like: its peak is the group's light
centre, with a single line's interval; a far-red or NIR group keeps one line per member (width held) and
reports their sum and centroid. The members' own peaks and irradiances are not measured (flag
``line_630nm_unresolved``); :mod:`rig.claims.line_groups` judges their claims through the group. No pair is merged by
hand: NIR lines above 760 nm, seen only by the NIR and Clear channels, fail the rule by themselves (chi-square
below 1 for any two of 780-940 nm on the typical table).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np

from rig.spectrum.model import LINE_SUFFIXES, Estimate, LineSpec, ModelUncertainty
from rig.spectrum.responsivity import Responsivity

SEARCH_MARGIN_NM = 15.0
RESOLVE_CHI2 = 9.0  # the single-line alternative must be 3 sigma (of the model uncertainty) worse, as DETECT_Z
BANDS_NM = {"red": (590.0, 720.0), "nir": (760.0, 960.0)}
CATCH_ALL_GUARD_NM = {"red": 0.0, "nir": 40.0}  # far-red and NIR light look alike (Clear, NIR): keep them apart
NIR_ONLY_NM = 760.0  # above this only the NIR and Clear channels see a line (NIR-style fitted lines)
ONE_LINE_BELOW_NM = 720.0  # a group of lines all below this (seen by F5-F8) is fitted as the one line it looks like


@dataclass(frozen=True)
class ClaimedLine:
    """A claimed line as the estimator needs it: stable name, claimed peak and tolerance (nm)."""

    name: str
    peak_nm: float
    tolerance_nm: float


@dataclass(frozen=True)
class LinePlan:
    """The fitted lines and what each claimed line maps to.

    ``specs``: the fitted lines; ``groups``: (group name, its claimed members), lines not resolved;
    ``claimed``: the claimed lines' names in peak order.
    """

    specs: tuple[LineSpec, ...]
    claimed: tuple[str, ...]
    groups: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @property
    def unresolved(self) -> dict[str, str]:
        """Claimed line -> the group it is fitted in."""
        return {member: group for group, members in self.groups for member in members}

    @property
    def columns(self) -> list[str]:
        """The sample columns this plan adds: six per claimed line, per group and per catch-all line."""
        groups = [g for g, _ in self.groups]
        names = list(self.claimed) + groups + [s.name for s in self.specs if s.name not in {*self.claimed, *groups}]
        return [f"{n}_{suffix}" for n in names for suffix in LINE_SUFFIXES]




def line_columns(plan: LinePlan | None) -> list[str]:
    """All derived sample columns of a run with this plan (None: the default red + NIR estimate)."""
    return [*Estimate().as_dict(), *(plan.columns if plan else [])]


def _spec(name: str, low: float, high: float, coarse: bool = False) -> LineSpec:
    """A fitted line searched in ``low``..``high`` nm (``coarse``: a catch-all, on a 2 nm / 4 nm-width grid)."""
    nir = low >= NIR_ONLY_NM
    step = 2.0 if nir or coarse else 1.0
    high = max(high, low + step)
    middle = 0.5 * (low + high)
    if nir:
        return LineSpec(name, (low, high, step), (20.0, 30.0, 40.0, 50.0), (20.0, 50.0), False, (middle, 30.0),
                        resolved=False, flag_unresolved=False)
    widths = tuple(float(w) for w in range(10, 42, 4 if coarse else 2))
    return LineSpec(name, (low, high, step), widths, (10.0, 40.0), True, (middle, 20.0), flag_unresolved=False)


def _ranges(lines: Sequence[ClaimedLine]) -> list[tuple[float, float]]:
    out = []
    for n, line in enumerate(lines):
        reach = line.tolerance_nm + SEARCH_MARGIN_NM
        low, high = max(575.0, line.peak_nm - reach), min(1000.0, line.peak_nm + reach)
        if n > 0:
            low = max(low, 0.5 * (lines[n - 1].peak_nm + line.peak_nm))
        if n + 1 < len(lines):
            high = min(high, 0.5 * (lines[n + 1].peak_nm + line.peak_nm))
        out.append((float(np.floor(low)), float(np.ceil(high))))
    return out


def separation_chi2(responsivity: Responsivity, model_u: ModelUncertainty, a_nm: float, b_nm: float,
                    ranges_nm: Sequence[tuple[float, float]] | None = None) -> float:
    """Smallest weighted chi-square of one LED-like line (FWHM 10-50 nm, its peak in either line's search range
    ``ranges_nm``) fitted to lines at ``a_nm`` and ``b_nm`` (FWHM 20 nm red, 30 nm NIR), over irradiance ratios
    1:3, 1:1, 3:1; weights: the model uncertainty. Small: one line explains both, the pair is not resolved."""
    wa, wb = (30.0 if p >= NIR_ONLY_NM else 20.0 for p in (a_nm, b_nm))
    ra, rb = responsivity.line_response(a_nm, wa), responsivity.line_response(b_nm, wb)
    ranges_nm = ranges_nm or [(min(a_nm, b_nm) - 30.0, max(a_nm, b_nm) + 30.0)]
    peaks = np.concatenate([np.arange(lo, hi + 0.5, 1.0) for lo, hi in ranges_nm])
    singles = np.vstack([responsivity.line_responses(peaks, w) for w in np.arange(10.0, 51.0, 2.0)])
    channel_peaks = responsivity.matrix.max(axis=0)
    worst = np.inf
    for share in (0.25, 0.5, 0.75):
        y = share * ra + (1 - share) * rb
        slope = np.abs(share * (responsivity.line_response(a_nm + 0.5, wa) - responsivity.line_response(a_nm - 0.5, wa))
                       + (1 - share) * (responsivity.line_response(b_nm + 0.5, wb)
                                        - responsivity.line_response(b_nm - 0.5, wb)))
        # (a floor of 5 %: a spectral calibration states smaller per-channel terms with their correlations, which
        # this diagonal test does not carry; without it 660 + 730 nm is "resolved" and then misfitted)
        var = (np.maximum(np.asarray(model_u.rel), 0.05) * y) ** 2 + (np.asarray(model_u.shift_nm) * slope) ** 2 \
            + (np.asarray(model_u.oob) * channel_peaks) ** 2 + (1e-4 * y.max()) ** 2
        w = 1.0 / var
        amplitude = np.maximum((singles * w) @ y / ((singles**2) @ w), 0.0)
        chi2 = ((y[None, :] - amplitude[:, None] * singles) ** 2) @ w
        worst = min(worst, float(chi2.min()))
    return worst


@lru_cache(maxsize=16)
def _one_line_grid(responsivity: Responsivity, low_nm: float, high_nm: float) -> tuple[np.ndarray, np.ndarray]:
    """Peaks (nm, 0.5 nm steps in ``low_nm``..``high_nm``) and responses (one row per peak and FWHM 10-50 nm)."""
    peaks = np.arange(low_nm, high_nm + 0.01, 0.5)
    widths = np.arange(10.0, 51.0, 2.0)
    return np.tile(peaks, len(widths)), np.vstack([responsivity.line_responses(peaks, w) for w in widths])


def one_line_peak(responsivity: Responsivity, model_u: ModelUncertainty,
                  lines: Sequence[tuple[float, float, float]]) -> float:
    """The peak (nm) of the one LED-like line (FWHM 10-50 nm) that best fits the sum of ``lines`` (peak nm, FWHM
    nm, irradiance share) through the channels, weighted as :func:`separation_chi2`: where the estimate puts the
    light centre of a group it fits as one line. It is close to, not at, the lines' irradiance-weighted centroid
    (the channels are not linear in wavelength)."""
    low = round(min(p for p, _w, _s in lines)) - 30.0
    peaks, singles = _one_line_grid(responsivity, low, round(max(p for p, _w, _s in lines)) + 30.0)
    y = sum(s * responsivity.line_response(p, w) for p, w, s in lines)
    var = (np.maximum(np.asarray(model_u.rel), 0.05) * y) ** 2 \
        + (np.asarray(model_u.oob) * responsivity.matrix.max(axis=0)) ** 2 + (1e-4 * y.max()) ** 2
    w = 1.0 / var
    amplitude = np.maximum((singles * w) @ y / ((singles**2) @ w), 0.0)
    chi2 = ((y[None, :] - amplitude[:, None] * singles) ** 2) @ w
    return float(peaks[int(np.argmin(chi2))])


def claimed_lines(lines: Sequence) -> tuple[ClaimedLine, ...]:
    """From the profile's :class:`~rig.profile.LineClaim` list (anything with name, peak_nm, tolerance)."""
    return tuple(ClaimedLine(line.name, float(line.peak_nm), float(line.tolerance)) for line in lines)


def _clusters(lines: Sequence[ClaimedLine], ranges: Sequence[tuple[float, float]], responsivity: Responsivity,
              model_u: ModelUncertainty) -> list[list[int]]:
    """Neighbouring lines merged by complete linkage: two clusters of neighbours merge only when *every* pair
    across them is unresolved, the least separable pair first; so 660 + 730 + 850 nm never chains 660 with 850."""
    chi2 = {(a, b): separation_chi2(responsivity, model_u, lines[a].peak_nm, lines[b].peak_nm,
                                    [ranges[a], ranges[b]])
            for a in range(len(lines)) for b in range(a + 1, len(lines))}
    clusters = [[n] for n in range(len(lines))]
    while True:
        links = [(max(chi2[a, b] for a in left for b in right), n)
                 for n, (left, right) in enumerate(zip(clusters, clusters[1:], strict=False))]
        merge = [(link, n) for link, n in links if link < RESOLVE_CHI2]
        if not merge:
            return clusters
        _link, n = min(merge)
        clusters[n:n + 2] = [clusters[n] + clusters[n + 1]]


def _group_spec(name: str, low: float, high: float) -> LineSpec:
    """A group of unresolved lines fitted as the one LED-like line its light looks like: its peak is the
    group's light centre (close to the irradiance-weighted centroid), its width free in 10-50 nm (the single
    lines :func:`separation_chi2` tries)."""
    if low >= NIR_ONLY_NM:
        return _spec(name, low, high)
    widths = tuple(float(w) for w in range(10, 52, 4))
    return LineSpec(name, (low, high, 1.0), widths, (10.0, 50.0), True, (0.5 * (low + high), 30.0),
                    flag_unresolved=False)


@lru_cache(maxsize=32)
def plan_lines(claimed: tuple[ClaimedLine, ...], responsivity: Responsivity,
               model_u: ModelUncertainty | None = None) -> LinePlan:
    """The fitted lines for these claimed lines on a sensor with this table and model uncertainty (None: the
    table's chip's uncalibrated one)."""
    model_u = model_u if model_u is not None else ModelUncertainty.of(responsivity.chip)
    lines = sorted(claimed, key=lambda c: c.peak_nm)
    ranges = _ranges(lines)
    specs: list[LineSpec] = []
    groups = []
    for cluster in _clusters(lines, ranges, responsivity, model_u):
        if len(cluster) == 1:
            specs.append(_spec(lines[cluster[0]].name, *ranges[cluster[0]]))
            continue
        members = tuple(lines[n].name for n in cluster)
        name = "group_" + "_".join(m.removeprefix("line_") for m in members)
        groups.append((name, members))
        if lines[cluster[-1]].peak_nm < ONE_LINE_BELOW_NM:
            specs.append(_group_spec(name, ranges[cluster[0]][0], ranges[cluster[-1]][1]))
        else:  # far-red and NIR: each member in its own range, width held; the group reports their sum
            specs += [replace(_spec(lines[n].name, *ranges[n]), fit_width=False) for n in cluster]
    for band, (low, high) in BANDS_NM.items():
        if not any(low <= line.peak_nm <= high for line in lines):
            guard = CATCH_ALL_GUARD_NM[band]
            taken = [r for r in ranges if r[1] + guard > low and r[0] - guard < high]
            lo = max([low, *(r[1] + guard for r in taken if r[0] <= low + 1)])
            hi = min([high, *(r[0] - guard for r in taken if r[1] >= high - 1)])
            if hi - lo >= 30.0:
                specs.append(_spec(f"unclaimed_{band}", lo, hi, coarse=True))
    plan = LinePlan(tuple(specs), tuple(line.name for line in lines), tuple(groups))
    blends = {name: _blend_u_nm(plan, name, [line for line in lines if line.name in members], responsivity, model_u)
              for name, members in groups if any(s.name == name for s in specs)}
    if not blends:
        return plan
    return replace(plan, specs=tuple(replace(s, shape_u_nm=blends[s.name]) if s.name in blends else s
                                     for s in specs))


BLEND_SHARES = (1 / 3, 1.0, 3.0)  # a merged pair's irradiance ratios the one-line bias is taken over
BLEND_FWHM_NM = 20.0
BLEND_T_INT_MS = 100.0  # the noise-free readings: 100 uW/cm2 per line at the sensor, well above noise, unsaturated


def _blend_u_nm(plan: LinePlan, group: str, members: Sequence[ClaimedLine], responsivity: Responsivity,
                model_u: ModelUncertainty) -> float:
    """How far the one line a group is fitted as can sit from the members' irradiance-weighted centroid (the light
    centre its claims are judged by), from the line model itself: noise-free readings through ``responsivity``
    of the members at their claimed peaks and half a tolerance either side, first and last member at irradiance
    ratios 1:3 to 3:1, each fitted as the plan fits it; the largest distance. A blend of two LED lines is not one
    LED-like line, so this is a model error the fit's own interval does not see."""
    from rig.spectrum.estimator import estimate_many
    from rig.spectrum.model import Calibration

    chip = responsivity.chip
    gain_x = 64.0 if 64.0 in chip.gain_codes_x else float(chip.gain_codes_x[0])
    calibration = Calibration(responsivity, transmission=1.0, model_u=model_u)
    cases, readings = [], []
    half = (members[0].tolerance_nm / 2, members[-1].tolerance_nm / 2)
    offsets = [(0.0, 0.0)] + [(a * half[0], b * half[1]) for a, b in ((-1, 1), (1, -1), (-1, -1), (1, 1))]
    for (first, last), share in ((o, s) for o in offsets for s in BLEND_SHARES):
        peaks = [m.peak_nm for m in members]
        peaks[0] += first
        peaks[-1] += last
        weights = [1.0] * len(members)
        weights[-1] = share
        basic = sum(w * 100.0 * responsivity.line_response(p, BLEND_FWHM_NM) for w, p in zip(weights, peaks,
                                                                                                 strict=True))
        readings.append(basic * chip.gain_ratio(gain_x) * BLEND_T_INT_MS)
        cases.append(sum(w * p for w, p in zip(weights, peaks, strict=True)) / sum(weights))
    found = estimate_many(np.array(readings), [gain_x] * len(readings), [BLEND_T_INT_MS] * len(readings),
                          calibration, plan=plan)
    gaps = [abs(e.lines.get(f"{group}_peak_nm") - centroid) for e, centroid in zip(found, cases, strict=True)
            if e.lines.get(f"{group}_peak_nm") is not None]
    return float(max(gaps, default=0.0))
