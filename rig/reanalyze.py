"""Re-analysing counts: a counts CSV from anywhere, or a whole run folder with an improved analysis.

Used by ``rig analyze``. A counts CSV is streamed (csv module, a chunk at a time: bounded memory, no pandas); a
run folder is read with pandas.
"""

from __future__ import annotations

import csv
import math
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rig.claims.evidence import RunFacts
from rig.claims.session import wrap_behaviour
from rig.claims.verdict import ClaimCheck
from rig.errors import RigError
from rig.profile import WrapProfile
from rig.results.schema import RunManifest, truthy
from rig.results.writer import safe_cell, write_csv_atomic, write_json_atomic
from rig.run.modes import judge_mode
from rig.spectrum import Calibration, Estimate, Readings, estimate_table
from rig.spectrum.counts_csv import READ_CHUNK_ROWS, CountsChunk, CountsCsv
from rig.spectrum.derive import make_deriver, nominal_calibration
from rig.spectrum.table import PARALLEL_MIN_ROWS, memory_workers, worker_pool

DERIVED_COLUMNS = [*Estimate().as_dict(), "calibration_id"]


def _for_chip(calibration: Calibration | None, chip, path: Path) -> Calibration | None:
    """``calibration`` if made for ``chip`` (the counts'); a nominal one becomes ``chip``'s; a calibration made
    for another chip is refused, naming both."""
    if calibration is None or calibration.chip.name == chip.name:
        return calibration
    if not calibration.calibrated:
        return nominal_calibration(calibration.transmission, chip)
    raise RigError(f"{path}: the counts are an {chip.name.upper()}'s; calibration {calibration.id!r} was made for an "
                   f"{calibration.chip.name.upper()} (recalibrate on the {chip.name.upper()})")


Progress = Callable[[int, int], None]  # (rows done, rows in all), after every chunk
CHUNK_ROWS = 500  # distinct readings per job (they are fitted together: fewer, larger steps are faster)
PREVIEW_ROWS = 20


@dataclass
class CountsAnalysis:
    """What :func:`analyze_counts_file` wrote: the file, its rows, the first rows (to show) and the processes."""

    out: Path
    rows: int
    preview: list[dict[str, Any]]
    workers: int


