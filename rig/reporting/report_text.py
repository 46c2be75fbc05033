"""What the report and the certificate say in words: the overall verdict, one line per claim, the measured
behaviour and the run's facts as (what, value) rows, and the calibration's traceability."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from rig.results.schema import RunManifest

ORDER = ("FAIL", "MARGINAL", "PASS", "NOT MEASURED")


def _finite(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def num(value: Any, digits: int = 4) -> str:
    number = _finite(value)
    return "" if number is None else f"{number:.{digits}g}"


def overall_verdict(summary: pd.DataFrame, manifest: RunManifest) -> tuple[str, str]:
    """``(verdict, sentence)``: the worst claim's verdict, or DID NOT FINISH for a run that did not complete."""
    verdicts = [str(v) for v in summary.verdict] if not summary.empty else []
    counts = ", ".join(f"{verdicts.count(v)} {v}" for v in ORDER if v in verdicts)
    if not manifest.complete:
        return "DID NOT FINISH", (f"the run ended {manifest.outcome}: {manifest.reason}; only what it measured "
                                  f"was judged ({counts or 'no claim'})")
    if not verdicts:
        return "NOT MEASURED", "no claim was judged"
    worst = next(v for v in ORDER if v in verdicts)
    meaning = {"FAIL": "at least one claim is not met: its whole interval lies outside the claimed band",
               "MARGINAL": "no claim fails, but at least one interval straddles a limit of its band",
               "PASS": "every judged claim is met, its whole interval inside the claimed band",
               "NOT MEASURED": "nothing could be judged"}[worst]
    return worst, f"{meaning} ({counts} of {len(verdicts)} claims)"


def band_words(row: Any) -> str:
    low, high, unit = _finite(row.get("low")), _finite(row.get("high")), row.get("unit") or ""
    if low is not None and high is not None:
        return f"{num(low)}–{num(high)} {unit}".strip()
    if high is not None:
        return f"at most {num(high)} {unit}".strip()
    if low is not None:
        return f"at least {num(low)} {unit}".strip()
    return "no band"


def measured_words(row: Any) -> str:
    measured = _finite(row.get("measured"))
    if measured is None:
        return "not measured"
    u = _finite(row.get("uncertainty"))
    return f"{num(measured)}" + (f" ± {num(u, 2)}" if u else "") + f" {row.get('unit') or ''}".rstrip()


def claim_lines(summary: pd.DataFrame) -> list[tuple[str, str, str]]:
    """``(verdict, claim, "measured ± U against the band; note")`` per claim, worst first."""
    rows = []
    for _, row in summary.iterrows():
        record = row.to_dict()
        note = record.get("note")
        text = f"{measured_words(record)}; claimed {band_words(record)}"
        if isinstance(note, str) and note:
            text += f" ({note})"
        rows.append((str(record["verdict"]), str(record["claim"]), text))
    rank = {v: i for i, v in enumerate(ORDER)}
    return sorted(rows, key=lambda r: rank.get(r[0], len(ORDER)))


BEHAVIOUR_LABELS = {
    "warmup_s": ("warm-up (output settles)", "s"), "droop_pct": ("output droop, warm against cold", "%"),
    "auto_off_after_s": ("switched itself off after", "s"), "surface_max_c": ("highest surface temperature", "°C"),
    "ambient_c": ("ambient temperature", "°C"), "surface_rise_c": ("surface rise over ambient", "°C"),
    "irradiance_start_mw_cm2": ("irradiance at the start", "mW/cm²"),
    "irradiance_end_mw_cm2": ("irradiance at the end", "mW/cm²"),
    "irradiance_min_mw_cm2": ("lowest irradiance", "mW/cm²"),
    "irradiance_min_after_s": ("lowest irradiance at, after switch-on", "s"),
    "irradiance_droop_pct": ("irradiance droop over the session", "%"),
}


def _u_key(key: str) -> str | None:
    """``irradiance_start_mw_cm2`` → ``irradiance_start_u_mw_cm2``; ``irradiance_droop_pct`` → ``..._u_pct``."""
    for unit in ("_mw_cm2", "_pct", "_s", "_c", "_nm"):
        if key.endswith(unit):
            return key[: -len(unit)] + "_u" + unit
    return None


def behaviour_rows(behaviour: dict[str, Any]) -> list[tuple[str, str]]:
    """The measured behaviour as (what, value ± U unit) rows; uncertainties joined to their values."""
    rows = []
    u_keys = {_u_key(k) for k in behaviour}
    for key, value in behaviour.items():
        if key in u_keys and key not in BEHAVIOUR_LABELS:
            continue
        label, unit = BEHAVIOUR_LABELS.get(key, (key.replace("_", " "), ""))
        u = behaviour.get(_u_key(key) or "")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            text = num(value) + (f" ± {num(u, 2)}" if _finite(u) else "") + (f" {unit}" if unit else "")
        elif value is None:
            text = "not measured"
        else:
            text = str(value)
        rows.append((label, text))
    return rows


