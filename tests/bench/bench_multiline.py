"""Multi-line estimates driven by the claims, on simulated AS7341 units from the production spread (issue 15).

Physics stated by this benchmark: an *honest* wrap whose LED lines sit where the profile claims them, give or
take the LEDs' own bin (true peak = claimed +/- up to 4 nm, FWHM 18-22 nm red / 28-32 nm NIR), each line at
0.5-1.5x an equal share of the total, 5-120 mW/cm2 at the wrap surface behind a 5 % attenuator. Combinations:
630+660, 660+850, 630+660+850, 660+730 (far-red), 810+850+940. Every reading goes through rig's reader
(auto-range at 50 ms) and the register-level emulator of a unit drawn from the production spread (never the
estimator's table), uncalibrated and after ``calibrate spectral`` (630/660/850 nm references, as in
bench_spectrum_accuracy).

Per claimed line: how often its peak is measured (resolved by the plan), the peak's |error| median / p95 and
coverage (|error| <= stated U), the line irradiance's coverage; per reading, the line's verdict against its own
claim (claimed +/- tolerance), judged by ``check_claims`` on that reading alone: an honest wrap must never
FAIL. Asserted:
- no confident wrong peak: no reported peak outside its stated U by more than 3 nm;
- peak coverage >= 90 % over the measured lines; irradiance coverage >= 85 % over the measured lines;
- no honest line FAILs its peak claim;
- lines the plan merges are reported without a peak (NOT MEASURED), never with one; the merged group's
  irradiance covers the members' sum >= 85 %; the total irradiance covers the truth >= 90 %;
- the merged group's light centre covers the members' irradiance-weighted centroid >= 90 %; a red group's covers
  what the claims' range is in (:func:`rig.claims.line_groups.fitted_range`), the peak of the one line that best
  fits the true lines through the typical table, >= 93 %, with a U median <= 8 nm (a group's U: its stated
  interval's side facing the truth, as bench_spectrum_accuracy takes a peak's; a claim is judged on both ends).
"""

from __future__ import annotations

import itertools
import os
import time

import numpy as np
from bench_spectrum_accuracy import DARK, Jig, T, calibrate

from rig.claims.evidence import RunFacts
from rig.claims.judging import check_claims
from rig.claims.verdict import Verdict
from rig.profile import Claims, LineClaim
from rig.sim.sensor_unit import SensorSpread, SensorUnit
from rig.spectrum import Calibration, estimate
from rig.spectrum.line_plan import ONE_LINE_BELOW_NM, ClaimedLine, one_line_peak, plan_lines
from rig.spectrum.model import ModelUncertainty
from rig.spectrum.responsivity import Responsivity

QUICK = bool(os.environ.get("RIG_BENCH_QUICK"))
COMBOS = ((630.0, 660.0), (660.0, 850.0), (630.0, 660.0, 850.0), (660.0, 730.0), (810.0, 850.0, 940.0))
LEVELS = (5.0, 20.0, 120.0)
UNITS = 2 if QUICK else 4
DRAWS = 3 if QUICK else 6  # honest wraps per combination, level and unit
SPENT: dict[int, list[float]] = {}  # seconds per estimate, by number of claimed lines


def tolerance(peak: float) -> float:
    return 10.0 if peak < 740 else 20.0


def claims_of(combo: tuple[float, ...]) -> Claims:
    return Claims(lines=[LineClaim(p) for p in combo])


def claimed(combo: tuple[float, ...]) -> tuple[ClaimedLine, ...]:
    return tuple(ClaimedLine(f"line_{p:g}nm", p, tolerance(p)) for p in combo)


def honest_lines(rng: np.random.Generator, combo: tuple[float, ...], level: float, bin_nm: float = 4.0
                 ) -> list[tuple[float, float, float]]:
    """An honest wrap's lines (peak nm, FWHM nm, mW/cm2 at the surface): each within +/- ``bin_nm`` of its claim,
    FWHM 18-22 nm below 740 nm and 28-32 nm above, shares 0.5-1.5x equal, ``level`` mW/cm2 in all."""
    true = [(p + rng.uniform(-bin_nm, bin_nm), rng.uniform(18, 22) if p < 740 else rng.uniform(28, 32),
             rng.uniform(0.5, 1.5)) for p in combo]
    norm = level / sum(s for *_, s in true)
    return [(p, w, s * norm) for p, w, s in true]


