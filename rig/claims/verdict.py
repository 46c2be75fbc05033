"""Verdicts: a measured value with its uncertainty against a claim's acceptance band.

- PASS: the whole interval ``measured +/- u`` lies inside the band;
- FAIL: the whole interval lies outside it;
- MARGINAL: the interval straddles a limit of the band;
- NOT MEASURED: no measurement (the reason says why).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from enum import StrEnum


class Verdict(StrEnum):
    PASS = "PASS"
    MARGINAL = "MARGINAL"
    FAIL = "FAIL"
    NOT_MEASURED = "NOT MEASURED"


@dataclass(frozen=True)
class ClaimCheck:
    """One row of ``summary.csv``: the claim, the band, the measurement and the verdict.

    ``claim_id`` is stable across versions (compare and trends key on it); ``claim`` is the display label.
    """

    claim_id: str
    claim: str
    unit: str
    claimed: float | None
    tolerance: str
    low: float | None
    high: float | None
    measured: float | None
    uncertainty: float | None
    verdict: Verdict
    note: str = ""
    mode: str = ""  # the wrap's mode the claim was judged in

    def as_dict(self) -> dict[str, object]:
        row = asdict(self)
        row["verdict"] = self.verdict.value
        return row

    @classmethod
    def columns(cls) -> list[str]:
        """The header of ``summary.csv``."""
        return [f.name for f in fields(cls)]


def judge(low: float | None, high: float | None, measured: float | None, uncertainty: float | None,
          interval: tuple[float, float] | None = None) -> Verdict:
    """Verdict for ``measured +/- uncertainty`` against the band ``[low, high]`` (either end may be open); with
    ``interval``, the measurement's k=2 interval ends (a skewed one: ``uncertainty`` is its longer side)."""
    if measured is None or (isinstance(measured, float) and math.isnan(measured)):
        return Verdict.NOT_MEASURED
    u = abs(uncertainty or 0.0)
    below, above = interval or (measured - u, measured + u)
    lo = -math.inf if low is None else low
    hi = math.inf if high is None else high
    if below >= lo and above <= hi:
        return Verdict.PASS
    if above < lo or below > hi:
        return Verdict.FAIL
    return Verdict.MARGINAL


def check_claim(claim_id: str, claim: str, unit: str, claimed: float | None, tolerance: str, low: float | None,
                high: float | None, measured: float | None, uncertainty: float | None,
                not_measured_why: str = "") -> ClaimCheck:
    """Build a :class:`ClaimCheck`; ``not_measured_why`` is recorded when nothing was measured."""
    verdict = judge(low, high, measured, uncertainty)
    note = not_measured_why if verdict is Verdict.NOT_MEASURED else ""
    return ClaimCheck(claim_id, claim, unit, claimed, tolerance, low, high, measured, uncertainty, verdict, note)
