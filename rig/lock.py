"""One run per physical bench: a kernel-held lock (``fcntl.flock``) on a file named after the bench.

The kernel drops the lock when its holder dies (crash, kill -9, power cut of the
process), so there is no stale lock to clean up, and two processes starting at
the same instant cannot both hold it. The file keeps the holder's pid and
command only to tell the next user who has the bench.

Where the lock lives:

- the real bench: one fixed system place, ``/run/lock/rig/`` (Raspberry Pi OS:
  a tmpfs every user may write, and the same for every checkout, shell and
  systemd service, PrivateTmp or not); named by I2C bus and power pin;
- the simulator: inside the results folder, so unrelated checkouts (and tests)
  never block each other.
"""

from __future__ import annotations

import errno
import fcntl
import os
import sys
from pathlib import Path

from rig.errors import RigError

SYSTEM_LOCK_DIR = Path(os.environ.get("RIG_LOCK_DIR", "/run/lock/rig"))
SIM_LOCK_NAME = ".rig-sim-bench.lock"


def bench_lock_path(backend: str, i2c_bus: int, power_pin: int, results_dir: Path | str = "results") -> Path:
    """The lock file of one bench: system-wide for real hardware, per results folder for the simulator."""
    if backend == "sim":
        return Path(results_dir) / SIM_LOCK_NAME
    return SYSTEM_LOCK_DIR / f"i2c{i2c_bus}-gpio{power_pin}.lock"


class BenchLock:
    """``with BenchLock(path):`` holds the bench, or raises :class:`RigError` naming who has it."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        if self._fd is not None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o1777)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as error:
            raise RigError(f"cannot create the bench lock {self.path}: {error.strerror or error} "
                           "(set RIG_LOCK_DIR to a writable folder)") from error
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            holder = _read_holder(fd)
            os.close(fd)
            if error.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise RigError(f"the bench is in use by another rig process ({holder or 'unknown holder'}; lock "
                               f"{self.path}); wait for it to finish or stop it") from None
            raise RigError(f"cannot lock {self.path}: {error.strerror or error}") from error
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()} {' '.join(sys.argv[:3])}\n".encode(errors="replace"))
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def __enter__(self) -> BenchLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _read_holder(fd: int) -> str:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        text = os.read(fd, 200).decode(errors="replace").strip()
    except OSError:
        return ""
    return f"pid {text}" if text else ""
