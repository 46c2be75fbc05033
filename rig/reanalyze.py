"""Re-analysing counts: a counts CSV from anywhere, or a whole run folder with an improved analysis.

Used by ``rig analyze``. Analysis side only (pandas allowed).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from rig.claims.evidence import RunFacts
from rig.claims.session import wrap_behaviour
from rig.claims.verdict import ClaimCheck
from rig.errors import RigError
from rig.profile import WrapProfile
from rig.results.schema import RunManifest, truthy
from rig.results.writer import write_csv_atomic, write_json_atomic
from rig.run.modes import judge_mode
from rig.spectrum import Calibration, Estimate, Readings, estimate_table
from rig.spectrum.derive import make_deriver
from rig.spectrum.responsivity import CHANNELS, GAIN_CODES_X

DERIVED_COLUMNS = [*Estimate().as_dict(), "calibration_id"]

COUNTS_COLUMNS = [*CHANNELS, "gain_x", "t_int_ms"]


def _check_row_lengths(path: Path) -> None:
    """Every row as long as the header (pandas would take extra leading cells as an index, shifting columns)."""
    import csv

    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            return
        for row in reader:
            if row and len(row) != len(header):
                raise RigError(f"{path}: line {reader.line_num}: {len(row)} cells, the header has {len(header)}")


Progress = Callable[[int, int], None]  # (rows done, rows in all), after every chunk
CHUNK_ROWS = 500  # distinct readings per progress step (they are fitted together: fewer, larger steps are faster)


def analyze_counts_csv(path: Path, calibration: Calibration, progress: Progress | None = None) -> pd.DataFrame:
    """Rows of raw counts (F1..NIR, gain_x, t_int_ms [, saturated]) -> the same rows plus the estimate.

    Every row is checked before the first is estimated; ``progress`` hears how far the estimate is."""
    from rig.input_files import regular_file

    path = regular_file(path, "counts CSV")
    try:
        _check_row_lengths(path)
        frame = pd.read_csv(path, index_col=False)
    except pd.errors.EmptyDataError:
        raise RigError(f"{path}: empty file; expected a header with {', '.join(COUNTS_COLUMNS)} and rows") from None
    except (OSError, pd.errors.ParserError, UnicodeDecodeError, ValueError) as error:
        raise RigError(f"{path}: cannot read as CSV ({error})") from error
    if frame.empty:
        raise RigError(f"{path}: a header but no readings")
    missing = [c for c in COUNTS_COLUMNS if c not in frame.columns]
    if missing:
        raise RigError(f"{path}: missing column(s) {', '.join(missing)}; expected {', '.join(COUNTS_COLUMNS)}")
    for column in COUNTS_COLUMNS:
        values = pd.to_numeric(frame[column], errors="coerce")
        bad = values.isna()
        if bad.any():
            first = bad.idxmax()
            raise RigError(f"{path}: line {int(first) + 2}, column '{column}': expected a number "
                           f"(got {frame[column][first]!r})")
        frame[column] = values
    for column in CHANNELS:
        bad_count = ~((frame[column] >= 0) & (frame[column] < float("inf")))
        if bad_count.any():
            first = int(bad_count.to_numpy().argmax())
            raise RigError(f"{path}: line {first + 2}, column '{column}': expected raw counts >= 0 "
                           f"(got {frame[column].iloc[first]!r})")
    bad_gain = ~frame["gain_x"].isin(GAIN_CODES_X)
    if bad_gain.any():
        first = int(bad_gain.to_numpy().argmax())
        raise RigError(f"{path}: line {first + 2}, column 'gain_x': expected one of {GAIN_CODES_X} "
                       f"(got {frame['gain_x'].iloc[first]!r})")
    bad_time = ~(frame["t_int_ms"] > 0) | ~frame["t_int_ms"].map(lambda v: v < float("inf"))
    if bad_time.any():
        first = int(bad_time.to_numpy().argmax())
        raise RigError(f"{path}: line {first + 2}, column 't_int_ms': expected a time > 0 ms "
                       f"(got {frame['t_int_ms'].iloc[first]!r})")
    total = len(frame)
    report = None if progress is None else (lambda done: progress(done, total))
    columns = estimate_table(Readings.from_columns(frame, total), calibration, progress=report, chunk_rows=CHUNK_ROWS)
    for name, values in columns.items():
        frame[name] = values
    return frame


def reanalyze_run(run_dir: Path, profile: WrapProfile, calibration: Calibration | None,
                  out_dir: Path | None = None, progress: Progress | None = None) -> tuple[Path, list[Any]]:
    """Recompute a run's derived columns and summary from its raw counts into ``out_dir``.

    The original files are never touched: the result goes to ``<run>/reanalysis-<time>/`` by default.
    """
    from rig.results.read import read_csv_checked, read_manifest

    read_manifest(run_dir)  # a damaged run.json is named here, not half-used below
    manifest = RunManifest.read(run_dir / "run.json")
    samples_file = run_dir / "samples.csv"
    samples = read_csv_checked(samples_file, filled=(*CHANNELS, "gain_x", "t_int_ms", "t_s", "transmission"),
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
        derive = _derive_rows(mode_rows, make_deriver(calibration, mode.claims.lines), progress, done, len(rows))
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
    dark = {c: sum(float(r[c]) for r in dark_rows) / len(dark_rows) for c in CHANNELS} if dark_rows else {}
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
    from rig.calibration.file import select_calibration

    calibration, warnings = None, []
    if calibration_path:
        manifest = RunManifest.read(run_dir / "run.json") if (run_dir / "run.json").is_file() else RunManifest()
        sensor_id = (manifest.bench.get("spectral") or {}).get("sensor_id", bench_sensor_id)
        calibration, warnings = select_calibration(calibration_path, sensor_id, transmission, float("inf"), force)
    out, checks = reanalyze_run(run_dir, profile, calibration, out_dir, progress)
    return out, checks, warnings
