"""Warnings a reader must see before any number: simulated, uncalibrated, did not finish, old calibration.

Worked out from a run's manifest (``run.json``) only, so the terminal table,
the report and the comparison page all say the same thing.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from rig.results.schema import RunManifest
from rig.text import escape  # rich's escape, control characters written out

KINDS = ("incomplete", "simulated", "uncalibrated", "calibration_old", "example")
HEADLINES = {
    "incomplete": "DID NOT FINISH",
    "simulated": "SIMULATED",
    "uncalibrated": "UNCALIBRATED",
    "calibration_old": "CALIBRATION OUT OF DATE",
    "example": "EXAMPLE",
}
MEANINGS = {
    "incomplete": "these runs did not finish; their verdicts cover only what was measured",
    "simulated": "made on simulated hardware, not measurements of a real wrap",
    "uncalibrated": "irradiance and dose on the datasheet-nominal scale, indicative only",
    "calibration_old": "made with a calibration past its age limit",
    "example": "the example run shipped with rig",
}
_AGE_WARNING = re.compile(r"is (\d+(?:\.\d+)?) days old \(limit (\d+(?:\.\d+)?)\)")


@dataclass(frozen=True)
class Banner:
    """One warning: its kind (see ``KINDS``), a headline and a sentence saying what it means."""

    kind: str
    detail: str

    @property
    def headline(self) -> str:
        return HEADLINES[self.kind]

    def markup(self) -> str:
        """Rich markup for the terminal (user text escaped)."""
        style = "bold red" if self.kind in ("incomplete", "simulated") else "bold yellow"
        return f"[{style}]{self.headline}[/]: {escape(self.detail)}"

    def html(self) -> str:
        return (f"<div class='banner {self.kind}'><b>{html.escape(self.headline)}</b>: "
                f"{html.escape(self.detail)}</div>")


def finished(manifest: RunManifest, has_summary: bool = True) -> bool:
    """The run went through every phase and wrote its verdicts."""
    return manifest.outcome == "COMPLETED" and has_summary


def calibrated(manifest: RunManifest) -> bool:
    """Irradiance came through a calibration file (not the datasheet-nominal scale)."""
    return manifest.calibrated


def calibration_age(manifest: RunManifest) -> tuple[float, float] | None:
    """``(age_days, limit_days)`` when the calibration was older than its limit at the run, else None."""
    block = manifest.calibration
    limit = manifest.bench.get("calibration_max_age_days", block.get("max_age_days"))
    created, started = block.get("created"), manifest.start_time
    if created and started and limit is not None:
        try:
            age = (_utc(started) - _utc(created)).total_seconds() / 86400.0
        except ValueError:
            age = None
        if age is not None:
            return (age, float(limit)) if age > float(limit) else None
    for warning in block.get("warnings") or []:
        match = _AGE_WARNING.search(str(warning))
        if match:
            return float(match.group(1)), float(match.group(2))
    return None


def _utc(text: str) -> datetime:
    when = datetime.fromisoformat(str(text))
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def read_manifest(run_dir: Path) -> RunManifest:
    """``run.json`` of a run folder as the typed record, checked: damage is a RigError naming the file and key
    (no pandas)."""
    return RunManifest.read(run_dir)


def run_dir_banners(run_dir: Path) -> list[Banner]:
    """The banners of a run folder, for the terminal (no pandas: ``rig run`` prints them on the Pi)."""
    summary = run_dir / "summary.csv"
    return run_banners(read_manifest(run_dir), summary.is_file() and summary.stat().st_size > 0)


def run_banners(manifest: RunManifest, has_summary: bool = True) -> list[Banner]:
    """The banners one run needs, most serious first."""
    banners = []
    if not finished(manifest, has_summary):
        outcome = manifest.outcome
        if outcome == "RUNNING":
            why = "the process stopped while the run was going (run.json still says RUNNING)"
        elif outcome == "COMPLETED":
            why = "no summary.csv: the verdicts were never written"
        else:
            why = f"{outcome}: {manifest.reason or 'no reason recorded'}"
        banners.append(Banner("incomplete", f"{why}. Verdicts cover only what was measured before it stopped."))
    if manifest.backend == "sim":
        banners.append(Banner("simulated", "made on simulated hardware: not a measurement of a real wrap."))
    if not calibrated(manifest):
        banners.append(Banner("uncalibrated", "irradiance and dose use the sensor's datasheet-nominal scale, not a "
                                              "calibration against a reference meter: their PASS/FAIL is indicative."))
    age = calibration_age(manifest)
    if age:
        banners.append(Banner("calibration_old", f"the calibration was {age[0]:.0f} days old at the run "
                                                 f"(limit {age[1]:.0f} days): recalibrate."))
    if manifest.example:
        banners.append(Banner("example", "the example run shipped with rig, kept to show the file formats."))
    return banners


def summarise(per_run: Iterable[tuple[str, list[str]]]) -> list[Banner]:
    """Banners for many runs: ``(run_id, kinds)`` pairs to one banner per kind, with counts and examples."""
    pairs = list(per_run)
    banners = []
    for kind in KINDS:
        hits = [run_id for run_id, kinds in pairs if kind in kinds]
        if hits:
            more = f" and {len(hits) - 3} more" if len(hits) > 3 else ""
            banners.append(Banner(kind, f"{MEANINGS[kind]}: {len(hits)} of {len(pairs)} runs "
                                        f"({', '.join(hits[:3])}{more})."))
    return banners
