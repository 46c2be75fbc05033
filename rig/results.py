"""Writing run results: a folder per run, samples appended row by row, summaries written whole.

Layout of ``results/<start>_<wrap>/``:

- ``samples.csv``: one row per sample, flushed (and fsynced) as it is taken, so a
  run killed at any moment keeps every row already written;
- ``summary.csv``: one row per claim (written by temp file + rename);
- ``run.json``: the manifest, written at start (outcome RUNNING) and again at the end.

Everything loads with pandas in one call each: ``pd.read_csv(run / "samples.csv")``.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import io
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rig.errors import RigError

MIN_FREE_BYTES = 20 * 1024 * 1024
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """Strings a spreadsheet could take for a formula (``=``, ``+``, ``-``, ``@``) get a leading quote."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def slug(text: str, max_length: int = 48) -> str:
    """A file-name-safe slug (no separators, no dots at the start): cannot escape the results folder."""
    cleaned = re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()
    return cleaned[:max_length].strip("-") or "wrap"


def iso_utc(wall_s: float) -> str:
    return datetime.fromtimestamp(wall_s, UTC).isoformat(timespec="seconds")


def make_run_dir(base: Path, start_wall_s: float, label: str) -> Path:
    """Create ``base/<YYYYmmdd-HHMMSS>_<slug>`` (suffixed if taken); check it is writable with room to spare."""
    stamp = datetime.fromtimestamp(start_wall_s, UTC).strftime("%Y%m%d-%H%M%S")
    try:
        base.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise RigError(f"cannot create the results folder {base}: {error.strerror}") from error
    name = f"{stamp}_{slug(label)}"
    run_dir, suffix = base / name, 1
    while run_dir.exists():
        suffix += 1
        run_dir = base / f"{name}-{suffix}"
    try:
        run_dir.mkdir()
        probe = run_dir / ".write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as error:
        raise RigError(f"results folder {run_dir} is not writable: {error.strerror}") from error
    free = shutil.disk_usage(run_dir).free
    if free < MIN_FREE_BYTES:
        raise RigError(f"only {free // 1024} KiB free for results in {base}; need at least "
                       f"{MIN_FREE_BYTES // (1024 * 1024)} MiB")
    return run_dir


class SamplesWriter:
    """``samples.csv`` with a fixed header; every row is one whole line, written, fsynced and checked.

    A write that fails part-way (disk full) is cut back to the last whole row, so a torn row is never left
    for a reader to take as data; a file deleted under the writer (its folder removed mid-run) is an error,
    not a silent success. ``rows_written`` counts the rows on disk.
    """

    def __init__(self, path: Path, columns: list[str]) -> None:
        self.path = path
        self.columns = list(columns)
        self.rows_written = 0
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        self._size = 0
        self._append(self._line(dict(zip(self.columns, self.columns, strict=True))))

    @staticmethod
    def _encode(values: list[Any]) -> bytes:
        buffer = io.StringIO()
        csv.writer(buffer).writerow(values)
        return buffer.getvalue().encode("utf-8")

    def _line(self, row: dict[str, Any]) -> bytes:
        return self._encode([_csv_value(row.get(key)) for key in self.columns])

    def write(self, row: dict[str, Any]) -> None:
        self._append(self._line(row))
        self.rows_written += 1

    def _append(self, data: bytes) -> None:
        try:
            view = memoryview(data)
            while view:
                written = os.write(self._fd, view)
                view = view[written:]
            os.fsync(self._fd)
        except OSError:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, self._size)  # no torn row
                os.lseek(self._fd, self._size, os.SEEK_SET)
            raise
        if os.fstat(self._fd).st_nlink == 0:
            raise OSError(errno.ENOENT, f"{self.path} was deleted during the run")
        self._size += len(data)

    def close(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return int(value)
    return safe_cell(value)


def _atomic_write(path: Path, write) -> None:
    handle = tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=f".{path.name}.", delete=False,
                                         newline="", encoding="utf-8")
    try:
        with handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(handle.name, path)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Write JSON by temp file + rename: readers see the old file or the new one, never half of one."""
    _atomic_write(path, lambda handle: json.dump(data, handle, indent=2, default=str))


def write_text_atomic(path: Path, text: str) -> None:
    """Write a text file (a calibration, a page) by temp file + rename: the old one stays whole until replaced."""
    _atomic_write(path, lambda handle: handle.write(text))


def write_csv_atomic(path: Path, rows: Iterable[dict[str, Any]], columns: list[str]) -> None:
    """Write a whole CSV by temp file + rename."""
    def write(handle) -> None:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({key: _csv_value(row.get(key)) for key in columns})
    _atomic_write(path, write)