def run_unit(k: int) -> dict[str, list[dict]]:
    unit = SensorUnit.draw(f"multiline-{k}", 300 + k, SensorSpread())
    rng = np.random.default_rng(7000 + k)
    jig = Jig(unit, seed=900 + k)
    out: dict[str, list[dict]] = {"uncal": [], "cal": []}
    try:
        nominal = Calibration(Responsivity.load(), transmission=T, dark_counts=DARK)
        cals = {"uncal": nominal, "cal": calibrate(jig, rng)}
        for combo in COMBOS:
            plans = {tag: plan_lines(claimed(combo), c.responsivity, c.model_u) for tag, c in cals.items()}
            for level in LEVELS:
                for _ in range(DRAWS):
                    lines = honest_lines(rng, combo, level)
                    r = jig.read(lines)
                    for tag, cal in cals.items():
                        start = time.perf_counter()
                        e = estimate(r.counts, r.gain_x, r.t_int_ms, cal, r.saturated, r.full_scale, plan=plans[tag])
                        SPENT.setdefault(len(combo), []).append(time.perf_counter() - start)
                        merged = set(plans[tag].unresolved)
                        row = {**e.as_dict(), "phase_kind": "measure", "wrap_on": True, "position": ""}
                        checks = {c.claim_id: c.verdict for c in check_claims(claims_of(combo), [row], RunFacts())}
                        truth = {f"line_{c:g}nm": mw for (_p, _w, mw), c in zip(lines, combo, strict=True)}
                        groups = plans[tag].unresolved
                        for (p, _w, mw), claim in zip(lines, combo, strict=True):
                            name = f"line_{claim:g}nm"
                            group = groups.get(name)
                            group_mw = sum(v for k, v in truth.items() if groups.get(k) == group) if group else None
                            in_group = [(pp, mm) for (pp, _ww, mm), cc in zip(lines, combo, strict=True)
                                        if group and groups.get(f"line_{cc:g}nm") == group]
                            centroid = sum(pp * mm for pp, mm in in_group) / sum(mm for _pp, mm in in_group) \
                                if in_group else None
                            out[tag].append({
                                "combo": "+".join(f"{c:g}" for c in combo), "line": claim, "true": p, "mw": mw,
                                "merged": name in merged, "peak": e.lines.get(f"{name}_peak_nm"),
                                "peak_u": e.lines.get(f"{name}_peak_u_nm"),
                                "irr": e.lines.get(f"{name}_irradiance_mw_cm2"),
                                "irr_u": e.lines.get(f"{name}_irradiance_u_mw_cm2"),
                                "total": e.irradiance_mw_cm2, "total_u": e.irradiance_u_mw_cm2, "level": level,
                                "fit_poor": "fit_poor" in e.flags, "verdict": checks[f"{name}_peak_nm"],
                                "group_mw": group_mw,
                                "group_irr": e.lines.get(f"{group}_irradiance_mw_cm2") if group else None,
                                "group_u": e.lines.get(f"{group}_irradiance_u_mw_cm2") if group else None,
                                "centroid": centroid,
                                "centre": e.lines.get(f"{group}_peak_nm") if group else None,
                                "centre_u": e.lines.get(f"{group}_peak_u_nm") if group else None,
                                "centre_low": e.lines.get(f"{group}_peak_low_nm") if group else None,
                                "centre_high": e.lines.get(f"{group}_peak_high_nm") if group else None,
                                "one_line": one_line_centre(lines, combo, groups, group) if group else None})
    finally:
        jig.close()
    return out


def one_line_centre(lines: list[tuple[float, float, float]], combo: tuple[float, ...], groups: dict[str, str],
                    group: str) -> float | None:
    """What the claims' range for a red group is in (rig.claims.line_groups.fitted_range): the peak of the one line
    that best fits the group's true lines through the typical table; None for a far-red/NIR group (centroid)."""
    members = [(p, w, mw) for (p, w, mw), c in zip(lines, combo, strict=True) if groups.get(f"line_{c:g}nm") == group]
    if max(c for c in combo if groups.get(f"line_{c:g}nm") == group) >= ONE_LINE_BELOW_NM:
        return None
    table = Responsivity.load()
    return one_line_peak(table, ModelUncertainty.of(table.chip), members)


