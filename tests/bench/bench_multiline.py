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
  irradiance covers the members' sum >= 85 %; the total irradiance covers the truth >= 90 %.
"""

from __future__ import annotations

import os
import time

import numpy as np
from bench_spectrum_accuracy import DARK, Jig, T, calibrate

from rig.claims import RunFacts, check_claims
from rig.line_plan import ClaimedLine, plan_lines
from rig.profile import Claims, LineClaim
from rig.responsivity import Responsivity
from rig.sim.sensor_unit import SensorSpread, SensorUnit
from rig.spectrum import Calibration, estimate
from rig.verdict import Verdict

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
                    true = [(p + rng.uniform(-4, 4), rng.uniform(18, 22) if p < 740 else rng.uniform(28, 32),
                             rng.uniform(0.5, 1.5)) for p in combo]
                    norm = level / sum(s for *_, s in true)
                    lines = [(p, w, s * norm) for p, w, s in true]
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
                                "group_u": e.lines.get(f"{group}_irradiance_u_mw_cm2") if group else None})
    finally:
        jig.close()
    return out


def summary(rows: list[dict]) -> dict[str, float]:
    measured = [r for r in rows if r["peak"] is not None]
    err = np.array([abs(r["peak"] - r["true"]) for r in measured])
    u = np.array([r["peak_u"] for r in measured])
    irr = [r for r in measured if r["irr"] is not None]
    irr_cover = [abs(r["irr"] - r["mw"]) <= r["irr_u"] for r in irr]
    verdicts = [r["verdict"] for r in rows]
    grouped = [abs((r["group_irr"] or 0.0) - r["group_mw"]) <= (r["group_u"] or 0.0) for r in rows if r["merged"]]
    totals = [abs(r["total"] - r["level"]) <= r["total_u"] for r in rows if r["total"] is not None]
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
    }


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
