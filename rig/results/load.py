"""Loading results for analysis: one run or many, into tidy pandas DataFrames.

    from rig.results.load import load_runs
    runs = load_runs(["results/*"])        # folders or globs
    runs.runs       # one row per run: run_id, wrap, unit, mode, start, outcome, backend, calibration, complete,
                    # example, banners (simulated, uncalibrated, incomplete, calibration_old, example),
                    # modes (the modes tested, in order), mode_outcomes (each one's outcome), verdict (overall)
    runs.summaries  # one row per run, mode and claim (summary.csv), with run_id, mode and a stable claim_id
    runs.samples()  # every sample of every run (samples.csv), with run_id (read on demand: it is large)
    runs.skipped    # notes on what the patterns named that is not a run (e.g. results/README.md)
    runs.warnings   # damaged runs left out (naming the file), folders holding one run id counted once

A run that did not finish (ABORTED, ERROR, or ``run.json`` still RUNNING after a
crash, or no summary) loads too, marked ``complete = False``. A run that tested several modes
(``rig run --mode all``) has one summary row per mode and claim; an older run's summary has no ``mode``
column: its rows get the run's one mode from ``run.json``.
"""

from __future__ import annotations

import csv
import glob
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from rig.claims.ids import claim_id
from rig.errors import RigError
from rig.results.banners import run_banners
from rig.results.schema import RunManifest, summary_row_problem

RUN_COLUMNS = ["run_id", "maker", "model", "unit", "wrap", "mode", "start_time", "end_time", "outcome", "reason",
               "backend", "calibration_id", "sensor_id", "complete", "example", "banners", "path",
               "modes", "mode_outcomes", "verdict"]
NUMERIC_SUMMARY = ["claimed", "low", "high", "measured", "uncertainty"]


def find_run_dirs(patterns: Iterable[str | Path]) -> list[Path]:
    """Run folders named by ``patterns`` (folders, globs, or folders of runs), sorted, without repeats.

    What is not a run (a README beside the runs) is left out; see :func:`scan_run_dirs` for the notes."""
    return scan_run_dirs(patterns)[0]


def scan_run_dirs(patterns: Iterable[str | Path]) -> tuple[list[Path], list[str]]:
    """``(run folders, notes on what was skipped)``; a pattern matching nothing at all is an error."""
    found: dict[Path, None] = {}
    notes: list[str] = []
    for pattern in patterns:
        matches = [Path(p) for p in sorted(glob.glob(str(pattern)))]
        if not matches and Path(pattern).exists():  # a name with glob characters in it, e.g. "run [2]"
            matches = [Path(pattern)]
        if not matches:
            raise RigError(f"{pattern}: no such file or folder (expected a run folder with run.json, a folder "
                           "of runs, or a glob)")
        for path in matches:
            if (path / "run.json").is_file():
                found[path.resolve()] = None
            elif path.is_dir():
                children = [c for c in sorted(path.iterdir()) if (c / "run.json").is_file()]
                if not children:
                    notes.append(f"{path}: skipped, not a run (no run.json) and no runs in it")
                for child in children:
                    found[child.resolve()] = None
            else:
                notes.append(f"{path}: skipped, not a run folder")
    return list(found), notes


def _read_manifest(run_dir: Path) -> RunManifest:
    return RunManifest.read(run_dir)


def _run_row(run_dir: Path, manifest: RunManifest, has_summary: bool) -> dict:
    banners = [banner.kind for banner in run_banners(manifest, has_summary)]
    profile = manifest.profile_as_used
    maker, model, unit = (str(profile.get(k) or "") for k in ("maker", "model", "unit"))
    return {
        "run_id": manifest.run_id or run_dir.name, "maker": maker, "model": model, "unit": unit,
        "wrap": manifest.wrap_label, "mode": manifest.mode, "start_time": manifest.start_time,
        "end_time": manifest.end_time, "outcome": manifest.outcome, "reason": manifest.reason,
        "backend": manifest.backend, "calibration_id": manifest.calibration_id, "sensor_id": manifest.sensor_id,
        "complete": "incomplete" not in banners, "example": manifest.example,
        "banners": ",".join(banners), "path": str(run_dir), **_run_modes(manifest),
    }


def _run_modes(manifest: RunManifest) -> dict:
    """The modes a run tested, in order, with their outcomes, and the run's overall verdict (older runs: their
    one mode, the run's outcome, and a verdict filled from the summary by :func:`_with_modes`)."""
    records = [m for m in manifest.modes if isinstance(m, dict) and m.get("name")]
    if records:
        return {"modes": [str(m["name"]) for m in records],
                "mode_outcomes": [str(m.get("outcome") or manifest.outcome) for m in records],
                "verdict": manifest.verdict}
    return {"modes": [manifest.mode], "mode_outcomes": [manifest.outcome], "verdict": manifest.verdict}


def _with_modes(runs: pd.DataFrame, summaries: pd.DataFrame) -> pd.DataFrame:
    """The summaries with a ``mode`` on every row (older runs: their one mode from run.json); fills the overall
    verdict of older runs (the worst claim; DID NOT FINISH for a run that did not finish and FAILed nothing)."""
    mode_of = dict(zip(runs.run_id, runs["mode"], strict=True))
    filled = summaries["run_id"].map(mode_of)
    if "mode" in summaries:
        given = summaries["mode"]
        filled = given.where(given.notna() & (given.astype(str) != ""), filled)
    summaries = summaries.drop(columns=["mode"], errors="ignore")
    summaries.insert(0, "mode", filled.fillna("").astype(str))
    worst = summaries.groupby("run_id")["verdict"].agg(
        lambda v: next((w for w in ("FAIL", "MARGINAL", "PASS", "NOT MEASURED") if w in set(v)), ""))
    for index, row in runs.iterrows():
        if not row["verdict"]:
            verdict = worst.get(row["run_id"], "")
            runs.at[index, "verdict"] = verdict if row["complete"] or verdict == "FAIL" else "DID NOT FINISH"
    return summaries