def analyze_counts_file(path: Path, out: Path, calibration: Calibration, progress: Progress | None = None,
                        read_rows: int = READ_CHUNK_ROWS, workers: int | None = None) -> CountsAnalysis:
    """Rows of raw counts (the chip's channels, gain_x, t_int_ms [, saturated]) -> ``out``: those rows plus the
    estimate.

    Every row is checked (a first pass) before the first is estimated. Then ``read_rows`` rows at a time are
    read, estimated (identical readings within them once) and appended to a temp file beside ``out``, renamed
    to ``out`` when all are done: memory stays bounded by the chunk whatever the file's length, and a failed
    analysis leaves no half file. ``workers`` (default :func:`memory_workers`, 1 below 4000 rows) processes
    estimate; ``progress`` hears how far the estimate is."""
    table = CountsCsv(path)
    calibration = _for_chip(calibration, table.chip, table.path)
    out = _checked_output(Path(out), table.path)
    total = sum(len(chunk.lines) for chunk in table.chunks(read_rows))  # every row checked, counted
    derived = list(Estimate().as_dict())  # the estimate's columns (a counts CSV has no claimed lines)
    columns = table.header + [c for c in derived if c not in table.header]
    workers = workers if workers is not None else (memory_workers() if total >= PARALLEL_MIN_ROWS else 1)
    preview: list[dict[str, Any]] = []
    done = 0
    try:
        handle = tempfile.NamedTemporaryFile("w", dir=out.parent, prefix=f".{out.name}.", suffix=".part",
                                             delete=False, newline="", encoding="utf-8")
    except OSError as error:
        raise RigError(f"cannot write {out}: {error.strerror or error}") from None
    try:
        with handle, worker_pool(workers) as pool:
            writer = csv.writer(handle)
            writer.writerow(columns)
            for chunk in table.chunks(read_rows):
                report = None if progress is None else (lambda rows, at=done: progress(at + rows, total))
                estimate = estimate_table(_readings(chunk, table.chip), calibration, progress=report,
                                          chunk_rows=CHUNK_ROWS, workers=workers, pool=pool)
                names = [c for c in derived if c in estimate]
                at = {name: columns.index(name) for name in names}
                values = {name: estimate[name].tolist() for name in names}
                for n, cells in enumerate(chunk.cells):
                    row = [safe_cell(cell) for cell in cells] + [""] * (len(columns) - len(cells))
                    for name in names:
                        row[at[name]] = _cell(values[name][n])
                    writer.writerow(row)
                    if len(preview) < PREVIEW_ROWS:
                        preview.append({**dict(zip(table.header, cells, strict=True)),
                                        **{name: _value(values[name][n]) for name in names}})
                done += len(chunk.cells)
            handle.flush()
            os.fchmod(handle.fileno(), 0o666 & ~_umask())  # as a file written in place would be, not 0600
            os.fsync(handle.fileno())
        os.replace(handle.name, out)
    except OSError as error:
        Path(handle.name).unlink(missing_ok=True)
        raise RigError(f"cannot write {out}: {error.strerror or error}") from None
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise
    return CountsAnalysis(out, done, preview, workers)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _checked_output(out: Path, source: Path) -> Path:
    """``out`` may be a new file or a regular file other than the source; a FIFO would block, a device or a
    folder cannot take the result, the source would be overwritten before it was read."""
    import stat

    try:
        info = out.stat()
    except FileNotFoundError:
        return out
    except OSError as error:
        raise RigError(f"{out}: cannot write here ({error.strerror or error})") from None
    if not stat.S_ISREG(info.st_mode):
        kind = "a folder" if stat.S_ISDIR(info.st_mode) else "a pipe" if stat.S_ISFIFO(info.st_mode) \
            else "a device or socket"
        raise RigError(f"{out}: --out is {kind}; expected a new or a regular CSV file")
    if out.samefile(source):
        raise RigError(f"{out}: --out is the counts CSV itself; expected another file (the input is kept)")
    return out


def _readings(chunk: CountsChunk, chip) -> Readings:
    """A checked chunk of ``chip``'s counts as the estimator's arrays."""
    numbers = chunk.numbers
    rows = len(chunk.lines)
    columns: dict[str, Any] = {c: numbers[c] for c in (*chip.channels, "gain_x", "t_int_ms")}
    if chunk.saturated:
        columns["saturated"] = chunk.saturated
    for name in ("full_scale", "atime", "astep"):
        if name in numbers:
            columns[name] = numbers[name]
    return Readings.from_columns(columns, rows, chip)


def _value(value: Any) -> Any:
    return None if isinstance(value, float) and math.isnan(value) else value


def _cell(value: Any) -> Any:
    """An estimate as a CSV cell: NaN blank, text made safe for spreadsheets."""
    if isinstance(value, float):
        return "" if math.isnan(value) else repr(value)
    return "" if value is None else safe_cell(value)


