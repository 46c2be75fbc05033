"""What a claim is measured from: the run's rows, the runner's facts, and how the run ended (:class:`Evidence`);
what a measurement gives (:class:`Measured`).

Pure Python over the sample rows (the dicts written to ``samples.csv``), so it runs at the end of a run on the Pi
and again in ``rig analyze`` on old data.
"""

from __future__ import annotations

from collections.abc import Sequence as Seq
from dataclasses import dataclass, field
from typing import Any

from rig.claims.verdict import Verdict
from rig.results.schema import number, truthy


@dataclass
class RunFacts:
    """What the runner observed besides the rows (times in s since the run's start)."""

    switched_on_t_s: float | None = None
    switched_off_t_s: float | None = None
    auto_off_t_s: float | None = None
    soak_limit_reached: bool = False
    soak_interval_s: float | None = None
    soak_end_t_s: float | None = None  # when a soak until auto-off hit its time limit
    auto_off_u_s: float | None = None  # half-width of the bracket around auto_off_t_s (a sure bound)
    auto_off_bracket_s: list[float] | None = None  # [start of the last lit reading, end of the first dark one]
    pulse: dict | None = None  # the pulse capture's analysis (rig.pulse.PulseResult.as_dict), if any
    uniformity: dict | None = None  # rig.claims.uniformity.summarize_positions, if the run had a uniformity phase
    skin_probe: str = "surface"  # the probe on the wrap's skin side (bench config), whose column is <name>_c
    phases_done: list[str] = field(default_factory=list)  # kinds of the phases that ran to their end
    guard_surface_max_c: float | None = None  # hottest skin-side reading of the between-sample guard checks

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> RunFacts:
        """From ``run.json``'s ``facts`` (unknown keys of other versions ignored)."""
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in (data or {}).items() if k in known})



@dataclass(frozen=True)
class Measured:
    """A claim's measurement: value and expanded (k=2) uncertainty, or None with the reason in ``note``.

    ``verdict`` forces a verdict where the measurement itself decides (e.g. the claimed band is absent).
    """

    value: float | None = None
    u: float | None = None
    note: str = ""
    verdict: Verdict | None = None
    lower_bound: float | None = None  # only a bound is known: the true value is above this
    show_note: bool = False  # the note explains a judged value (e.g. which reading of the session)
    upper: tuple[float, float] | None = None  # the highest of a range (value, u): judged too, the worse one reported
    interval: tuple[float, float] | None = None  # the k=2 interval's ends when one side is shorter than ``u``


@dataclass
class Evidence:
    """What the claims are measured from: the rows, the runner's facts, and how the run ended."""

    rows: Seq[dict[str, Any]]
    facts: RunFacts
    outcome: str = "COMPLETED"
    reason: str = ""

    @property
    def complete(self) -> bool:
        return self.outcome == "COMPLETED"

    def lit(self, kind: str) -> list[dict[str, Any]]:
        """Unsaturated rows of a phase kind with the wrap on, at the main sensor position."""
        return [r for r in self.rows if r.get("phase_kind", r.get("phase")) == kind and truthy(r.get("wrap_on"))
                and not truthy(r.get("saturated")) and not r.get("position")]

    def surface_temps_c(self) -> list[float]:
        column = f"{self.facts.skin_probe}_c"
        temps = [t for t in (number(r.get(column)) for r in self.rows) if t is not None]
        if self.facts.guard_surface_max_c is not None:
            temps.append(self.facts.guard_surface_max_c)
        return temps