def facts_rows(manifest: RunManifest) -> list[tuple[str, str]]:
    """The run's facts a reader asks about, as (what, value) rows."""
    calibration = manifest.calibration or {}
    facts = manifest.facts or {}
    versions = manifest.versions if isinstance(manifest.versions, dict) else {}
    rows = [("run id", manifest.run_id), ("wrap", manifest.wrap_unit_label), ("mode", manifest.mode),
            ("started", str(manifest.start_time)), ("ended", str(manifest.end_time)),
            ("outcome", f"{manifest.outcome}: {manifest.reason}"),
            ("bench", "SIMULATED" if manifest.backend == "sim" else str(manifest.backend)),
            ("sensor", str(manifest.sensor_id)),
            ("calibration", f"{manifest.calibration_id}" + ("" if manifest.calibrated else " (uncalibrated: "
                                                             "datasheet-nominal scale)")),
            ("samples", str(manifest.rows)), ("phases done", ", ".join(facts.get("phases_done") or [])),
            ("wrap switched on / off at", f"{num(facts.get('switched_on_t_s'))} s / "
                                          f"{num(facts.get('switched_off_t_s'))} s"),
            ("host", str(manifest.host)), ("rig version", str(versions.get("rig", ""))),
            ("code commit", str(manifest.code_commit or ""))]
    if calibration.get("warnings"):
        rows.append(("calibration notes", "; ".join(map(str, calibration["warnings"]))))
    if manifest.events:
        rows.append(("events", "; ".join(map(str, manifest.events[-6:]))))
    return [(k, v) for k, v in rows if v not in ("", "None", " s /  s")]


def traceability_rows(manifest: RunManifest) -> list[tuple[str, str]]:
    """The calibration's traceability as (what, value) rows (what the run recorded of it)."""
    calibration = manifest.calibration or {}
    if not manifest.calibrated:
        return [("calibration", "none: irradiance and dose on the sensor's datasheet-nominal scale "
                                "(UNCALIBRATED, indicative only)")]
    trace = calibration.get("traceability") or {}
    rows = [("calibration id", str(manifest.calibration_id))]
    if not trace:
        return rows + [("details", "not recorded in this run (made before rig stored them): see the file "
                                   f"with id {manifest.calibration_id}")]
    made = str(trace.get("created", ""))
    if trace.get("spectral_created"):
        made = f"irradiance {made}; spectral {trace['spectral_created']}"
    rows.append(("made", made))
    for ref in trace.get("spectral_references") or []:
        rows.append((f"reference LED {num(ref['peak_nm'])} nm",
                     f"peak known to ± {num(ref['u_nm'], 2)} nm (standard); {ref['readings']} readings, "
                     f"fitted {num(ref['fitted_peak_nm'])} nm"))
    for ref in trace.get("irradiance_references") or []:
        meter_u = trace.get("meter_u_pct")
        rows.append((f"meter reading at {num(ref['nm'])} nm",
                     f"{num(ref['mw_cm2'])} mW/cm²" + (f", meter u ± {num(meter_u, 2)} % (standard)" if meter_u
                                                       else "") + f"; {ref['readings']} readings"))
    if trace.get("scale_u_rel") is not None:
        rows.append(("irradiance scale u (standard)", f"{100 * float(trace['scale_u_rel']):.2g} %"))
    if trace.get("method"):
        rows.append(("method", str(trace["method"])))
    rows += [("for sensor", str(trace.get("sensor_id", ""))), ("jig", str(trace.get("jig", "")))]
    return [(k, v) for k, v in rows if v]


def summary_table(summary: pd.DataFrame, uncalibrated: bool) -> pd.DataFrame:
    """The verdict table as a reader wants it: the band, measured ± U (k = 2), verdict, note (which says
    when a verdict rests on the datasheet-nominal irradiance scale)."""
    from rig.claims.ids import claim_id
    from rig.claims.specs import CALIBRATION_DEPENDENT

    shown = summary.copy()
    ids = shown.claim_id if "claim_id" in shown else [claim_id(str(c), str(u)) for c, u in zip(shown.claim,
                                                                                               shown.unit,
                                                                                               strict=True)]
    if uncalibrated:
        flagged = [i in CALIBRATION_DEPENDENT and v != "NOT MEASURED" for i, v in zip(ids, shown.verdict,
                                                                                       strict=True)]
        notes = ["" if pd.isna(n) else str(n) for n in shown.note]
        shown["note"] = [("uncalibrated: indicative only" + (f"; {n}" if n else "")) if f else n
                         for f, n in zip(flagged, notes, strict=True)]
    shown = shown.drop(columns=[c for c in ("claim_id",) if c in shown.columns])
    return shown.rename(columns={"uncertainty": "± U (k = 2)"})
