"""Re-analysing counts: a counts CSV from anywhere, or a whole run folder with an improved analysis.

Used by ``rig analyze``. Analysis side only (pandas allowed).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from rig.analysis import make_deriver
from rig.claims import RunFacts, check_claims, wrap_behaviour
from rig.errors import RigError
from rig.profile import WrapProfile
from rig.responsivity import CHANNELS
from rig.results import write_csv_atomic, write_json_atomic
from rig.runner import DERIVED_COLUMNS, SUMMARY_COLUMNS
from rig.spectrum import Calibration, analyze_counts

COUNTS_COLUMNS = [*CHANNELS, "gain_x", "t_int_ms"]


def analyze_counts_csv(path: Path, calibration: Calibration) -> pd.DataFrame:
    """Rows of raw counts (F1..NIR, gain_x, t_int_ms [, saturated]) -> the same rows plus the estimate."""
    try:
        frame = pd.read_csv(path)
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as error:
        raise RigError(f"{path}: cannot read as CSV ({error})") from error
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
    return pd.DataFrame(analyze_counts(frame.to_dict("records"), calibration))


def reanalyze_run(run_dir: Path, profile: WrapProfile, calibration: Calibration | None,
                  out_dir: Path | None = None) -> tuple[Path, list[Any]]:
    """Recompute a run's derived columns and summary from its raw counts into ``out_dir``.

    The original files are never touched: the result goes to ``<run>/reanalysis-<time>/`` by default.
    """
    samples_file = run_dir / "samples.csv"
    if not samples_file.is_file():
        raise RigError(f"{run_dir}: no samples.csv: not a run folder")
    manifest = json.loads((run_dir / "run.json").read_text(encoding="utf-8")) if (run_dir / "run.json").is_file() \
        else {}
    samples = pd.read_csv(samples_file, keep_default_na=False)
    rows = samples.to_dict("records")
    dark_rows = [r for r in rows if r.get("phase_kind") == "dark" and not _truthy(r.get("saturated"))]
    dark = {c: sum(float(r[c]) for r in dark_rows) / len(dark_rows) for c in CHANNELS} if dark_rows else {}
    derive = make_deriver(calibration)
    for row in rows:
        for column in DERIVED_COLUMNS:
            row[column] = None
        if not _truthy(row.get("saturated")):
            row.update(derive(row, dark))
    facts = RunFacts(**manifest.get("facts", {})) if manifest.get("facts") else RunFacts()
    mode = profile.mode(manifest.get("mode") or None)
    checks = check_claims(mode.claims, rows, facts)
    out_dir = out_dir or run_dir / f"reanalysis-{pd.Timestamp.now('UTC').strftime('%Y%m%d-%H%M%S')}"
    out_dir.mkdir(parents=True, exist_ok=True)
    write_csv_atomic(out_dir / "samples.csv", rows, list(samples.columns))
    write_csv_atomic(out_dir / "summary.csv", [c.as_dict() for c in checks], SUMMARY_COLUMNS)
    write_json_atomic(out_dir / "analysis.json", {
        "source_run": str(run_dir), "profile": profile.source, "mode": mode.name,
        "calibration_id": calibration.id if calibration else "nominal-datasheet",
        "behaviour": wrap_behaviour(rows, facts),
    })
    return out_dir, checks


def _truthy(value: Any) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes")