@dataclass
class LoadedRuns:
    """Runs, their summaries, and their samples on demand."""

    runs: pd.DataFrame
    summaries: pd.DataFrame
    skipped: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # damaged runs left out, copies of a run counted once

    def samples(self) -> pd.DataFrame:
        """All samples of all runs, with ``run_id`` (rows of a crashed run are all there)."""
        frames = []
        for run_id, path in zip(self.runs.run_id, self.runs.path, strict=True):
            file = Path(path) / "samples.csv"
            if file.is_file() and file.stat().st_size:
                frame = pd.read_csv(file)
                frame.insert(0, "run_id", run_id)
                frames.append(frame)
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def load_runs(patterns: str | Path | Iterable[str | Path]) -> LoadedRuns:
    """Load many runs. Summaries are read with the csv module and framed once: far cheaper than a
    ``pd.read_csv`` per file when comparing hundreds of runs.

    A run whose ``run.json`` or ``summary.csv`` is damaged is left out with a warning naming the file (the
    others are compared); folders holding the same run (one ``run_id``: copies) count once, the first, with a
    warning naming them. Time and memory grow linearly with the number of runs."""
    run_rows: list[dict] = []
    summary_records: list[dict] = []
    if isinstance(patterns, (str, Path)):  # one folder or glob, not a list of one-letter names
        patterns = [patterns]
    warnings: list[str] = []
    run_dirs, skipped = scan_run_dirs(patterns)
    first_of: dict[str, Path] = {}
    copies: dict[str, list[Path]] = {}
    for run_dir in run_dirs:
        try:
            manifest = _read_manifest(run_dir)
            run_id = manifest.run_id or run_dir.name
            if run_id in first_of:
                copies.setdefault(run_id, []).append(run_dir)
                continue
            summary_file = run_dir / "summary.csv"
            has_summary = summary_file.exists() or summary_file.is_symlink()  # not a file: named below
            records = _summary_records(summary_file) if has_summary else []
        except RigError as error:
            warnings.append(f"{error}; this run is left out")
            continue
        first_of[run_id] = run_dir
        row = _run_row(run_dir, manifest, has_summary)
        run_rows.append(row)
        for record in records:
            record["run_id"] = row["run_id"]
            record["claim_id"] = claim_id(record.get("claim") or "", record.get("unit") or "",
                                          record.get("claim_id"))
            summary_records.append(record)
    for run_id, others in copies.items():
        shown = ", ".join(str(p) for p in others[:5]) + (f" and {len(others) - 5} more" if len(others) > 5 else "")
        warnings.append(f"{len(others) + 1} folders hold run {run_id!r} (copies of one run): counted once, from "
                        f"{first_of[run_id]}; left out: {shown}")
    runs = pd.DataFrame(run_rows, columns=RUN_COLUMNS)
    runs["start_time"] = pd.to_datetime(runs["start_time"], utc=True, errors="coerce")
    summaries = pd.DataFrame.from_records(summary_records)
    if not summaries.empty:
        for column in NUMERIC_SUMMARY:
            summaries[column] = pd.to_numeric(summaries[column], errors="coerce")
        summaries = _with_modes(runs, summaries)
        summaries = summaries[["run_id", "claim_id", *[c for c in summaries.columns
                                                        if c not in ("run_id", "claim_id")]]]
    return LoadedRuns(runs, summaries, skipped, warnings)


def _summary_records(path: Path) -> list[dict]:
    """The rows of one summary.csv (csv module: cheap for hundreds of runs), or a RigError naming the damage."""
    from rig.input_files import regular_file
    from rig.results.read import SUMMARY_COLUMNS

    try:
        data = regular_file(path, "CSV file").read_bytes()  # a FIFO or /dev/zero would block or never end
        text = data.decode("utf-8")
    except OSError as error:
        raise RigError(f"{path}: cannot be read ({error.strerror or error})") from None
    except UnicodeDecodeError as error:
        raise RigError(f"{path}: not UTF-8 text (byte {error.start}): the file is damaged") from None
    if not text:
        raise RigError(f"{path}: empty (not even a header)")
    if not text.endswith("\n"):
        raise RigError(f"{path}: line {text.count(chr(10)) + 1} is cut short (no line end): the file was damaged "
                       "or copied incompletely")
    reader = csv.DictReader(text.splitlines())
    try:
        missing = [c for c in SUMMARY_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise RigError(f"{path}: missing column(s) {', '.join(repr(c) for c in missing)}")
        records = []
        for record in reader:
            if None in record or None in record.values():
                raise RigError(f"{path}: line {reader.line_num}: expected {len(reader.fieldnames or [])} cells")
            problem = summary_row_problem(record)
            if problem:
                raise RigError(f"{path}: line {reader.line_num}, {problem}")
            records.append(record)
    except csv.Error as error:
        raise RigError(f"{path}: line {reader.line_num}: not a readable CSV ({error})") from None
    return records

