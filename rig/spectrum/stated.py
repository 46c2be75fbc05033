"""The stated result: a batch's refined fit turned into one :class:`~rig.spectrum.model.Estimate` per row, with
its k=2 uncertainties (peak intervals with the calibration's floor, irradiance from the covariance, the accepted
set's spread and the scale's u), undetected lines absent or undetermined, and the claimed lines' groups and
columns when a plan names them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from rig.spectrum.grid_fit import Profile, interval
from rig.spectrum.model import (
    ABSENT_MW_CM2,
    ABSENT_SHARE,
    FIT_POOR_REDUCED_CHI2,
    LINE_SUFFIXES,
    NIR_LIGHT_NM,
    Calibration,
    Estimate,
    K,
    LineSpec,
)
from rig.spectrum.shapes import Grid

if TYPE_CHECKING:
    from rig.spectrum.final_fit import Layout
    from rig.spectrum.line_plan import LinePlan


def excluded(limit_mw_cm2: float, total_mw_cm2: float) -> bool:
    """An undetected line is *absent* when its k=2 upper limit excludes ``ABSENT_MW_CM2`` or ``ABSENT_SHARE`` of
    the light; otherwise it is *undetermined*: somewhere between 0 and that limit."""
    return limit_mw_cm2 < ABSENT_MW_CM2 or limit_mw_cm2 < ABSENT_SHARE * total_mw_cm2


class FitRows:
    """A batch's refined fit, turned into one :class:`Estimate` per row."""

    def __init__(self, line_grids: Sequence[Grid], present: Mapping[int, Profile], layout: Layout,
                 theta: np.ndarray, model: np.ndarray, cov: np.ndarray, reduced_chi2: np.ndarray, s2: np.ndarray,
                 limits: Mapping[str, np.ndarray], absent: Sequence[Grid], to_mw: float, calibration: Calibration,
                 plan: LinePlan | None, y: np.ndarray, reach: Mapping[str, np.ndarray] | None = None,
                 reach_total: Mapping[str, np.ndarray] | None = None, noise_share: np.ndarray | None = None):
        self.grids, self.present, self.layout, self.theta, self.cov = line_grids, present, layout, theta, cov
        self.reduced_chi2, self.s2, self.limits, self.absent = reduced_chi2, s2, limits, absent
        self.to_mw, self.calibration, self.plan = to_mw, calibration, plan
        # an undetermined line's upper limit anywhere in its reach, and the light it could hide from the total there
        self.reach, self.reach_total = reach or {}, reach_total or {}
        self.noise_share = noise_share  # rows x parameters: the share of each one's variance from counting noise
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
            value = float(theta[k + 1])
            if not (one_island or spec.resolved):  # two islands (880 vs 940 nm): the middle of the hull
                value = 0.5 * (low + high)
            # the interval's ends as the profile gives them, each side with the floor and the shape error; U is
            # the longer side (a symmetric bound), the ends keep a skewed profile's short side (near F8's top)
            band = band_of(spec)
            common = math.hypot(calibration.floor_nm(band), spec.shape_u_nm,
                                calibration.beyond_references_u_nm(band, value))
            below, above = math.hypot(max(value - low, 0.0), common), math.hypot(max(high - value, 0.0), common)
            put(result, f"{spec.name}_peak_nm", value)
            put(result, f"{spec.name}_peak_u_nm", max(below, above))
            put(result, f"{spec.name}_peak_low_nm", value - below)
            put(result, f"{spec.name}_peak_high_nm", value + above)
            if self.noise_share is not None:  # its noise part: the profile's RMS side x the linearised noise share
                share = min(max(float(self.noise_share[r, k + 1]), 0.0), 1.0)  # (never more than either side)
                noise_u = math.sqrt(share) * math.hypot(max(value - low, 0.0), max(high - value, 0.0)) / math.sqrt(2.0)
                put(result, f"{spec.name}_peak_noise_u_nm", min(noise_u, below, above))
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
        hidden: dict[str, float] = {}  # what an undetermined line could hide from the total (else its own limit)
        for g in self.absent:
            name = g.spec.name
            stat_u[name] = max(float(self.limits[name][r]), joint_mw.get(name, 0.0) / to_mw)
            if self.plan is None and not excluded(stat_u[name] * to_mw, sum(amplitudes.values()) * to_mw):
                undetermined.append(name)
                if name in self.reach:
                    hidden[name] = max(stat_u[name], float(self.reach_total[name][r]))
                    stat_u[name] = max(stat_u[name], float(self.reach[name][r]))
            elif name in self.reach:  # absent: up to its reach, as far as "absent" allows (below ABSENT_MW_CM2)
                stat_u[name] = max(stat_u[name], min(float(self.reach[name][r]), ABSENT_MW_CM2 / to_mw))
            result.flags.append(f"{name}_{'undetermined' if name in undetermined else 'absent'}")

        for name in amplitudes:  # a line not seen (absent or undetermined) reads 0, its U its k=2 upper limit
            value = amplitudes[name] * to_mw
            put(result, f"{name}_irradiance_mw_cm2", value)
            put(result, f"{name}_irradiance_u_mw_cm2", math.hypot(stat_u[name] * to_mw, scale_u * value))
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
        total_stat = math.sqrt(total_stat**2 + sum(hidden.get(name, stat_u[name]) ** 2 for name in unseen))
        result.irradiance_mw_cm2 = total * to_mw
        result.irradiance_u_mw_cm2 = math.hypot(total_stat * to_mw, scale_u * total * to_mw)
        return result


def put(result: Estimate, key: str, value: float | None) -> None:
    if key in Estimate.KEYS:
        setattr(result, key, value)
    else:
        result.lines[key] = value


def band_of(spec: LineSpec) -> str:
    """The peak floor a line takes: the red one below ``NIR_LIGHT_NM``, the NIR one from there on."""
    return spec.name if spec.name in ("red", "nir") else ("red" if spec.nominal[0] < NIR_LIGHT_NM else "nir")


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
            for suffix, v in (("peak_nm", centroid), ("peak_u_nm", reach), ("peak_low_nm", centroid - reach),
                              ("peak_high_nm", centroid + reach)):
                result.lines[f"{group}_{suffix}"] = v
        for member in members:
            for suffix in LINE_SUFFIXES:
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
        specs = [g.spec for g in line_grids if band_of(g.spec) == band]
        value = sum(amplitudes[s.name] for s in specs)
        u = math.sqrt(sum((stat_u[s.name] * to_mw) ** 2 for s in specs)) if specs else 0.0
        setattr(result, f"{band}_irradiance_mw_cm2", value * to_mw)
        setattr(result, f"{band}_irradiance_u_mw_cm2", math.hypot(u, scale_u_mw * value))
        unclaimed = f"unclaimed_{band}"
        setattr(result, f"{band}_peak_nm", result.lines.get(f"{unclaimed}_peak_nm"))
        for suffix in ("peak_u_nm", "peak_low_nm", "peak_high_nm", "peak_noise_u_nm"):
            setattr(result, f"{band}_{suffix}", result.lines.get(f"{unclaimed}_{suffix}"))
    result.flags = [f for f in result.flags if f not in ("red_absent", "nir_absent")]
    for band in ("red", "nir"):
        if not getattr(result, f"{band}_irradiance_mw_cm2"):
            result.flags.append(f"{band}_absent")
