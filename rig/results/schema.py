"""The one record schema: sample rows (``samples.csv``), claim rows (``summary.csv``) and the run manifest.

Every writer and reader of results goes through here: the runner writes rows
with :func:`sample_columns`, ``load`` / ``compare`` / ``report`` / ``reanalyze``
read the manifest with :meth:`RunManifest.read` and booleans with :func:`truthy`.
No pandas here: the runner imports it on the Pi's sampling path.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

_TRUE_WORDS = frozenset({"1", "1.0", "true", "yes", "y", "on"})


def truthy(value: Any) -> bool:
    """The one truthiness rule for values read back from CSV, JSON or TOML.

    True: ``True``, a non-zero number, or the words 1 / true / yes / y / on (any case).
    Everything else is false: ``None``, ``""``, ``0``, NaN, "no", "false", "off".
    """
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    if isinstance(value, (int, float)):
        return not math.isnan(value) and value != 0
    return str(value).strip().lower() in _TRUE_WORDS


def number(value: Any) -> float | None:
    """A finite float from a cell, or None (empty, text, NaN, infinite)."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        result = float(value)
    except (TypeError, ValueError):
        return None
    return result if math.isfinite(result) else None


# --- samples.csv ----------------------------------------------------------------------------------------------------
RUN_COLUMNS = ("t_s", "wall_time", "phase", "phase_kind", "mode", "position", "wrap_on")
"""When and where: seconds since the run started (``t_s``), UTC ISO time, phase label and kind, the
wrap's mode while on, the uniformity position (blank = the main sensor), whether the rig had the wrap on."""

READING_COLUMNS = ("gain_x", "atime", "astep", "t_int_ms", "saturated", "attenuator", "transmission", "clear_basic")
"""Sensor settings of the reading (nominal gain, integration ms), its saturation flag, the jig's attenuator,
and the broadband channel (the chip's ``Role.BROADBAND``: AS7341 Clear, AS7343 VIS) in basic counts
(counts / (gain ratio x ms)): a gain-independent output level."""

PROBE_SUFFIXES = ("c", "v", "ohm", "fault")
"""Per thermistor probe: ``<name>_c`` (C), ``_v`` (divider volts), ``_ohm`` (resistance), ``_fault``."""

TAIL_COLUMNS = ("i2c_retries", "event")


def sample_columns(channels: Sequence[str], derived: Sequence[str], pulse: Sequence[str],
                   probe_names: Sequence[str]) -> list[str]:
    """The header of ``samples.csv``: raw channels, then the derived estimate, pulse and probe columns."""
    return [*RUN_COLUMNS, *channels, *READING_COLUMNS, *derived, *pulse,
            *(f"{name}_{suffix}" for name in probe_names for suffix in PROBE_SUFFIXES), *TAIL_COLUMNS]


# --- summary.csv ----------------------------------------------------------------------------------------------------
VERDICTS = ("PASS", "MARGINAL", "FAIL", "NOT MEASURED")
SUMMARY_BAND = ("claimed", "low", "high")


def summary_row_problem(row: dict[str, Any]) -> str | None:
    """What is wrong with one ``summary.csv`` row as read back (cells as text or numbers), naming the column and
    what was expected; None when nothing is. A verdict is one of :data:`VERDICTS`; the band (``low`` / ``high``,
    at least one) and ``claimed`` are finite numbers or blank; a judged claim (not NOT MEASURED) has a finite
    ``measured`` value and a finite ``uncertainty`` >= 0 (blank: none stated)."""
    verdict = str(row.get("verdict") if row.get("verdict") is not None else "").strip()
    if verdict not in VERDICTS:
        return f"column 'verdict': expected one of {', '.join(VERDICTS)} (got {verdict[:40]!r})"
    values: dict[str, float | None] = {}
    for column in (*SUMMARY_BAND, "measured", "uncertainty"):
        cell = row.get(column)
        blank = cell is None or (isinstance(cell, str) and not cell.strip()) or (
            isinstance(cell, float) and math.isnan(cell))
        values[column] = None if blank else number(cell)
        if not blank and values[column] is None and column != "measured":
            return f"column '{column}': expected a finite number or a blank cell (got {str(cell)[:40]!r})"
    if values["low"] is None and values["high"] is None:
        return "columns 'low' / 'high': expected the claim's band (at least one end)"
    if verdict != "NOT MEASURED" and values["measured"] is None:
        return (f"column 'measured': expected the measured value (a finite number) of a claim judged {verdict} "
                f"(got {str(row.get('measured'))[:40]!r})")
    if values["uncertainty"] is not None and values["uncertainty"] < 0:
        return f"column 'uncertainty': expected an uncertainty >= 0 (got {values['uncertainty']:g})"
    return None


