"""One run per bench: a lock file holding the running process's pid; stale locks (dead pid) are taken over."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from rig.errors import RigError


def bench_lock_path(backend: str, i2c_bus: int, power_pin: int) -> Path:
    """The lock for one physical bench (bus and power pin); the simulator has its own namespace."""
    return Path(tempfile.gettempdir()) / f"rig-{backend}-i2c{i2c_bus}-gpio{power_pin}.lock"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class BenchLock:
    """``with BenchLock(path):`` refuses to enter while another live process holds ``path``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.held = False

    def acquire(self) -> None:
        for _ in range(3):
            try:
                descriptor = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = self._holder()
                if holder is not None and holder != os.getpid() and _alive(holder):
                    raise RigError(f"the bench is in use by another rig run (pid {holder}, lock {self.path}); "
                                   "wait for it to finish or stop it") from None
                self.path.unlink(missing_ok=True)  # stale: its process is gone
                continue
            with os.fdopen(descriptor, "w") as handle:
                handle.write(f"{os.getpid()}\n")
            self.held = True
            return
        raise RigError(f"could not take the bench lock {self.path}")

    def _holder(self) -> int | None:
        try:
            return int(self.path.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def release(self) -> None:
        if self.held and self._holder() == os.getpid():
            self.path.unlink(missing_ok=True)
        self.held = False

    def __enter__(self) -> BenchLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
