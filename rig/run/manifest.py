"""What a run records about where and with what it ran: versions, code commit, host, Pi model, clock sync.

The code version needs no git at run time: ``versions["rig"]`` is the installed package's version
(importlib.metadata) and ``code_commit`` the commit ``make`` wrote into ``rig/_build_commit.txt`` when it
installed the checkout. Only without that file is git asked, with ``safe.directory`` set to the checkout: the
``rig`` service user running a checkout another user owns would otherwise be refused ("dubious ownership").
"""

from __future__ import annotations

import hashlib
import platform
import socket
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from rig import __version__
from rig.chips import CHIPS
from rig.results.schema import RunManifest

BUILD_COMMIT_FILE = Path(__file__).resolve().parents[1] / "_build_commit.txt"
PACKAGES = (*(chip.driver_package for chip in CHIPS.values()), "gpiozero", "smbus2", "numpy", "scipy", "lgpio")


def file_sha256(path: str) -> str | None:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return None


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    try:
        installed = version("rig")
    except PackageNotFoundError:  # run from a source tree that was never installed
        installed = __version__
    found = {"rig": installed, "python": platform.python_version()}
    for package in PACKAGES:
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = "not installed"
    return found


def code_commit(build_file: Path = BUILD_COMMIT_FILE, root: Path | None = None) -> str:
    """The commit written at install time (``rig/_build_commit.txt``, by ``make``), else git's answer for the
    checkout ``root`` (default: the one rig runs from; ``-dirty`` for local changes), else ''."""
    try:
        written = build_file.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        written = ""
    if written and len(written) <= 80 and written.isprintable():
        return written
    root = root or Path(__file__).resolve().parents[2]
    if not (root / ".git").exists():
        return ""
    try:
        out = subprocess.run(["git", "-c", f"safe.directory={root}", "-C", str(root), "describe", "--always",
                              "--dirty", "--abbrev=12"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


def pi_model() -> str:
    """The Raspberry Pi model from the device tree ('' elsewhere)."""
    try:
        return Path("/proc/device-tree/model").read_bytes().rstrip(b"\0").decode(errors="replace")
    except OSError:
        return ""


def clock_synced() -> bool | None:
    """Whether the wall clock is NTP-synchronised (a Pi has no RTC: an unsynced clock dates runs wrongly)."""
    if Path("/run/systemd/timesync/synchronized").exists():
        return True
    try:
        out = subprocess.run(["timedatectl", "show", "-p", "NTPSynchronized", "--value"], capture_output=True,
                             text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    answer = out.stdout.strip().lower()
    return {"yes": True, "no": False}.get(answer)


def new_manifest(run_id: str, start_time: str, profile, sequence, mode_name: str, calibration_id: str,
                 extra: dict[str, Any] | None = None) -> RunManifest:
    """The manifest written when a run starts (outcome RUNNING)."""
    extra = dict(extra or {})
    manifest = RunManifest(
        run_id=run_id, start_time=start_time, host=socket.gethostname(), platform=platform.platform(),
        pi_model=pi_model(), clock_synced=clock_synced(), argv=list(extra.pop("argv", sys.argv)),
        versions=versions(), code_commit=code_commit(), mode=mode_name, calibration_id=calibration_id,
        profile={"path": profile.source, "sha256": file_sha256(profile.source), "as_used": asdict(profile)},
        sequence={"path": sequence.source, "sha256": file_sha256(sequence.source), "as_used": asdict(sequence)})
    for key in ("seed", "sim_wrap", "calibration", "log_file"):
        if key in extra:
            setattr(manifest, key, extra.pop(key))
    manifest.extra.update(extra)
    return manifest
