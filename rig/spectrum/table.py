"""Many readings at once: every row of a counts table estimated, each distinct reading once, in batches, across
processes when there are many.

The table is held as arrays (one row per reading), and the estimate comes back as columns, so a 200 000-row
table costs tens of MB rather than a Python dict per row.
"""

from __future__ import annotations

import math
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from rig.chips import DEFAULT_CHIP, SpectralChip
from rig.results.schema import truthy
from rig.spectrum.estimator import estimate_many
from rig.spectrum.model import Calibration
from rig.spectrum.responsivity import Responsivity

if TYPE_CHECKING:
    from rig.spectrum.line_plan import LinePlan

PARALLEL_MIN_ROWS = 4000  # distinct readings below which a process pool costs more than it saves
CHUNK_ROWS = 1000  # distinct readings per job (and per progress report)

Progress = Callable[[int], None]  # rows of the table done so far


def _numbers(values: Iterable[Any]) -> np.ndarray:
    """Floats, a blank cell (None, "", NaN) as NaN."""
    return np.array([math.nan if v is None or (isinstance(v, str) and not v.strip()) else float(v) for v in values])


@dataclass(frozen=True)
class Readings:
    """A counts table as arrays, one row per reading: raw counts (rows x channels, the chip's order), nominal gain,
    t_int (ms), the saturation flag and the digital full scale (NaN: not given)."""

    counts: np.ndarray
    gain_x: np.ndarray
    t_int_ms: np.ndarray
    saturated: np.ndarray
    full_scale: np.ndarray

    @classmethod
    def from_columns(cls, columns: Mapping[str, Any], rows: int, chip: SpectralChip | None = None) -> Readings:
        """From columns (a DataFrame, or column name -> values): ``chip``'s channels (default: the default chip),
        ``gain_x``, ``t_int_ms``; optional ``saturated`` (true/1/yes), ``full_scale`` or ``atime`` + ``astep``
        (for the full-scale check)."""
        chip = chip or DEFAULT_CHIP
        counts = np.column_stack([_numbers(columns[c]) for c in chip.channels]) if rows \
            else np.zeros((0, chip.n_channels))
        saturated = np.array([truthy(v) for v in columns["saturated"]], bool) if "saturated" in columns \
            else np.zeros(rows, bool)
        full_scale = np.full(rows, math.nan)
        if "full_scale" in columns:
            full_scale = _numbers(columns["full_scale"])
        elif "atime" in columns and "astep" in columns:
            atime, astep = _numbers(columns["atime"]), _numbers(columns["astep"])
            given = ~(np.isnan(atime) | np.isnan(astep))
            full_scale[given] = [chip.full_scale_counts(int(a), int(s)) for a, s in zip(atime[given], astep[given],
                                                                                         strict=True)]
        return cls(counts, _numbers(columns["gain_x"]), _numbers(columns["t_int_ms"]), saturated, full_scale)

    def take(self, rows: np.ndarray) -> Readings:
        return Readings(self.counts[rows], self.gain_x[rows], self.t_int_ms[rows], self.saturated[rows],
                        self.full_scale[rows])


def estimate_table(readings: Readings, calibration: Calibration, plan: LinePlan | None = None,
                   progress: Progress | None = None, chunk_rows: int = CHUNK_ROWS, workers: int | None = None,
                   pool: Any = None) -> dict[str, np.ndarray]:
    """The estimate of every reading as columns (:meth:`Estimate.as_dict` keys; numbers as floats, NaN where
    not measured; ``flags`` as strings, ``uncalibrated`` added for an uncalibrated calibration).

    Identical readings (same counts and settings: dark and switched-off rows, a held reading) are estimated
    once; the distinct ones ``chunk_rows`` at a time, in order of first appearance, by ``workers`` processes
    (default: :func:`memory_workers` from ``PARALLEL_MIN_ROWS`` distinct readings, else 1), or by ``pool`` (an
    executor from :func:`worker_pool`, kept across calls). ``progress(rows_done)`` hears, after each chunk, how
    many of the table's rows have their estimate; its last call is the table's length."""
    rows = len(readings.counts)
    key = np.column_stack([readings.counts, readings.gain_x, readings.t_int_ms, readings.saturated,
                           np.nan_to_num(readings.full_scale, nan=-1.0)])
    _, first, inverse, repeats = np.unique(key, axis=0, return_index=True, return_inverse=True,
                                           return_counts=True)
    inverse = inverse.reshape(-1)
    order = np.argsort(first)  # distinct readings in the order they first appear
    if workers is None:
        workers = memory_workers() if len(order) >= PARALLEL_MIN_ROWS else 1
    chunks = [order[n:n + chunk_rows] for n in range(0, len(order), chunk_rows)]
    jobs = ((readings.take(first[chunk]), calibration, plan) for chunk in chunks)
    distinct: dict[str, np.ndarray] = {}
    done = 0
    for chunk, part in zip(chunks, _run(jobs, workers, pool), strict=True):
        for name, values in part.items():
            column = distinct.setdefault(name, np.full(len(order), math.nan, dtype=values.dtype))
            column[chunk] = values
        done += int(repeats[chunk].sum())
        if progress is not None:
            progress(done)
    if progress is not None and done != rows:
        progress(rows)
    return {name: values[inverse] for name, values in distinct.items()}


BUDGET_MB = 300.0  # what one analysis may take in all (main process + workers): a Pi Zero 2 W has 512 MB
MAIN_MB = 110.0  # the main process of `rig analyze` (imports, a chunk of rows being read and written), as Pss
WORKER_MB = 90.0  # what each worker adds (its own pages; the imports it shares with the main process count once)
MEMORY_SHARE = 0.5  # of the memory available now, what one analysis may take


