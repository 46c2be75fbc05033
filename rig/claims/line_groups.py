"""Claimed lines the sensor merges into a group are still judged, through what the group is measured as.

The estimate fits a group of unresolved claimed lines (:mod:`rig.spectrum.line_plan`) as the one LED-like line its light
looks like: its peak is the group's *light centre* (close to the irradiance-weighted centroid of the members),
with an interval like any single line's, and its irradiance the members' sum. The claims imply a range for both:

- centre: sum(w p) / sum(w) over the members (nearly: see below), each peak ``p`` anywhere in its claimed band
  and each weight ``w`` (share of the mode's light, %) in its claimed range: ``share_pct`` +/- its tolerance, or
  ``irradiance_mw_cm2`` +/- its tolerance over the claimed total, else anything from ``MIN_SHARE_PCT`` (a
  claimed line that carries less is absent: :data:`rig.claims.measures.ABSENT_SHARE`) to 100 %. The extremes of
  a weighted mean over a box lie at its corners, so the range is exact.
- total: the members' claimed irradiances (or shares) added up.

The light centre is the peak of the one line that best fits the members' sum, which is close to, not at, their
centroid (the channels are not linear in wavelength: 630 + 660 nm at 1:1 is fitted at about 646 nm, centroid 645);
for a group fitted as one line the range is therefore that fit's, over the same corners (:func:`fitted_range`, on
the chip's typical table), so the centre is compared with what the claimed mixes look like to the estimate.

A group whose measured centre (or total), with its whole U, lies outside that range cannot be what the claims
say: its members' claims FAIL, and the note names the line that is missing (the range with that line's weight
at 0 reaches the measurement) or shifted (with that line's peak anywhere near the group). Straddling the range:
MARGINAL. Inside it: the claims are consistent with the light, but the members' own values are not measured
(NOT MEASURED, the centre in the note): an honest wrap at the corners of its claims gives any centre in range.

:func:`robust_with_u` is how every claim combines a phase's readings.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from rig.chips import CHIPS, DEFAULT_CHIP, SpectralChip
from rig.claims.verdict import Verdict, judge
from rig.results.schema import number
from rig.spectrum.line_plan import ONE_LINE_BELOW_NM, one_line_peak
from rig.spectrum.model import ModelUncertainty
from rig.spectrum.responsivity import Responsivity

K = 2.0
MIN_SHARE_PCT = 10.0  # as rig.claims.measures.ABSENT_SHARE: a claimed line with less of the light than this is absent
SHIFT_REACH_NM = 50.0  # "shifted": the line's peak anywhere within this of the group's claimed bands
MAD_TO_SD = 1.4826  # normal distribution: standard deviation / median absolute deviation
MEDIAN_SE = 1.2533  # normal distribution: standard error of the median / standard error of the mean
LED_FWHM_NM = (15.0, 25.0)  # red LEDs' widths a claimed mix is fitted with (typically 15-30 nm)


def robust_with_u(values: Sequence[float], us: Sequence[float]) -> tuple[float, float]:
    """A phase's readings combined: their median, U (k=2) = the median per-reading U (systematic, does not
    average down) with twice the median's standard error from the readings' MAD. A few wild readings (a U of
    1000 among U of 5) move neither."""
    value, spread_u = _median_with_spread(values)
    typical_u = statistics.median(us) if us else 0.0
    return value, math.hypot(typical_u, spread_u)


def robust_interval(values: Sequence[float], lows: Sequence[float], highs: Sequence[float],
                    noises: Sequence[float] | None = None) -> tuple[float, float, float]:
    """As :func:`robust_with_u` for readings stated as k=2 intervals ``[low, high]`` around each value: the median
    value, and U below and above it (each side's median reading, with the median's spread).

    ``noises``: each reading's k=2 part from counting noise (``*_peak_noise_u_nm``), which averages over the
    readings. Each side keeps the rest (the calibration's and the model's terms, the same in every reading of a
    part) and adds the median's own noise. What is taken out is the smaller of the stated noise and the readings'
    own scatter (twice their sd, from the MAD; nothing for one reading), what is put back the larger, at the
    median's standard error: a linearised noise part that is too large, or too few readings to see it, never
    makes the interval narrower than the evidence."""
    value, spread_u = _median_with_spread(values)
    below = max(statistics.median(v - lo for v, lo in zip(values, lows, strict=True)), 0.0)
    above = max(statistics.median(hi - v for v, hi in zip(values, highs, strict=True)), 0.0)
    if not noises:
        return value, math.hypot(below, spread_u), math.hypot(above, spread_u)
    if len(values) < 2:  # one reading: its interval as stated
        return value, below, above
    stated = statistics.median(noises)
    seen = spread_u * math.sqrt(len(values)) / MEDIAN_SE  # twice the readings' sd (from their MAD)
    taken = min(stated, seen)
    averaged = max(stated, seen) * min(1.0, MEDIAN_SE / math.sqrt(len(values)))

    def side(u: float) -> float:
        return math.hypot(math.sqrt(max(u * u - taken * taken, 0.0)), averaged)

    return value, side(below), side(above)


def _median_with_spread(values: Sequence[float]) -> tuple[float, float]:
    """The median of ``values`` and twice its standard error (from their MAD; 0 for one value)."""
    value = statistics.median(values)
    if len(values) < 2:
        return value, 0.0
    spread = MAD_TO_SD * statistics.median(abs(v - value) for v in values)
    return value, K * MEDIAN_SE * spread / math.sqrt(len(values))


@dataclass(frozen=True)
class Member:
    """A group member as claimed: name, peak band (nm) and weight range (% of the mode's light)."""

    name: str
    peak_nm: float
    low_nm: float
    high_nm: float
    weight_pct: tuple[float, float]

    @property
    def label(self) -> str:
        return f"{self.peak_nm:g} nm"


@dataclass(frozen=True)
class GroupJudgement:
    """A member claim's verdict through its group: value and U (None: not shown), verdict and note."""

    value: float | None
    u: float | None
    verdict: Verdict
    note: str


def members_of(lines: Sequence[Any], names: Sequence[str], total_mw_cm2: float | None) -> list[Member]:
    """The claimed members (:class:`~rig.profile.LineClaim`) named in ``names``, as bands and weight ranges."""
    out = []
    for line in lines:
        if line.name not in names:
            continue
        weight = (MIN_SHARE_PCT, 100.0)
        if line.share_pct is not None:
            weight = (line.share_pct - line.share_tolerance_pct, line.share_pct + line.share_tolerance_pct)
        elif line.irradiance_mw_cm2 is not None and total_mw_cm2:
            pct = line.irradiance_tolerance_pct / 100.0
            weight = tuple(100.0 * line.irradiance_mw_cm2 * f / total_mw_cm2 for f in (1 - pct, 1 + pct))
        low, high = max(0.0, weight[0]), min(100.0, weight[1])
        out.append(Member(line.name, float(line.peak_nm), float(line.peak_nm) - line.tolerance,
                          float(line.peak_nm) + line.tolerance, (low, max(low, high))))
    return out


def centre_range(members: Sequence[Member], chip: SpectralChip = DEFAULT_CHIP) -> tuple[float, float]:
    """The lowest and highest light centre the claimed mix can give (nm), over its corners: a group fitted as one
    line, that fit's peak (:func:`fitted_range`); else (far-red, NIR: each member fitted) the weighted mean of the
    members' peaks, exact at the corners."""
    members = tuple(members)
    if len(members) > 1 and max(m.peak_nm for m in members) < ONE_LINE_BELOW_NM:
        return fitted_range(members, chip)
    lows, highs = [], []
    for weights in itertools.product(*(m.weight_pct for m in members)):
        total = sum(weights)
        if total <= 0:
            continue
        lows.append(sum(w * m.low_nm for w, m in zip(weights, members, strict=True)) / total)
        highs.append(sum(w * m.high_nm for w, m in zip(weights, members, strict=True)) / total)
    return (min(lows), max(highs)) if lows else (math.nan, math.nan)


@lru_cache(maxsize=64)
def fitted_range(members: tuple[Member, ...], chip: SpectralChip = DEFAULT_CHIP) -> tuple[float, float]:
    """The lowest and highest peak of the one line the estimate fits to the claimed mix (:func:`one_line_peak`
    on ``chip``'s typical table): every weight corner with the members' peaks all at the low (for the lowest) or
    all at the high end of their bands, each member's FWHM at either end of ``LED_FWHM_NM``. Close to the
    centroids' range, not at it: the channels are not linear in wavelength."""
    table, model_u = Responsivity.load(chip=chip), ModelUncertainty.of(chip)
    lows, highs = [], []
    for weights in itertools.product(*(m.weight_pct for m in members)):
        if sum(weights) <= 0:
            continue
        for widths in itertools.product(LED_FWHM_NM, repeat=len(members)):
            for out, peaks in ((lows, [m.low_nm for m in members]), (highs, [m.high_nm for m in members])):
                out.append(one_line_peak(table, model_u, [(p, fw, w) for p, fw, w in zip(peaks, widths, weights,
                                                                                          strict=True) if w > 0]))
    return (min(lows), max(highs)) if lows else (math.nan, math.nan)


def chip_of_row(row: dict[str, Any]) -> SpectralChip:
    """The chip whose channel columns a sample row has (the one with the most channels), else the default."""
    fits = [chip for chip in CHIPS.values() if all(c in row for c in chip.channels)]
    return max(fits, key=lambda chip: chip.n_channels) if fits else DEFAULT_CHIP


def _overlaps(span: tuple[float, float], value: float, u: float) -> bool:
    return span[0] <= value + u and value - u <= span[1]


def suspects(members: Sequence[Member], centre: float, u: float, chip: SpectralChip = DEFAULT_CHIP) -> list[str]:
    """What could explain a centre outside the claimed range: a line missing (its weight 0) or shifted (its
    peak anywhere within ``SHIFT_REACH_NM`` of the group's bands)."""
    reach = (min(m.low_nm for m in members) - SHIFT_REACH_NM, max(m.high_nm for m in members) + SHIFT_REACH_NM)
    found = []
    for n, m in enumerate(members):
        gone = [*members[:n], Member(m.name, m.peak_nm, m.low_nm, m.high_nm, (0.0, 0.0)), *members[n + 1:]]
        if _overlaps(centre_range(gone, chip), centre, u):
            found.append(f"the {m.label} line is missing")
            continue
        moved = [*members[:n], Member(m.name, m.peak_nm, *reach, m.weight_pct), *members[n + 1:]]
        if _overlaps(centre_range(moved, chip), centre, u):
            side = "shorter" if centre < centre_range(members, chip)[0] else "longer"
            found.append(f"the {m.label} line is shifted to {side} wavelengths")
    return found


def group_of(rows: Sequence[dict[str, Any]], name: str) -> tuple[str, list[str]] | None:
    """The group a claimed line was fitted in (from the row columns) and its members' names."""
    for key in rows[0] if rows else ():
        if key.startswith("group_") and key.endswith("_irradiance_mw_cm2"):
            group = key.removesuffix("_irradiance_mw_cm2")
            members = [f"line_{m}" for m in group.removeprefix("group_").split("_")]
            if name in members:
                return group, members
    return None


def _column(rows: Sequence[dict[str, Any]], key: str, u_key: str) -> tuple[float, float, int] | None:
    pairs = [(number(r.get(key)), number(r.get(u_key))) for r in rows]
    pairs = [(v, u or 0.0) for v, u in pairs if v is not None]
    if not pairs:
        return None
    value, u = robust_with_u([v for v, _ in pairs], [u for _, u in pairs])
    return value, u, len(pairs)


def shares(rows: Sequence[dict[str, Any]], group: str) -> list[dict[str, float]]:
    """Per row with a value, the line's (or group's) share of the total and its u, in percent."""
    out = []
    for row in rows:
        value, u = number(row.get(f"{group}_irradiance_mw_cm2")), number(row.get(f"{group}_irradiance_u_mw_cm2"))
        total = number(row.get("irradiance_mw_cm2"))
        if value is not None and total:
            out.append({"share": 100.0 * value / total, "u": 100.0 * (u or 0.0) / total})
    return out


def _verdict(low: float | None, high: float | None, value: float, u: float) -> Verdict:
    return judge(low, high, value, u)


def _absent(rows: Sequence[dict[str, Any]], group: str, claimed: str, unresolved: str) -> GroupJudgement | None:
    """A group detected in no row: FAIL when at most ``MIN_SHARE_PCT`` of the light could be in it (the
    group's k=2 upper limit), else NOT MEASURED (it could hide under the other lines)."""
    if not all(f"{group}_absent" in str(r.get("flags") or "").split(";") for r in rows):
        return None
    limits = [number(r.get(f"{group}_irradiance_u_mw_cm2")) or 0.0 for r in rows]
    totals = [number(r.get("irradiance_mw_cm2")) or 0.0 for r in rows]
    limit, total = statistics.median(limits), statistics.median(totals)
    said = f"{unresolved} ({group}): no {claimed} nm light detected in {len(rows)} samples (at most {limit:.2g} mW/cm2"
    if limit < MIN_SHARE_PCT / 100.0 * total:
        return GroupJudgement(None, None, Verdict.FAIL, f"{said}): the claimed lines are not there")
    return GroupJudgement(None, None, Verdict.NOT_MEASURED, f"{said}, which could hide under the other lines)")


def judge_member(rows: Sequence[dict[str, Any]], lines: Sequence[Any], total_mw_cm2: float | None, name: str,
                 what: str, unresolved: str) -> GroupJudgement | None:
    """The verdict of claimed line ``name``'s ``what`` claim (``peak_nm``, ``irradiance_mw_cm2`` or ``share_pct``)
    through its group's measured centre or total; None when the line was not fitted in a group."""
    found = group_of(rows, name)
    if found is None:
        return None
    group, names = found
    members = members_of(lines, names, total_mw_cm2)
    claimed = " + ".join(f"{m.peak_nm:g}" for m in members)
    if what == "peak_nm":
        measured = _column(rows, f"{group}_peak_nm", f"{group}_peak_u_nm")
        if measured is None:
            return _absent(rows, group, claimed, unresolved)
        centre, u, _n = measured
        chip = chip_of_row(rows[0])
        low, high = centre_range(members, chip)
        verdict = _verdict(low, high, centre, u)
        said = f"{unresolved} ({group}): their light centre is {centre:.1f} ± {u:.1f} nm"
        if verdict is Verdict.FAIL:
            side = "below" if centre < low else "above"
            why = " or ".join(suspects(members, centre, u, chip)) or "the claimed lines are not there"
            return GroupJudgement(centre, u, Verdict.FAIL, f"{said}, {side} what the claimed {claimed} nm lines and "
                                                           f"shares can give ({low:.1f}-{high:.1f} nm): {why}")
        band = f"the claimed {claimed} nm lines and shares give {low:.1f}-{high:.1f} nm"
        if verdict is Verdict.MARGINAL:
            outside = suspects(members, centre, u, chip) if not low <= centre <= high else []
            maybe = f": {'below' if centre < low else 'above'} it, {' or '.join(outside)}?" if outside else ""
            return GroupJudgement(centre, u, Verdict.MARGINAL, f"{said}; {band}{maybe}")
        return GroupJudgement(None, None, Verdict.NOT_MEASURED, f"{said}, consistent with the claims ({band}); "
                                                                "this line's own peak is not measured")
    if what == "irradiance_mw_cm2":
        claims = [line for line in lines if line.name in names and line.irradiance_mw_cm2 is not None]
        measured = _column(rows, f"{group}_irradiance_mw_cm2", f"{group}_irradiance_u_mw_cm2")
        low = sum(c.irradiance_mw_cm2 * (1 - c.irradiance_tolerance_pct / 100) for c in claims)
        high = sum(c.irradiance_mw_cm2 * (1 + c.irradiance_tolerance_pct / 100) for c in claims) \
            if len(claims) == len(names) else None
        unit = "mW/cm2"
    else:
        claims = [line for line in lines if line.name in names and line.share_pct is not None]
        measured = _column(shares(rows, group), "share", "u")
        low = sum(max(0.0, c.share_pct - c.share_tolerance_pct) for c in claims)
        high = sum(c.share_pct + c.share_tolerance_pct for c in claims) if len(claims) == len(names) else None
        unit = "%"
    if measured is None:
        return None
    value, u, _n = measured
    verdict = _verdict(low, high, value, u)
    span = f"{low:.3g}-{high:.3g}" if high is not None else f"at least {low:.3g}"
    said = f"{unresolved} ({group}): together {value:.3g} ± {u:.2g} {unit}, the claims add up to {span} {unit}"
    if verdict is Verdict.FAIL:
        return GroupJudgement(value, u, Verdict.FAIL, f"{said}: {'too little' if value < low else 'too much'} light "
                                                      f"in the {claimed} nm lines")
    if verdict is Verdict.MARGINAL:
        return GroupJudgement(value, u, Verdict.MARGINAL, said)
    return GroupJudgement(None, None, Verdict.NOT_MEASURED, f"{said}: consistent; this line's own value is not "
                                                            "measured")
