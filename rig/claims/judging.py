"""Judging claims: a measured value and its U against the claim's band, with the run's outcome (a run cut short
cannot judge what it did not see); :func:`check_claims` judges every claim of a mode."""

from __future__ import annotations

from collections.abc import Sequence as Seq
from dataclasses import replace
from typing import Any

from rig.claims.bands import Band
from rig.claims.evidence import Evidence, Measured, RunFacts
from rig.claims.specs import CLAIM_SPECS, ClaimSpec, line_claim_specs
from rig.claims.verdict import ClaimCheck, Verdict, judge
from rig.profile import Claims


def _cut_short(spec: ClaimSpec, evidence: Evidence, measured: Measured, band: Band) -> str | None:
    """Why a run that did not finish cannot judge this claim (None: it can)."""
    if evidence.complete:
        return None
    why = f"run {evidence.outcome} ({evidence.reason})" if evidence.reason else f"run {evidence.outcome}"
    if spec.needs == "session" and evidence.facts.auto_off_t_s is None:
        return f"{why} before the session ended"
    if spec.needs == "measure" and "measure" not in evidence.facts.phases_done:
        return f"{why} before the measure phase finished"
    if spec.needs == "any" and band.low is None and measured.value is not None and band.high is not None \
            and measured.value <= band.high:
        return f"{why}: {measured.value:.4g} {spec.unit} so far, the rest of the session was not seen"
    return None


VERDICT_RANK = {Verdict.PASS: 0, Verdict.MARGINAL: 1, Verdict.FAIL: 2}


def _worse_end(band: Band, measured: Measured) -> Measured:
    """Of a range's lowest (``value``) and highest (``upper``) ends, the one whose verdict is worse (ties: lowest)."""
    high, high_u = measured.upper or (None, None)
    low_verdict = judge(band.low, band.high, measured.value, measured.u)
    high_verdict = judge(band.low, band.high, high, high_u)
    if VERDICT_RANK.get(high_verdict, 0) > VERDICT_RANK.get(low_verdict, 0):
        return replace(measured, value=high, u=high_u, upper=None)
    return replace(measured, upper=None)


def judge_claim(spec: ClaimSpec, band: Band, evidence: Evidence) -> ClaimCheck:
    """One claim's verdict: forced by the measurement, NOT MEASURED when the run was cut short, else judged."""
    measured = spec.measure(evidence)
    if measured.value is None and measured.lower_bound is not None:
        below = band.high is not None and band.high < measured.lower_bound
        return ClaimCheck(spec.id, spec.label, spec.unit, band.claimed, band.tolerance, band.low, band.high, None,
                          None, Verdict.FAIL if below else Verdict.NOT_MEASURED, f"> {measured.lower_bound:.0f} "
                          f"{spec.unit}: {measured.note}")
    cut = _cut_short(spec, evidence, measured, band)
    if cut is not None:
        return ClaimCheck(spec.id, spec.label, spec.unit, band.claimed, band.tolerance, band.low, band.high,
                          measured.value, measured.u, Verdict.NOT_MEASURED, cut)
    if measured.upper is not None and measured.verdict is None:
        measured = _worse_end(band, measured)
    verdict = measured.verdict or judge(band.low, band.high, measured.value, measured.u, measured.interval)
    note = measured.note if (verdict is Verdict.NOT_MEASURED or measured.verdict or measured.show_note
                             or spec.note) else ""
    value = None if measured.verdict is Verdict.FAIL and measured.value is None else measured.value
    return ClaimCheck(spec.id, spec.label, spec.unit, band.claimed, band.tolerance, band.low, band.high, value,
                      measured.u if value is not None else None, verdict, note)


def check_claims(claims: Claims, rows: Seq[dict[str, Any]], facts: RunFacts, outcome: str = "COMPLETED",
                 reason: str = "") -> list[ClaimCheck]:
    """One check per claim of the mode under test (the surface temperature limit is always claimed)."""
    evidence = Evidence(rows, facts, outcome, reason)
    checks = []
    for spec in (*CLAIM_SPECS, *line_claim_specs(claims)):
        band = spec.band(claims)
        if band is not None:
            checks.append(judge_claim(spec, band, evidence))
    return checks
