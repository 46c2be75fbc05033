"""Reading a run folder's files for analysis, report and compare: damage is a RigError naming the file and the key,
column or line, never a traceback.

rig itself never leaves a torn row or a half-written JSON file (atomic writes, whole-row appends), so a file
that is cut short, not UTF-8, or missing a column was damaged after the run (a power cut, an interrupted copy,
a hand edit). What a run that stopped early legitimately lacks (no summary.csv after a crash, samples.csv with
a header only, or none when the bench never opened) is not damage: callers decide with ``missing_ok``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rig.errors import RigError

if TYPE_CHECKING:  # pandas only for the CSVs: run.json is read on the Pi by `rig run` without it
    import pandas as pd

# run.json keys that are objects (when present) and keys that are strings
MANIFEST_OBJECTS = ("profile", "profile.as_used", "sequence", "sequence.as_used", "sequence.as_used.safety",
                    "facts", "facts.uniformity", "behaviour", "bench", "calibration")
MANIFEST_STRINGS = ("run_id", "outcome", "reason", "mode", "start_time", "end_time", "backend", "calibration_id",
                    "sensor_id")
SUMMARY_COLUMNS = ("claim", "unit", "claimed", "low", "high", "measured", "uncertainty", "verdict")
SUMMARY_NUMBERS = ("claimed", "low", "high", "measured", "uncertainty")


def read_manifest(run_dir: Path) -> dict[str, Any]:
    """``run.json`` as a dict whose tables are tables and whose texts are texts, or a RigError naming the key."""
    path = run_dir / "run.json"
    if not path.is_file():
        raise RigError(f"{run_dir}: not a run folder (no run.json)")
    try:
        manifest = json.loads(path.read_bytes().decode("utf-8"))
    except OSError as error:
        raise RigError(f"{path}: cannot be read ({error.strerror or error})") from None
    except UnicodeDecodeError as error:
        raise RigError(f"{path}: not UTF-8 text (byte {error.start}): the file is damaged") from None
    except json.JSONDecodeError as error:
        raise RigError(f"{path}: expected the run's JSON manifest (not valid JSON: {error.msg} at line "
                       f"{error.lineno}, column {error.colno}): the file is damaged or cut short") from None
    if not isinstance(manifest, dict):
        raise RigError(f"{path}: expected a JSON object (the run's manifest), got a {type(manifest).__name__}")
    for key in MANIFEST_OBJECTS:
        value = _lookup(manifest, key)
        if value is not None and not isinstance(value, dict):
            raise RigError(f"{path}: '{key}': expected an object, got {value!r:.60}")
    for key in MANIFEST_STRINGS:
        value = manifest.get(key)
        if value is not None and not isinstance(value, str):
            raise RigError(f"{path}: '{key}': expected a string, got {value!r:.60}")
    return manifest


def _lookup(manifest: dict, dotted: str) -> Any:
    value: Any = manifest
    for part in dotted.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def run_chip(run_dir: Path):
    """The spectral chip a run folder's samples are from (its ``samples.csv`` channel columns; a missing or
    header-less file: the default chip)."""
    from rig.chips import DEFAULT_CHIP, chip_of_columns

    if not (run_dir / "samples.csv").is_file():  # missing, a FIFO, a device: read_csv_checked names it
        return DEFAULT_CHIP
    try:
        with (run_dir / "samples.csv").open(encoding="utf-8") as handle:
            header = handle.readline(100_000).strip().split(",")
    except (OSError, UnicodeDecodeError):
        return DEFAULT_CHIP
    try:
        return chip_of_columns(header, run_dir / "samples.csv")
    except RigError:
        return DEFAULT_CHIP  # read_csv_checked names the missing columns


def read_csv_checked(path: Path, *, required: tuple[str, ...] = (), numbers: tuple[str, ...] = (),
                     filled: tuple[str, ...] = (), missing_ok: bool = False, empty_ok: bool = False,
                     keep_default_na: bool = True) -> pd.DataFrame:
    """A CSV written by rig, checked: ``required`` columns present, ``numbers`` numeric where not blank,
    ``filled`` numeric and never blank. A missing file is an empty frame if ``missing_ok``, a 0-byte one if
    ``empty_ok`` (samples.csv of a run that died between creating the file and writing its header)."""
    import pandas as pd

    from rig.input_files import regular_file

    if missing_ok and not (path.exists() or path.is_symlink()):
        return pd.DataFrame()
    try:
        data = regular_file(path, "CSV file").read_bytes()  # a FIFO or /dev/zero would block or never end
    except OSError as error:
        raise RigError(f"{path}: cannot be read ({error.strerror or error})") from None
    if not data:
        if empty_ok:
            return pd.DataFrame()
        raise RigError(f"{path}: empty (not even a header)")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise RigError(f"{path}: not UTF-8 text (byte {error.start}): the file is damaged") from None
    if not data.endswith(b"\n"):
        last_line = data.count(b"\n") + 1
        raise RigError(f"{path}: line {last_line} is cut short (no line end): the file was damaged "
                       "or copied incompletely; delete that line to use the rows before it")
    try:
        frame = pd.read_csv(path, keep_default_na=keep_default_na, low_memory=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as error:
        raise RigError(f"{path}: not a readable CSV ({str(error).strip()})") from None
    missing = [c for c in (*required, *filled) if c not in frame.columns]
    if missing:
        raise RigError(f"{path}: missing column(s) {', '.join(repr(c) for c in missing)}")
    for column in dict.fromkeys((*numbers, *filled)):
        if column not in frame.columns:
            continue
        text = frame[column]
        values = pd.to_numeric(text, errors="coerce")
        blank = text.isna() | (text.astype(str).str.strip() == "")
        bad = values.isna() & (~blank | (column in filled))
        if bad.any():
            line = int(bad.to_numpy().nonzero()[0][0]) + 2
            got = text.iloc[line - 2]
            raise RigError(f"{path}: line {line}, column '{column}': expected a number (got {got!r})")
        frame[column] = values
    return frame


def read_summary(path: Path, *, missing_ok: bool = True) -> pd.DataFrame:
    """``summary.csv`` (one row per claim); missing after a crash is fine (an empty frame) unless not ``missing_ok``."""
    return read_csv_checked(path, required=SUMMARY_COLUMNS, numbers=SUMMARY_NUMBERS, missing_ok=missing_ok)
