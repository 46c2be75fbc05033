"""The one check every user-named input file gets before it is opened: it exists and is a regular file.

Opening a FIFO blocks until a writer comes; ``/dev/zero`` never ends; a folder fails with a bare OSError. All
three are refused here by ``stat`` alone, naming the file (TOML files: :func:`load_toml`, the one TOML loader).
"""

from __future__ import annotations

import stat
import tomllib
from pathlib import Path
from typing import Any

from rig.errors import ConfigError, RigError


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


MAX_TOML_BYTES = 1024 * 1024
MAX_TOML_DEPTH = 16  # tables and arrays nested deeper than any rig file needs (the deepest has 4 levels)


def load_toml(path: str | Path) -> dict[str, Any]:
    """Read a TOML file; anything but a readable, UTF-8, valid TOML file of at most 1 MiB, nested at most
    ``MAX_TOML_DEPTH`` levels, names the file and why (a :class:`ConfigError`).

    Directories, FIFOs and devices (``/dev/zero``) are refused before they are opened for reading. Every file kind
    (bench config, wrap profile, sequence, simulated wrap, calibration file) is read here.
    """
    path = Path(path)
    try:
        info = path.stat()
    except FileNotFoundError:
        raise ConfigError(str(path), "<file>", "an existing file") from None
    except OSError as error:
        raise ConfigError(str(path), "<file>", f"a readable file ({error.strerror or error})") from None
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError(str(path), "<file>", "a regular TOML file (not a folder, pipe or device)")
    if info.st_size > MAX_TOML_BYTES:
        raise ConfigError(str(path), "<file>", f"a TOML file of at most {MAX_TOML_BYTES // 1024} KiB",
                          f"{info.st_size} bytes")
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as error:
        raise ConfigError(str(path), "<file>", f"a readable file ({error.strerror or error})") from None
    except UnicodeDecodeError as error:
        raise ConfigError(str(path), "<encoding>", f"UTF-8 text (byte {error.start} is not)") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(str(path), "<syntax>", f"valid TOML ({error})") from None
    except RecursionError:  # tomllib parses nested arrays and inline tables recursively
        raise ConfigError(str(path), "<syntax>", f"tables and arrays nested at most {MAX_TOML_DEPTH} levels deep "
                          "(this file nests them too deep to read)") from None
    key = _too_deep(data)
    if key is not None:
        raise ConfigError(str(path), key, f"tables and arrays nested at most {MAX_TOML_DEPTH} levels deep")
    return data


def _too_deep(data: dict[str, Any]) -> str | None:
    """The first key (dotted) at which ``data`` nests deeper than ``MAX_TOML_DEPTH``, or None (no recursion)."""
    stack: list[tuple[Any, str, int]] = [(data, "", 0)]
    while stack:
        value, key, depth = stack.pop()
        if depth > MAX_TOML_DEPTH:
            return key[:200] + ("..." if len(key) > 200 else "")
        if isinstance(value, dict):
            stack.extend((v, f"{key}.{k}" if key else str(k), depth + 1) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((v, f"{key}[{i}]", depth + 1) for i, v in enumerate(value))
    return None