def summary(rows: list[dict]) -> dict[str, float]:
    measured = [r for r in rows if r["peak"] is not None]
    err = np.array([abs(r["peak"] - r["true"]) for r in measured])
    u = np.array([r["peak_u"] for r in measured])
    irr = [r for r in measured if r["irr"] is not None]
    irr_cover = [abs(r["irr"] - r["mw"]) <= r["irr_u"] for r in irr]
    verdicts = [r["verdict"] for r in rows]
    grouped = [abs((r["group_irr"] or 0.0) - r["group_mw"]) <= (r["group_u"] or 0.0) for r in rows if r["merged"]]
    totals = [abs(r["total"] - r["level"]) <= r["total_u"] for r in rows if r["total"] is not None]
    centres = [(abs(r["centre"] - r["centroid"]), facing(r, r["centroid"])) for r in rows
               if r["merged"] and r["centre"] is not None]
    centre_err = np.array([e for e, _ in centres])
    centre_u = np.array([u for _, u in centres])
    fitted = [(abs(r["centre"] - r["one_line"]), facing(r, r["one_line"])) for r in rows
              if r["merged"] and r["centre"] is not None and r["one_line"] is not None]
    fitted_err = np.array([e for e, _ in fitted])
    fitted_u = np.array([u for _, u in fitted])
    return {
        "n": len(rows), "measured": len(measured) / len(rows) if rows else np.nan,
        "med": float(np.median(err)) if len(err) else np.nan,
        "p95": float(np.percentile(err, 95)) if len(err) else np.nan,
        "u_med": float(np.median(u)) if len(u) else np.nan,
        "cover": float(np.mean(err <= u)) if len(err) else np.nan,
        "wrong": int(np.sum(err > u + 3.0)) if len(err) else 0,
        "irr_cover": float(np.mean(irr_cover)) if irr_cover else np.nan,
        "total_cover": float(np.mean(totals)) if totals else np.nan,
        "group_cover": float(np.mean(grouped)) if grouped else np.nan,
        "pass": sum(v is Verdict.PASS for v in verdicts) / len(rows) if rows else np.nan,
        "fail": sum(v is Verdict.FAIL for v in verdicts),
        "nm": sum(v is Verdict.NOT_MEASURED for v in verdicts) / len(rows) if rows else np.nan,
        "merged_with_peak": sum(1 for r in rows if r["merged"] and r["peak"] is not None),
        "fit_poor": sum(r["fit_poor"] for r in rows),
        "centre_med": float(np.median(centre_err)) if len(centre_err) else np.nan,
        "centre_p95": float(np.percentile(centre_err, 95)) if len(centre_err) else np.nan,
        "centre_u_med": float(np.median(centre_u)) if len(centre_u) else np.nan,
        "centre_cover": float(np.mean(centre_err <= centre_u)) if len(centre_err) else np.nan,
        "fitted_med": float(np.median(fitted_err)) if len(fitted_err) else np.nan,
        "fitted_p95": float(np.percentile(fitted_err, 95)) if len(fitted_err) else np.nan,
        "fitted_cover": float(np.mean(fitted_err <= fitted_u)) if len(fitted_err) else np.nan,
    }


def facing(row: dict, truth: float) -> float:
    """A merged group's stated k=2 interval on the side facing ``truth`` (its ends keep a skewed profile's short
    side; a claim is judged on both), as bench_spectrum_accuracy takes a peak's U; the longer side without ends."""
    if row["centre_low"] is None or row["centre_high"] is None:
        return row["centre_u"]
    return row["centre"] - row["centre_low"] if truth < row["centre"] else row["centre_high"] - row["centre"]


