"""The one check every user-named input file gets before it is opened: it exists and is a regular file.

Opening a FIFO blocks until a writer comes; ``/dev/zero`` never ends; a folder fails with a bare OSError. All
three are refused here by ``stat`` alone, naming the file (TOML files: :func:`rig.config.load_toml`).
"""

from __future__ import annotations

import stat
from pathlib import Path

from rig.errors import RigError


def regular_file(path: str | Path, what: str = "file") -> Path:
    """``path`` as a Path if it is an existing regular file; otherwise a RigError naming it and what it is."""
    path = Path(path)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise RigError(f"{path}: no such {what}") from None
    except OSError as error:
        raise RigError(f"{path}: cannot be read ({error.strerror or error})") from None
    if not stat.S_ISREG(mode):
        kind = "a folder" if stat.S_ISDIR(mode) else "a pipe" if stat.S_ISFIFO(mode) else "a device or socket"
        raise RigError(f"{path}: expected a regular {what}, not {kind}")
    return path
