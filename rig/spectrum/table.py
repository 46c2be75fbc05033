"""Many readings at once: every row of a counts table estimated, in batches, across processes when large."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from rig.responsivity import CHANNELS, Responsivity, full_scale_counts
from rig.spectrum.estimator import estimate_many
from rig.spectrum.model import Calibration

if TYPE_CHECKING:
    from rig.line_plan import LinePlan

PARALLEL_MIN_ROWS = 4000  # below this a process pool costs more than it saves
CHUNK_ROWS = 1000

# (counts, gain_x, t_int_ms, saturated, full_scale, transmission): rows with the same key have the same estimate
_Key = tuple[tuple[float, ...], float, float, bool, "int | None", float]


def _truthy(value: object) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes", "y")


def analyze_counts(rows: Iterable[Mapping[str, Any]], calibration: Calibration | None = None,
                   dark_counts: Sequence[float] | None = None, plan: LinePlan | None = None,
                   progress: Callable[[int], None] | None = None, progress_every: int = CHUNK_ROWS,
                   workers: int | None = None) -> list[dict[str, Any]]:
    """Estimate every row of a counts table; each result is the row plus :meth:`Estimate.as_dict`.

    Rows need F1..NIR (raw counts), ``gain_x`` and ``t_int_ms``; optional ``saturated`` (true/1/yes),
    ``full_scale`` or ``atime`` + ``astep`` (for the full-scale check) and ``transmission`` (used when no
    calibration is given: then the datasheet-nominal calibration applies and rows get the flag
    ``uncalibrated``). ``dark_counts`` (CHANNELS order) overrides the calibration's dark baseline. Values
    may be strings (from ``csv.DictReader``). ``plan``: claimed lines to fit. Rows with the same counts and
    settings (dark and switched-off rows, a held reading) are estimated once; the others are fitted together,
    ``progress_every`` rows at a time. ``progress(rows_done)`` is called after each such chunk and at the end.
    ``workers``: processes (default: one per CPU for tables of ``PARALLEL_MIN_ROWS`` rows or more, else 1).
    """
    rows = list(rows)
    if workers is None:
        workers = (os.cpu_count() or 1) if len(rows) >= PARALLEL_MIN_ROWS else 1
    if workers <= 1:
        return _analyze_chunk(rows, calibration, dark_counts, plan, progress, progress_every)
    from concurrent.futures import ProcessPoolExecutor

    chunks = [rows[i:i + CHUNK_ROWS] for i in range(0, len(rows), CHUNK_ROWS)]
    out: list[dict[str, Any]] = []
    with ProcessPoolExecutor(workers) as pool:
        for part in pool.map(_analyze_chunk, chunks, *zip(*[(calibration, dark_counts, plan)] * len(chunks),
                                                          strict=True)):
            out += part
            if progress is not None:
                progress(len(out))
    return out


def _analyze_chunk(rows: Sequence[Mapping[str, Any]], calibration: Calibration | None,
                   dark_counts: Sequence[float] | None, plan: LinePlan | None,
                   progress: Callable[[int], None] | None = None, progress_every: int = CHUNK_ROWS
                   ) -> list[dict[str, Any]]:
    """:func:`analyze_counts` in this process."""
    responsivity = calibration.responsivity if calibration is not None else Responsivity.load()
    calibrations: dict[float, Calibration] = {}
    done: dict[_Key, dict[str, Any]] = {}
    out: list[dict[str, Any]] = []
    for start in range(0, len(rows), progress_every):
        part = rows[start:start + progress_every]
        keyed = []
        wanted: dict[_Key, Calibration] = {}
        for row in part:
            cal = calibration
            if cal is None:
                transmission = float(row.get("transmission") or 0.01)
                cal = calibrations.get(transmission) or calibrations.setdefault(
                    transmission, Calibration(responsivity, transmission=transmission))
            key = _key(row, cal.transmission)
            keyed.append(key)
            if key not in done:
                wanted[key] = cal
        _estimate_keys(wanted, dark_counts, plan, done)
        out += [{**row, **done[key]} for row, key in zip(part, keyed, strict=True)]
        if progress is not None and len(part) == progress_every:
            progress(len(out))
    if progress is not None:
        progress(len(out))
    return out


def _key(row: Mapping[str, Any], transmission: float) -> _Key:
    full_scale = None
    if row.get("full_scale") not in (None, ""):
        full_scale = int(float(row["full_scale"]))
    elif row.get("atime") not in (None, "") and row.get("astep") not in (None, ""):
        full_scale = full_scale_counts(int(float(row["atime"])), int(float(row["astep"])))
    counts = tuple(float(row[c]) for c in CHANNELS)
    return counts, float(row["gain_x"]), float(row["t_int_ms"]), _truthy(row.get("saturated", "")), full_scale, \
        transmission


def _estimate_keys(wanted: Mapping[_Key, Calibration], dark_counts: Sequence[float] | None,
                   plan: LinePlan | None, done: dict[_Key, dict[str, Any]]) -> None:
    """Estimate the distinct readings ``wanted``, one batch per calibration, into ``done`` (CSV row form)."""
    by_calibration: dict[int, list[_Key]] = {}
    calibration_of: dict[int, Calibration] = {}
    for key, cal in wanted.items():
        by_calibration.setdefault(id(cal), []).append(key)
        calibration_of[id(cal)] = cal
    for ident, keys in by_calibration.items():
        cal = calibration_of[ident]
        if dark_counts is not None:
            cal = cal.with_dark(dark_counts)
        results = estimate_many([k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys], cal,
                                [k[3] for k in keys], [k[4] for k in keys], plan)
        for key, result in zip(keys, results, strict=True):
            row = result.as_dict()
            if not cal.calibrated:
                row["flags"] = ";".join(f for f in (row["flags"], "uncalibrated") if f)
            done[key] = row
