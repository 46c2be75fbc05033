"""What a bench is doing now, for ``rig status``: read from the run folder, never from the hardware or the lock.

A run writes a small pointer beside its bench lock when it starts (:func:`point_to_run`): its pid and its run
folder. The pointer stays after the run, so the last run is found too. Everything else comes from the run's own
files, which are written as the run goes: ``run.json`` (wrap, mode, sequence, outcome once it ends) and the last
row of ``samples.csv`` (phase, irradiance, skin temperature). The lock folder and the run folders are readable by
the ``rig`` group, so an operator sees a run that the systemd unit started as another user.
"""

from __future__ import annotations

import csv
import io
import json
import os
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from rig.errors import RigError
from rig.results.schema import RunManifest

POINTER_SUFFIX = ".run"
TAIL_BYTES = 65536  # the last rows of samples.csv are found within this many bytes of its end
STALE_AFTER_S = 60.0  # a running run with no new row for this long gets a warning
WARNING_WORDS = ("fault", "warning", "interlock", "still lit", "lost", "failed")


def pointer_path(lock_path: Path | str) -> Path:
    """The pointer file that names the run holding (or last holding) the bench of ``lock_path``."""
    lock_path = Path(lock_path)
    return lock_path.with_name(lock_path.name + POINTER_SUFFIX)


def point_to_run(lock_path: Path | str, run_dir: Path) -> None:
    """Record that this process runs ``run_dir`` on the bench of ``lock_path`` (best effort: a status aid only)."""
    target = pointer_path(lock_path)
    text = json.dumps({"pid": os.getpid(), "run_dir": str(Path(run_dir).resolve()), "started": time.time()})
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
        os.chmod(tmp, 0o664)
        os.replace(tmp, target)
    except OSError:
        try:
            tmp.unlink()
        except OSError:
            pass


@dataclass
class BenchStatus:
    """One bench's state as ``rig status`` shows it (``--json`` prints :meth:`as_dict`)."""

    active: bool
    pointer: str
    run_dir: str = ""
    pid: int | None = None
    outcome: str = ""  # RUNNING while active; the run's outcome once it ended; DIED if its process died
    reason: str = ""
    wrap: str = ""
    mode: str = ""
    phase: str = ""
    phase_number: int | None = None
    phase_count: int | None = None
    elapsed_s: float | None = None
    planned_s: float | None = None
    remaining_s: float | None = None
    irradiance_mw_cm2: float | None = None
    irradiance_u_mw_cm2: float | None = None
    skin_c: float | None = None
    skin_probe: str = ""
    last_sample_age_s: float | None = None
    backend: str = ""
    warnings: list[str] = field(default_factory=list)

    @property
    def ended_badly(self) -> bool:
        return not self.active and self.outcome not in ("COMPLETED", "")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def find_pointers(folder: Path) -> list[Path]:
    """Every bench pointer in ``folder`` (the system lock folder, or a simulator's results folder)."""
    try:
        return sorted(p for p in folder.glob(f"*{POINTER_SUFFIX}") if p.is_file() and not p.name.startswith(".~"))
    except OSError:
        return []