def available_mb() -> float:
    """Memory available to new processes (MB): /proc/meminfo's MemAvailable, else free pages (os.sysconf)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) / 1024.0
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, AttributeError):
        return 0.0


def memory_workers(cpus: int | None = None, free_mb: float | None = None, budget_mb: float = BUDGET_MB) -> int:
    """Processes to estimate with: one per CPU, but only as many as fit beside the main process in
    ``budget_mb`` or half the memory available now, whichever is less, at ``WORKER_MB`` each; 1 (the main
    process does the work, no pool) when fewer than two fit (less than ~580 MB available: a Pi Zero 2 W)."""
    cpus = cpus if cpus is not None else (os.cpu_count() or 1)
    free_mb = available_mb() if free_mb is None else free_mb
    room = min(budget_mb, free_mb * MEMORY_SHARE) - MAIN_MB
    return max(1, min(cpus, int(room // WORKER_MB)))


@contextmanager
def worker_pool(workers: int) -> Iterator[Any]:
    """A process pool of ``workers`` to pass to :func:`estimate_table` call after call (None for one worker: the
    estimate runs in this process). Workers start when the first job comes."""
    if workers <= 1:
        yield None
        return
    import gc
    from concurrent.futures import ProcessPoolExecutor  # only here: the sampling path on the Pi never needs it

    with ProcessPoolExecutor(workers) as pool:
        gc.collect()
        gc.freeze()  # the workers' garbage collector leaves what they inherit alone: those pages stay shared
        try:
            pool.submit(int).result()  # every worker forks now, from a lean process (before any rows are read)
        finally:
            gc.unfreeze()
        yield pool


def _run(jobs: Iterable[tuple], workers: int, pool: Any = None) -> Iterator[dict[str, np.ndarray]]:
    """Each job's columns, in order; with several workers at most two jobs per worker wait at a time (memory)."""
    if pool is None:
        if workers <= 1:
            yield from (_estimate_columns(*job) for job in jobs)
            return
        with worker_pool(workers) as own:
            yield from _run(jobs, workers, own)
        return
    workers = getattr(pool, "_max_workers", workers)
    waiting: deque = deque()
    for job in jobs:
        waiting.append(pool.submit(_estimate_columns, *job))
        if len(waiting) >= 2 * workers:
            yield waiting.popleft().result()
    while waiting:
        yield waiting.popleft().result()


def _estimate_columns(readings: Readings, calibration: Calibration, plan: LinePlan | None
                      ) -> dict[str, np.ndarray]:
    """One job: the estimates of these readings as columns."""
    full_scale = [None if math.isnan(f) else int(f) for f in readings.full_scale]
    results = [e.as_dict(calibrated=calibration.calibrated) for e in estimate_many(
        readings.counts, readings.gain_x, readings.t_int_ms, calibration, readings.saturated, full_scale, plan)]
    names = dict.fromkeys(name for result in results for name in result)
    return {name: np.array([r.get(name) for r in results], dtype=object) if name == "flags"
            else np.array([math.nan if r.get(name) is None else r[name] for r in results], dtype=float)
            for name in names}


def analyze_counts(rows: Iterable[Mapping[str, Any]], calibration: Calibration | None = None,
                   dark_counts: Sequence[float] | None = None, plan: LinePlan | None = None,
                   progress: Progress | None = None, progress_every: int = CHUNK_ROWS,
                   workers: int | None = None, chip: SpectralChip | None = None) -> list[dict[str, Any]]:
    """Estimate every row of a counts table given as dicts (``chip``'s channels: default the calibration's, else
    the default chip's); each result is the row plus :meth:`Estimate.as_dict`
    (None where not measured).

    Columns as :meth:`Readings.from_columns`, plus an optional ``transmission`` (used when no calibration is
    given: then the datasheet-nominal calibration applies and rows get the flag ``uncalibrated``). Values may be
    strings (from ``csv.DictReader``). ``dark_counts`` (chip order) overrides the calibration's dark baseline.
    ``plan``: claimed lines to fit. Identical readings are estimated once, ``progress_every`` distinct readings
    per chunk (see :func:`estimate_table`)."""
    rows = list(rows)
    groups: dict[float, list[int]] = {}
    for n, row in enumerate(rows):
        transmission = calibration.transmission if calibration else float(row.get("transmission") or 0.01)
        groups.setdefault(transmission, []).append(n)
    out: list[dict[str, Any]] = [dict(row) for row in rows]
    base = 0
    responsivity = calibration.responsivity if calibration is not None else None
    for transmission, members in groups.items():
        cal = calibration or Calibration(responsivity or Responsivity.load(chip=chip), transmission=transmission)
        if dark_counts is not None:
            cal = cal.with_dark(dark_counts)
        part = [rows[n] for n in members]
        readings = Readings.from_columns({name: [row.get(name) for row in part] for name in _names(part)}, len(part),
                                         cal.chip)
        report = None if progress is None else (lambda done, at=base: progress(at + done))
        columns = estimate_table(readings, cal, plan, report, progress_every, workers)
        for name, values in columns.items():
            for n, value in zip(members, values.tolist(), strict=True):
                out[n][name] = None if isinstance(value, float) and math.isnan(value) else value
        base += len(members)
    return out


def _names(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """The columns any row has."""
    return list(dict.fromkeys(name for row in rows for name in row))
