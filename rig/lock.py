"""One run per physical bench: a kernel-held lock (``fcntl.flock``) on a file named after the bench.

The kernel drops the lock when its holder dies (crash, kill -9, power cut of the
process), so there is no stale lock to clean up, and two processes starting at
the same instant cannot both hold it. The file keeps the holder's pid and
command only to tell the next user who has the bench.

Where the lock lives:

- the real bench: one fixed system place, ``/run/lock/rig/`` (the same for every
  checkout, shell and systemd service, PrivateTmp or not), made at boot by the
  shipped tmpfiles.d entry (``rig/data/systemd/rig.conf``) owned by the ``rig``
  group, mode 2770; named by I2C bus and power pin;
- the simulator: inside the results folder, so unrelated checkouts (and tests)
  never block each other.

Between users and against tampering: the lock file is made mode 0660 (its group
is the folder's, ``rig``), so whichever member of the group ran first, the next
one can take it; it is opened with ``O_NOFOLLOW`` (a symlink planted there is
refused, never followed and truncated) and ``O_NONBLOCK`` (a FIFO cannot hang
the open), then checked to be a regular file with one link. A lock file another
user made unwritable is still locked (``flock`` needs only a read-only open);
only the holder note is then left unwritten.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import grp
import os
import stat
import sys
from pathlib import Path

from rig.errors import RigError

SYSTEM_LOCK_DIR = Path(os.environ.get("RIG_LOCK_DIR", "/run/lock/rig"))
SIM_LOCK_NAME = ".rig-sim-bench.lock"
LOCK_GROUP = "rig"
LOCK_FILE_MODE = 0o660
LOCK_DIR_MODE = 0o2770
_OPEN_FLAGS = os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC


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
        self._writable = False

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        if self._fd is not None:
            return
        try:
            self._make_folder()
            fd, self._writable = _open_lock_file(self.path)
        except OSError as error:
            raise RigError(f"cannot create the bench lock {self.path}: {error.strerror or error} (is this user "
                           f"in the '{LOCK_GROUP}' group? see the README, \"Unattended operation\"; or set "
                           "RIG_LOCK_DIR to a writable folder)") from error
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            holder = _read_holder(fd)
            os.close(fd)
            if error.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise RigError(f"the bench is in use by another rig process ({holder or 'unknown holder'}; lock "
                               f"{self.path}); wait for it to finish or stop it") from None
            raise RigError(f"cannot lock {self.path}: {error.strerror or error}") from error
        if self._writable:
            with contextlib.suppress(OSError):  # the note is for people; the kernel lock is what counts
                os.ftruncate(fd, 0)
                os.write(fd, f"{os.getpid()} {' '.join(sys.argv[:3])}\n".encode(errors="replace"))
        self._fd = fd

    def _make_folder(self) -> None:
        """The lock's folder, if missing: the system one 2770 in the ``rig`` group (as tmpfiles.d makes it), the
        simulator's (the results folder) as every results folder."""
        folder = self.path.parent
        if folder != SYSTEM_LOCK_DIR:
            if not folder.is_dir():
                from rig.results.writer import make_folder

                make_folder(folder)
            return
        if folder.is_symlink():
            raise RigError(f"the bench lock folder {folder} is a symbolic link: refused (someone may be tampering "
                           "with it): remove it (sudo rm) and install the tmpfiles.d entry (README)")
        if not folder.is_dir():
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        info = folder.stat()
        if info.st_uid != os.geteuid() or stat.S_IMODE(info.st_mode) == LOCK_DIR_MODE:
            return
        # ours and not yet as tmpfiles.d makes it (just made, or 1777 from an older rig): the rig group, 2770
        with contextlib.suppress(KeyError, OSError):  # no such group, or not ours to give: the creator's group
            os.chown(folder, -1, grp.getgrnam(LOCK_GROUP).gr_gid)
        os.chmod(folder, LOCK_DIR_MODE)

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            if self._writable:
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, 0)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def __enter__(self) -> BenchLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _open_lock_file(path: Path) -> tuple[int, bool]:
    """The lock file, opened without following a symlink or blocking on a FIFO, checked to be a plain file;
    ``(fd, writable)``. A new one (or our own) gets mode 0660 whatever the umask."""
    try:
        fd, writable = os.open(path, os.O_RDWR | os.O_CREAT | _OPEN_FLAGS, LOCK_FILE_MODE), True
    except PermissionError as refused:  # another user's file we may not write: flock needs only a read-only open
        try:
            fd, writable = os.open(path, os.O_RDONLY | _OPEN_FLAGS), False
        except FileNotFoundError:  # no file, and no right to make one in the folder
            raise refused from None
    except OSError as error:
        if error.errno in (errno.ELOOP, errno.EISDIR):
            kind = "a symbolic link" if error.errno == errno.ELOOP else "a folder"
            raise RigError(f"the bench lock {path} is {kind}: refused (rig never follows a link there; "
                           "someone may be tampering with it): remove it (sudo rm) and try again") from None
        raise
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:
            kind = "a file with other hard links" if stat.S_ISREG(info.st_mode) else _kind(info.st_mode)
            raise RigError(f"the bench lock {path} is {kind}, not a plain file: refused (someone may be tampering "
                           "with it): remove it (sudo rm) and try again")
        if writable and info.st_uid == os.geteuid() and stat.S_IMODE(info.st_mode) != LOCK_FILE_MODE:
            os.fchmod(fd, LOCK_FILE_MODE)  # the umask took the group's write: give it back
    except BaseException:
        os.close(fd)
        raise
    return fd, writable


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISDIR, "a folder"),
                       (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device")):
        if test(mode):
            return name
    return "not a regular file"


def _read_holder(fd: int) -> str:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        text = os.read(fd, 200).decode(errors="replace").strip()
    except OSError:
        return ""
    text = "".join(c if c.isprintable() else "?" for c in text)  # the file is writable by the whole group
    return f"pid {text}" if text else ""