def read_status(pointer: Path, now: float | None = None) -> BenchStatus:
    """The status of the bench whose pointer is ``pointer`` (a missing or damaged pointer: not active)."""
    now = time.time() if now is None else now
    status = BenchStatus(active=False, pointer=str(pointer))
    try:
        data = json.loads(pointer.read_text(encoding="utf-8"))
        run_dir = Path(str(data["run_dir"]))
        pid = int(data["pid"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        status.warnings.append(f"the run pointer {pointer} cannot be read ({error})")
        return status
    status.run_dir, status.pid = str(run_dir), pid
    try:
        manifest = RunManifest.read(run_dir)
    except RigError as error:
        status.warnings.append(f"{error} (run folder moved, deleted or damaged?)")
        status.outcome = "UNKNOWN"
        return status
    status.outcome, status.reason = manifest.outcome, manifest.reason
    status.mode, status.backend = manifest.mode, manifest.backend or ""
    status.wrap = manifest.wrap_unit_label
    alive = _process_alive(pid)
    status.active = manifest.outcome == "RUNNING" and alive
    if manifest.outcome == "RUNNING" and not alive:
        status.outcome = "DIED"
        status.reason = (f"process {pid} is gone and run.json was never finished (kill -9, power loss or a crash): "
                         "run `rig off` to be sure the wrap is off")
    phases = _planned_phases(manifest.sequence)
    status.planned_s = sum(duration for _, duration in phases) if phases else None
    status.phase_count = len(phases) or None
    status.skin_probe = _skin_probe(manifest.bench)
    row = _last_row(run_dir / "samples.csv")
    if row is not None:
        status.phase = row.get("phase", "")
        status.mode = row.get("mode") or status.mode
        labels = [label for label, _ in phases]
        if status.phase in labels:
            status.phase_number = labels.index(status.phase) + 1
        status.irradiance_mw_cm2 = _number(row.get("irradiance_mw_cm2"))
        status.irradiance_u_mw_cm2 = _number(row.get("irradiance_u_mw_cm2"))
        if status.skin_probe:
            status.skin_c = _number(row.get(f"{status.skin_probe}_c"))
        status.elapsed_s = _number(row.get("t_s"))  # the run's own clock (a simulated run is faster than the wall)
        wall = _parse_time(row.get("wall_time"))
        if wall is not None:
            status.last_sample_age_s = max(0.0, now - wall)
        status.warnings.extend(_row_warnings(run_dir / "samples.csv"))
    if status.active and status.elapsed_s is not None and status.planned_s is not None:
        status.remaining_s = max(0.0, status.planned_s - status.elapsed_s)
    if status.active and status.last_sample_age_s is not None and status.last_sample_age_s > STALE_AFTER_S:
        status.warnings.append(f"no new sample for {status.last_sample_age_s:.0f} s")
    interlock = manifest.interlock_surface_c
    if status.skin_c is not None and isinstance(interlock, int | float) and status.skin_c >= interlock - 3:
        status.warnings.append(f"skin temperature {status.skin_c:.1f} C is within 3 C of the interlock "
                               f"({interlock:g} C)")
    if manifest.wrap_still_lit:
        status.warnings.append("WRAP STILL LIT after switch-off: disconnect its power by hand")
    if manifest.wrap_left_on:
        status.warnings.append("the record says the wrap was LEFT ON: run `rig off`")
    return status


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, run by another user (the systemd unit's)
        return True
    except OSError:
        return False
    return True


def _planned_phases(sequence: dict[str, Any]) -> list[tuple[str, float]]:
    phases = (sequence.get("as_used") or {}).get("phases") or []
    planned = []
    for phase in phases:
        if isinstance(phase, dict):
            label = str(phase.get("name") or phase.get("kind") or "")
            duration = _number(phase.get("duration_s")) or 0.0
            planned.append((label, duration))
    return planned


def _skin_probe(bench: dict[str, Any]) -> str:
    probes = (bench.get("thermal") or {}).get("probes") or []
    for probe in probes:
        if isinstance(probe, dict) and probe.get("skin"):
            return str(probe.get("name") or "")
    return ""


def _tail_lines(path: Path) -> tuple[str, list[str]]:
    """The header line and the last complete lines of a CSV (at most :data:`TAIL_BYTES` read from its end)."""
    try:
        with open(path, "rb") as handle:
            header = handle.readline().decode("utf-8", errors="replace")
            size = handle.seek(0, os.SEEK_END)
            start = max(len(header.encode()), size - TAIL_BYTES)
            handle.seek(start)
            chunk = handle.read().decode("utf-8", errors="replace")
    except OSError:
        return "", []
    lines = chunk.splitlines(keepends=True)
    if start > len(header.encode()) and lines:
        lines = lines[1:]  # the first line of the chunk may be cut
    return header, [line for line in lines if line.endswith("\n")]  # a row being written is not complete yet


def _rows(path: Path) -> list[dict[str, str]]:
    header, lines = _tail_lines(path)
    if not header or not lines:
        return []
    return list(csv.DictReader(io.StringIO(header + "".join(lines))))


def _last_row(path: Path) -> dict[str, str] | None:
    rows = _rows(path)
    return rows[-1] if rows else None


def _row_warnings(path: Path) -> list[str]:
    seen: list[str] = []
    for row in _rows(path):
        event = (row.get("event") or "").strip()
        if event and any(word in event.lower() for word in WARNING_WORDS) and event not in seen:
            seen.append(event)
    return seen[-5:]


def _number(text: Any) -> float | None:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if value == value else None


def _parse_time(text: Any) -> float | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


def status_lines(status: BenchStatus) -> list[str]:
    """The status as lines of plain text for a terminal."""
    if not status.run_dir:
        return [f"no run recorded ({status.pointer})", *(f"warning: {w}" for w in status.warnings)]
    state = "RUNNING" if status.active else f"no run active; the last run ended {status.outcome or 'UNKNOWN'}"
    lines = [f"{state} (pid {status.pid}{', simulated' if status.backend == 'sim' else ''})"]
    if status.reason and not status.active:
        lines.append(f"  reason    {status.reason}")
    lines.append(f"  wrap      {status.wrap or '?'}" + (f", mode '{status.mode}'" if status.mode else ""))
    lines.append(f"  run       {status.run_dir}")
    if status.phase:
        where = f" ({status.phase_number}/{status.phase_count})" if status.phase_number else ""
        lines.append(f"  phase     {status.phase}{where}")
    if status.elapsed_s is not None:
        text = f"  time      {status.elapsed_s:.0f} s elapsed"
        if status.planned_s:
            text += f" of {status.planned_s:.0f} s planned"
        if status.remaining_s is not None:
            text += f", about {status.remaining_s:.0f} s left"
        lines.append(text)
    last = []
    if status.irradiance_mw_cm2 is not None:
        u = f" ± {status.irradiance_u_mw_cm2:.2g}" if status.irradiance_u_mw_cm2 is not None else ""
        last.append(f"irradiance {status.irradiance_mw_cm2:.1f}{u} mW/cm2")
    if status.skin_c is not None:
        last.append(f"skin ({status.skin_probe}) {status.skin_c:.1f} C")
    if status.last_sample_age_s is not None and status.active:
        last.append(f"{status.last_sample_age_s:.0f} s ago")
    if last:
        lines.append("  last      " + ", ".join(last))
    lines.extend(f"  warning   {w}" for w in status.warnings)
    return lines
