"""A claim's acceptance band (:class:`Band`) and the ways a profile's claim makes one (± %, ± absolute, at most,
at least, over the whole session)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Band:
    """A claim's acceptance band: the claimed value, the tolerance as text, and the limits (None = open)."""

    claimed: float | None
    tolerance: str
    low: float | None
    high: float | None



def pct_band(claimed: float | None, pct: float) -> Band | None:
    if claimed is None:
        return None
    return Band(claimed, f"±{pct:g} %", claimed * (1 - pct / 100), claimed * (1 + pct / 100))


def abs_band(claimed: float | None, tolerance: float, unit: str) -> Band | None:
    if claimed is None:
        return None
    return Band(claimed, f"±{tolerance:g} {unit}", claimed - tolerance, claimed + tolerance)


def over_session(band: Band | None) -> Band | None:
    return None if band is None else Band(band.claimed, f"{band.tolerance} over the whole session", band.low,
                                          band.high)


def at_most(limit: float | None) -> Band | None:
    return None if limit is None else Band(limit, "at most", None, limit)


def at_least(limit: float | None) -> Band | None:
    return None if limit is None else Band(limit, "at least", limit, None)