def test_multiline_table_on_production_units():
    rows: dict[str, list[dict]] = {"uncal": [], "cal": []}
    for k in range(UNITS):
        for tag, got in run_unit(k).items():
            rows[tag] += got
    head = (f"{'combination / line':<26}{'':>6}{'n':>5} {'measured':>8} | {'|err| med':>9} {'p95':>6} {'U med':>6} "
            f"{'cover':>6} {'wrong':>5} | {'irr cover':>9} {'group cover':>11} "
            f"{'total cover':>11} | {'PASS':>6} {'NOT M':>6} {'FAIL':>4} "
            f"{'fit_poor':>8}")
    print(f"\nmulti-line estimates on {UNITS} production units (k=2), honest wraps, {LEVELS} mW/cm2, T = {T}")
    print(head + "\n" + "-" * len(head))
    for combo in COMBOS:
        name = "+".join(f"{c:g}" for c in combo)
        for line in combo:
            for tag in ("uncal", "cal"):
                s = summary([r for r in rows[tag] if r["combo"] == name and r["line"] == line])
                print(f"{name + ' / ' + f'{line:g}':<26}{tag:>6}{s['n']:>5} {s['measured']:>8.0%} | "
                      f"{s['med']:>9.2f} {s['p95']:>6.2f} {s['u_med']:>6.2f} {s['cover']:>6.1%} {s['wrong']:>5} | "
                      f"{s['irr_cover']:>9.1%} {s['group_cover']:>11.1%} {s['total_cover']:>11.1%} | "
                      f"{s['pass']:>6.0%} {s['nm']:>6.0%} "
                      f"{s['fail']:>4} {s['fit_poor']:>8}")
    for tag in ("uncal", "cal"):
        s = summary(rows[tag])
        print(f"{'all':<26}{tag:>6}{s['n']:>5} {s['measured']:>8.0%} | {s['med']:>9.2f} {s['p95']:>6.2f} "
              f"{s['u_med']:>6.2f} {s['cover']:>6.1%} {s['wrong']:>5} | {s['irr_cover']:>9.1%} "
              f"{s['group_cover']:>11.1%} {s['total_cover']:>11.1%} | {s['pass']:>6.0%} {s['nm']:>6.0%} "
              f"{s['fail']:>4} {s['fit_poor']:>8}")
    print("\nmerged groups' light centre (the group's one-line peak) against the members' irradiance-weighted "
          "centroid:")
    for combo in COMBOS:
        name = "+".join(f"{c:g}" for c in combo)
        for tag in ("uncal", "cal"):
            s = summary([r for r in rows[tag] if r["combo"] == name])
            if s["centre_med"] == s["centre_med"]:
                print(f"{name:<26}{tag:>6} |err| med {s['centre_med']:5.2f} p95 {s['centre_p95']:5.2f} nm, U med "
                      f"{s['centre_u_med']:6.2f} nm, inside U {s['centre_cover']:6.1%}" + (
                          f"; against the true light's one-line fit (what the claims' range is in): |err| med "
                          f"{s['fitted_med']:5.2f} p95 {s['fitted_p95']:5.2f} nm, inside U {s['fitted_cover']:6.1%}"
                          if s["fitted_med"] == s["fitted_med"] else ""))
    print("estimate: " + ", ".join(f"{n} claimed lines {1000 * np.mean(t):.1f} ms" for n, t in sorted(SPENT.items())))
    for tag in ("uncal", "cal"):
        s = summary(rows[tag])
        assert s["wrong"] == 0, f"{tag}: {s['wrong']} confident wrong peaks"
        assert s["fail"] == 0, f"{tag}: an honest line FAILed its peak claim {s['fail']} times"
        assert s["merged_with_peak"] == 0
        assert s["cover"] >= 0.90, f"{tag}: peak coverage {s['cover']:.1%}"
        assert s["irr_cover"] >= 0.85, f"{tag}: line irradiance coverage {s['irr_cover']:.1%}"
        assert s["total_cover"] >= 0.90, f"{tag}: total irradiance coverage {s['total_cover']:.1%}"
        assert s["group_cover"] >= 0.85, f"{tag}: merged lines' irradiance coverage {s['group_cover']:.1%}"
        assert s["centre_cover"] >= 0.90, f"{tag}: merged groups' light centre coverage {s['centre_cover']:.1%}"
        assert s["fitted_cover"] >= 0.93, f"{tag}: red groups' light centre coverage (one-line) {s['fitted_cover']:.1%}"
        red = summary([r for r in rows[tag] if r["combo"] in ("630+660", "630+660+850")])
        assert red["centre_u_med"] <= 8.0, f"{tag}: red groups' light centre U median {red['centre_u_med']:.1f} nm"


# --- which claimed pairs this sensor resolves (issue 20) -----------------------------------------------------------
PAIRS = ((630.0, 660.0), (620.0, 660.0), (610.0, 660.0), (660.0, 700.0), (660.0, 730.0), (700.0, 850.0),
         (730.0, 850.0), (660.0, 850.0), (630.0, 850.0), (810.0, 850.0), (850.0, 940.0))


def test_resolution_table():
    """Which neighbouring claimed lines ``plan_lines`` fits separately, typical table and calibrated units: the
    smallest resolved separation of two red lines (FWHM 20 nm) by wavelength, and the pairs wraps are sold with."""
    table = Responsivity.load()
    sensors = {"typical (uncal)": Calibration(table, transmission=T, dark_counts=DARK)}
    for k in range(2 if QUICK else 3):
        unit = SensorUnit.draw(f"multiline-{k}", 300 + k, SensorSpread())
        jig = Jig(unit, seed=900 + k)
        try:
            sensors[f"unit {k} (cal)"] = calibrate(jig, np.random.default_rng(7000 + k))
        finally:
            jig.close()

    def resolved(cal: Calibration, a: float, b: float) -> bool:
        return not plan_lines(claimed((a, b)), cal.responsivity, cal.model_u).groups

    print("\nsmallest resolved separation of two red lines (nm), by the bluer line's peak:")
    starts = np.arange(600.0, 701.0, 20.0)
    print(f"{'sensor':<18}" + "".join(f"{a:>8g}" for a in starts))
    for label, cal in sensors.items():
        cells = []
        for a in starts:
            gap = next((d for d in np.arange(5.0, 121.0, 5.0) if resolved(cal, a, a + d)), None)
            cells.append(f"{gap:>8g}" if gap is not None else f"{'>120':>8}")
        print(f"{label:<18}" + "".join(cells))
    print("\npairs (R = fitted separately, m = merged into a group):")
    print(f"{'sensor':<18}" + "".join(f"{f'{a:g}+{b:g}':>9}" for a, b in PAIRS))
    for label, cal in sensors.items():
        print(f"{label:<18}" + "".join(f"{'R' if resolved(cal, a, b) else 'm':>9}" for a, b in PAIRS))
    typical = sensors["typical (uncal)"]
    assert resolved(typical, 660.0, 850.0) and not resolved(typical, 630.0, 660.0)
    assert not resolved(typical, 810.0, 850.0)