# --- run.json -------------------------------------------------------------------------------------------------------
OUTCOMES = ("RUNNING", "COMPLETED", "ABORTED", "ERROR")


@dataclass
class RunManifest:
    """``run.json``: who, what, when, with which files and code, and how the run ended.

    Written when the run starts (outcome RUNNING) and rewritten when it ends. Old
    files load too: unknown keys are kept in ``extra``, missing ones take defaults.
    """

    run_id: str = ""
    start_time: str | None = None
    end_time: str | None = None
    outcome: str = "RUNNING"
    reason: str = ""
    backend: str | None = None
    example: bool = False  # the shipped example run, kept apart from a user's runs
    host: str = ""
    platform: str = ""
    pi_model: str = ""
    pin_factory: str = ""
    clock_synced: bool | None = None  # NTP-synced wall clock (a Pi has no RTC): None = unknown
    argv: list[str] = field(default_factory=list)
    seed: int | None = None
    sim_wrap: str = ""
    versions: dict[str, str] = field(default_factory=dict)
    code_commit: str = ""
    mode: str = ""
    calibration_id: str = ""
    calibration: dict[str, Any] = field(default_factory=dict)
    profile: dict[str, Any] = field(default_factory=dict)  # path, sha256, as_used
    sequence: dict[str, Any] = field(default_factory=dict)
    bench: dict[str, Any] = field(default_factory=dict)
    sensor_id: str = ""
    log_file: str = ""
    rows: int = 0
    wrap_left_on: bool = False
    wrap_still_lit: bool = False  # light seen after switch-off: a failed relay/MOSFET
    events: list[str] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    behaviour: dict[str, Any] = field(default_factory=dict)
    modes: list[dict[str, Any]] = field(default_factory=list)  # per mode tested: outcome, notes, facts, behaviour
    verdict: str = ""  # the wrap's overall verdict over every mode's claims
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return self.outcome == "COMPLETED"

    @property
    def profile_as_used(self) -> dict[str, Any]:
        return dict(self.profile.get("as_used") or {})

    @property
    def wrap_label(self) -> str:
        used = self.profile_as_used
        return " ".join(str(used.get(k) or "") for k in ("maker", "model")).strip()

    @property
    def wrap_unit_label(self) -> str:
        used = self.profile_as_used
        return " ".join(str(used.get(k) or "") for k in ("maker", "model", "unit")).strip()

    @property
    def safety(self) -> dict[str, Any]:
        return dict((self.sequence.get("as_used") or {}).get("safety") or {})

    @property
    def interlock_surface_c(self) -> float | None:
        """The safety cut-out the run used (old runs: ``max_surface_c``)."""
        safety = self.safety
        return safety.get("interlock_surface_c", safety.get("max_surface_c"))

    @property
    def uniformity(self) -> dict[str, Any] | None:
        return (self.facts or {}).get("uniformity")

    @property
    def calibrated(self) -> bool:
        """Irradiance came through a calibration file (not the datasheet-nominal scale)."""
        if "calibrated" in self.calibration:
            return bool(self.calibration["calibrated"])
        return self.calibration_id not in ("", "nominal-datasheet")

    def with_changes(self, **changes: Any) -> RunManifest:
        """A copy with some fields changed (e.g. in tests: another backend or outcome)."""
        return RunManifest.from_json({**self.to_json(), **changes})

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        extra = data.pop("extra")
        return {**extra, **data}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunManifest:
        if not isinstance(data, dict):
            raise TypeError("run.json must hold a JSON object")
        known = {f.name for f in fields(cls)} - {"extra"}
        values = {k: v for k, v in data.items() if k in known and v is not None}
        manifest = cls(**values)
        manifest.extra = {k: v for k, v in data.items() if k not in known}
        if manifest.outcome not in OUTCOMES:
            manifest.outcome = "RUNNING"
        return manifest

    @classmethod
    def read(cls, path: Path) -> RunManifest:
        """Read a run folder's ``run.json`` (``path``: the folder or the file), checked: damage is a
        :class:`RigError` naming the file and the key."""
        from rig.results.read import read_manifest

        path = Path(path)
        return cls.from_json(read_manifest(path.parent if path.name == "run.json" else path))