def reanalyze_run(run_dir: Path, profile: WrapProfile, calibration: Calibration | None,
                  out_dir: Path | None = None, progress: Progress | None = None) -> tuple[Path, list[Any]]:
    """Recompute a run's derived columns and summary from its raw counts into ``out_dir``.

    The original files are never touched: the result goes to ``<run>/reanalysis-<time>/`` by default.
    """
    import pandas as pd

    from rig.results.read import read_csv_checked, read_manifest, run_chip

    read_manifest(run_dir)  # a damaged run.json is named here, not half-used below
    manifest = RunManifest.read(run_dir / "run.json")
    samples_file = run_dir / "samples.csv"
    chip = run_chip(run_dir)  # the run's chip, from its channel columns
    calibration = _for_chip(calibration, chip, samples_file)
    samples = read_csv_checked(samples_file, filled=(*chip.channels, "gain_x", "t_int_ms", "t_s", "transmission"),
                               keep_default_na=False)
    if samples.empty:
        raise RigError(f"{samples_file}: a header but no samples: nothing to re-analyse")
    rows = samples.to_dict("records")
    names = [str(record.get("name")) for record in manifest.modes] or [manifest.mode or None]
    several = len(names) > 1  # rows of several modes: each mode is re-analysed on its own rows
    records = manifest.modes or [{}]
    checks, behaviour, columns, done = [], {}, list(samples.columns), 0
    for name, record in zip(names, records, strict=True):
        mode = profile.mode(name)
        mode_rows = [row for row in rows if row.get("mode") == mode.name] if several else rows
        derive = _derive_rows(mode_rows, make_deriver(calibration, mode.claims.lines, chip), progress, done, len(rows))
        done += len(mode_rows)
        columns += [c for c in derive.columns if c not in columns]
        facts = RunFacts.from_json(record.get("facts") if record else manifest.facts)
        outcome = record.get("outcome") if record else (manifest.outcome if manifest.start_time else "COMPLETED")
        checks += judge_mode(mode, mode_rows, facts, str(outcome or "COMPLETED"), str(record.get("reason") or
                                                                                        manifest.reason))
        behaviour[mode.name] = wrap_behaviour(mode_rows, facts)
    if progress is not None:
        progress(len(rows), len(rows))
    out_dir = out_dir or run_dir / f"reanalysis-{pd.Timestamp.now('UTC').strftime('%Y%m%d-%H%M%S')}"
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        write_csv_atomic(out_dir / "samples.csv", rows, columns)
        write_csv_atomic(out_dir / "summary.csv", [c.as_dict() for c in checks], ClaimCheck.columns())
        write_json_atomic(out_dir / "analysis.json", {
            "source_run": str(run_dir), "profile": profile.source, "mode": ", ".join(behaviour),
            "calibration_id": calibration.id if calibration else "nominal-datasheet",
            "behaviour": next(iter(behaviour.values())) if len(behaviour) == 1 else behaviour,
        })
    except OSError as error:
        raise RigError(f"cannot write the re-analysis into {out_dir}: {error.strerror or error}") from None
    return out_dir, checks


def _derive_rows(rows: list[dict[str, Any]], derive, progress: Progress | None, done: int, total: int):
    """The derived columns of ``rows`` recomputed in place, against the dark baseline of their own dark phase."""
    dark_rows = [r for r in rows if r.get("phase_kind") == "dark" and not truthy(r.get("saturated"))]
    dark = {c: sum(float(r[c]) for r in dark_rows) / len(dark_rows) for c in derive.chip.channels} if dark_rows else {}
    for row in rows:
        for column in derive.columns:
            row[column] = None
    readings = [row for row in rows if not truthy(row.get("saturated"))]  # a saturated reading keeps None
    for start in range(0, len(readings), CHUNK_ROWS):  # fitted together, a chunk at a time
        chunk = readings[start:start + CHUNK_ROWS]
        for row, values in zip(chunk, derive.many(chunk, dark), strict=True):
            row.update(values)
        if progress is not None and start + CHUNK_ROWS < len(readings):
            progress(done + start + CHUNK_ROWS, total)
    return derive


def reanalyze_folder(run_dir: Path, profile: WrapProfile, calibration_path: str | None, bench_sensor_id: str,
                     transmission: float, force: bool, out_dir: Path | None,
                     progress: Progress | None = None) -> tuple[Path, list[Any], list[str]]:
    """:func:`reanalyze_run` with the calibration chosen for the run's own sensor (warnings returned)."""
    from rig.calibration.select import select_calibration

    calibration, warnings = None, []
    if calibration_path:
        manifest = RunManifest.read(run_dir / "run.json") if (run_dir / "run.json").is_file() else RunManifest()
        sensor_id = (manifest.bench.get("spectral") or {}).get("sensor_id", bench_sensor_id)
        calibration, warnings = select_calibration(calibration_path, sensor_id, transmission, float("inf"), force)
    out, checks = reanalyze_run(run_dir, profile, calibration, out_dir, progress)
    return out, checks, warnings