# --- lying wraps: merged lines are still judged -------------------------------------------------------------------
LIES = (("honest", 0.0, 1.0), ("660 line 1.5 tolerances short (645 nm)", -15.0, 1.0),
        ("660 line really 630 nm", -30.0, 1.0), ("660 line really 610 nm", -50.0, 1.0), ("660 line dead", 0.0, 0.0))


def test_lying_merged_lines():
    """Sold as 630 + 660 + 850 nm (shares 30 / 30 %, 850 nm 40 %, +/- 10 points), read by production units; the
    660 nm line's verdict (judged through the merged pair's light centre) over 3 levels and 3 draws per unit. A
    lie never gets PASS; 660 nm LEDs that are really 610 nm (the pair's centre near 620 nm, below anything the
    claims can give) FAIL in >= 95 %."""
    combo = (630.0, 660.0, 850.0)
    claims = Claims(irradiance_mw_cm2=None, lines=[LineClaim(630.0, share_pct=30.0), LineClaim(660.0, share_pct=30.0),
                                                  LineClaim(850.0, share_pct=40.0)])
    counts: dict[tuple[str, str], dict[str, int]] = {}
    for k in range(UNITS):
        unit = SensorUnit.draw(f"multiline-{k}", 300 + k, SensorSpread())
        rng = np.random.default_rng(8000 + k)
        jig = Jig(unit, seed=950 + k)
        try:
            cals = {"uncal": Calibration(Responsivity.load(), transmission=T, dark_counts=DARK),
                    "cal": calibrate(jig, rng)}
            plans = {tag: plan_lines(claimed(combo), c.responsivity, c.model_u) for tag, c in cals.items()}
            for (lie, shift, alive), level, _ in itertools.product(LIES, (10.0, 40.0, 120.0), range(DRAWS // 2 or 1)):
                lines = [(630.0 + rng.uniform(-3, 3), 20.0, 0.3 * level),
                         (660.0 + shift + rng.uniform(-3, 3), 20.0, 0.3 * level * alive),
                         (850.0 + rng.uniform(-3, 3), 30.0, 0.4 * level)]
                r = jig.read([x for x in lines if x[2] > 0])
                for tag, cal in cals.items():
                    e = estimate(r.counts, r.gain_x, r.t_int_ms, cal, r.saturated, r.full_scale, plan=plans[tag])
                    row = {**e.as_dict(), "phase_kind": "measure", "wrap_on": True, "position": ""}
                    got = {c.claim_id: c.verdict for c in check_claims(claims, [row], RunFacts())}
                    cell = counts.setdefault((lie, tag), {})
                    verdict = got["line_660nm_peak_nm"].value
                    cell[verdict] = cell.get(verdict, 0) + 1
        finally:
            jig.close()
    print("\n660 nm line's peak verdict, 630 + 660 + 850 nm claimed with shares (merged pair judged by its centre):")
    for (lie, tag), cell in counts.items():
        n = sum(cell.values())
        print(f"{lie:<42}{tag:>6} " + "  ".join(f"{v} {cell.get(v, 0) / n:4.0%}" for v in
                                                 ("PASS", "NOT MEASURED", "MARGINAL", "FAIL")))
    for (lie, tag), cell in counts.items():
        if lie != "honest":
            assert cell.get("PASS", 0) == 0, f"{lie}: PASS"
        else:
            assert cell.get("FAIL", 0) == 0, "an honest pair FAILed"
        if lie == "660 line really 610 nm":  # centre near 620 nm, below anything the claims give (630.5 nm)
            assert cell.get("FAIL", 0) >= 0.95 * sum(cell.values()), f"{lie} {tag}: {cell}"
