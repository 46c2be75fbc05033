"""Writing run results: a folder per run, samples appended row by row, summaries written whole.

Layout of ``results/<start>_<wrap>/``:

- ``samples.csv``: one row per sample, flushed (and fsynced) as it is taken, so a
  run killed at any moment keeps every row already written;
- ``summary.csv``: one row per claim (written by temp file + rename);
- ``run.json``: the manifest, written at start (outcome RUNNING) and again at the end;
- ``run.log``: created here (empty) so it gets the same mode as the rest; the run appends to it;
- ``.rig-reserve``: disk space held for the final record (:func:`release_reserve` frees it just before the
  last ``summary.csv`` and ``run.json``), so a disk that fills mid-run still gets its ERROR, reason and row count.

Modes: every file rig writes is ``0640`` and every folder it makes ``2750`` (group-readable, setgid so the
files take the folder's group), less what the process umask removes; temp-file-and-rename writes are chmodded
to the same mode as appended files. The ``rig`` group (README, "Unattended operation") reads what the
service writes.

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
RESERVE_NAME = ".rig-reserve"
RESERVE_BYTES = 1024 * 1024  # a final run.json is ~10 KB (events and facts), summary.csv ~1 KB: ample
FILE_MODE = 0o640
DIR_MODE = 0o2750
# run.json keys kept when the disk has no room for the whole record (write_run_record)
RECORD_ESSENTIALS = ("run_id", "start_time", "end_time", "outcome", "reason", "backend", "mode", "rows",
                     "wrap_left_on", "wrap_still_lit", "code_commit", "versions", "log_file")
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


def current_umask() -> int:
    """The process umask, read without changing it (``/proc/self/status``; elsewhere set and restored)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def file_mode() -> int:
    """The mode of every file rig writes: 0640 less the umask."""
    return FILE_MODE & ~current_umask()


def dir_mode() -> int:
    """The mode of every folder rig makes: 2750 less the umask (setgid: files inherit the folder's group)."""
    return DIR_MODE & ~current_umask()


def make_folder(path: Path) -> None:
    """``mkdir -p`` where the folders made (not those already there) get :func:`dir_mode`."""
    missing = []
    for folder in (path, *path.parents):
        if folder.exists() or folder.is_symlink():
            break
        missing.append(folder)
    path.mkdir(parents=True, exist_ok=True)
    for folder in reversed(missing):
        with contextlib.suppress(OSError):  # made by someone else in between: theirs to keep
            os.chmod(folder, dir_mode())


def make_run_dir(base: Path, start_wall_s: float, label: str) -> Path:
    """Create ``base/<YYYYmmdd-HHMMSS>_<slug>`` (suffixed if taken); check it is writable with room to spare,
    create ``run.log`` and hold :data:`RESERVE_BYTES` for the final record (:func:`release_reserve`)."""
    stamp = datetime.fromtimestamp(start_wall_s, UTC).strftime("%Y%m%d-%H%M%S")
    try:
        make_folder(base)
    except OSError as error:
        raise RigError(f"cannot create the results folder {base}: {error.strerror}") from error
    name = f"{stamp}_{slug(label)}"
    run_dir, suffix = base / name, 1
    while run_dir.exists():
        suffix += 1
        run_dir = base / f"{name}-{suffix}"
    try:
        run_dir.mkdir(mode=0o700)
        os.chmod(run_dir, dir_mode())
        probe = run_dir / ".write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as error:
        raise RigError(f"results folder {run_dir} is not writable: {error.strerror}") from error
    free = shutil.disk_usage(run_dir).free
    if free < MIN_FREE_BYTES:
        raise RigError(f"only {free // 1024} KiB free for results in {base}; need at least "
                       f"{MIN_FREE_BYTES // (1024 * 1024)} MiB")
    try:
        os.close(os.open(run_dir / "run.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, FILE_MODE))
        _hold_reserve(run_dir / RESERVE_NAME, RESERVE_BYTES)
    except OSError as error:
        raise RigError(f"results folder {run_dir}: cannot hold {RESERVE_BYTES // 1024} KiB for the run's record "
                       f"({error.strerror or error})") from error
    return run_dir


def _hold_reserve(path: Path, size_bytes: int) -> None:
    """A file of ``size_bytes`` real blocks (allocated, not sparse: the file system counts them as used at once;
    no fsync needed for that)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, FILE_MODE)
    try:
        try:
            os.posix_fallocate(fd, 0, size_bytes)
        except (OSError, AttributeError):  # a file system without fallocate: written zeros hold the blocks too
            block = bytes(64 * 1024)
            for _ in range(0, size_bytes, len(block)):
                os.write(fd, block)
    except OSError:
        os.close(fd)
        path.unlink(missing_ok=True)
        raise
    os.close(fd)


def release_reserve(run_dir: Path) -> None:
    """Free the space :func:`make_run_dir` held (call just before writing the run's final files)."""
    with contextlib.suppress(OSError):
        (run_dir / RESERVE_NAME).unlink()
        fd = os.open(run_dir, os.O_RDONLY | os.O_DIRECTORY)  # commit the unlink: the blocks become free now
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


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
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
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
            os.fchmod(handle.fileno(), file_mode())  # tempfile makes 0600: the same mode as every other file
            os.fsync(handle.fileno())
        os.replace(handle.name, path)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Write JSON by temp file + rename: readers see the old file or the new one, never half of one."""
    _atomic_write(path, lambda handle: json.dump(data, handle, indent=2, default=str))


def write_run_record(path: Path, data: dict[str, Any], essentials: tuple[str, ...] = RECORD_ESSENTIALS) -> str:
    """``run.json`` whatever the disk: whole by temp file + rename; if that finds no room, only the
    ``essentials`` keys (outcome, reason, rows...) by temp file + rename; if even that fails, the essentials
    written over the old file in place (its blocks are already allocated). Returns how it was written
    ("whole", "essentials", "in place"); raises OSError only when none of the three worked."""
    try:
        write_json_atomic(path, data)
        return "whole"
    except OSError as error:
        if error.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
    small = {key: data[key] for key in essentials if key in data}
    small["record"] = "essentials only: the disk was full (the rest of this run's record could not be written)"
    try:
        write_json_atomic(path, small)
        return "essentials"
    except OSError as error:
        if error.errno not in (errno.ENOSPC, errno.EDQUOT) or not path.is_file():
            raise
    text = json.dumps(small, indent=2, default=str).encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_NOFOLLOW)
    try:
        if os.fstat(fd).st_size < len(text):
            raise OSError(errno.ENOSPC, "no room for the run's record, even over the old one")
        view = memoryview(text)
        while view:
            view = view[os.write(fd, view):]
        os.ftruncate(fd, len(text))
        os.fsync(fd)
    finally:
        os.close(fd)
    return "in place"


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
