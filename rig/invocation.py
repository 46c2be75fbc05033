"""How to write a `rig` command so it runs as printed: `rig` when that is on PATH, else the path of this one."""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from pathlib import Path


def rig_program(argv0: str | None = None) -> str:
    """The word that starts a runnable `rig` command line in this shell: ``rig`` if the ``rig`` on PATH is this
    program, else this program's path (relative to the current folder when inside it, e.g. ``.venv/bin/rig``)."""
    argv0 = argv0 if argv0 is not None else sys.argv[0]
    program = Path(argv0)
    if program.name != "rig" or not program.exists():  # python -m rig.cli, or tests: the venv's script beside python
        program = Path(sys.executable).parent / "rig"
    on_path = shutil.which("rig")
    if on_path and Path(on_path).resolve() == program.resolve():
        return "rig"
    return shell_path(program)


def shell_path(path: str | os.PathLike) -> str:
    """A path as a shell word: relative to the current folder when inside it, quoted when needed."""
    path = Path(path).absolute()
    try:
        text = str(path.relative_to(Path.cwd()))
    except ValueError:
        text = str(path)
    return shlex.quote(text)


def rig_command(*words: str | os.PathLike) -> str:
    """A whole `rig ...` command line, runnable as printed (paths relative to the current folder, quoted)."""
    parts = [rig_program()]
    for word in words:
        is_path = isinstance(word, Path) or (os.sep in str(word) and Path(word).exists())
        parts.append(shell_path(word) if is_path else shlex.quote(str(word)))
    return " ".join(parts)
