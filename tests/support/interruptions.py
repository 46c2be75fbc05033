"""Things done to a running `rig run` from outside, and what the run must then record.

Signals (HUP, INT, QUIT, TERM, USR1, USR2, PIPE) mid-run, the results folder deleted mid-run, SIGTERM right
after the last sample. Each runs the real CLI on the paced simulator, either as a child process (``make bench``,
the table) or inside the calling process (``make test``: :func:`rig.cli.main` in the main thread, the
interruption from a watcher thread, so a signal reaches the same handlers it would in a child).
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

from support.faultsuite import PROFILE
from support.handlers import SIGNALS, handlers_restored
from support.texts import led_string, phase, settings, wrap_mode

SEQUENCE = ("\n" + settings(name="interrupted") + phase("dark", duration_s=3.0, interval_s=1.0) + phase("on")
            + phase("measure", duration_s=40.0, interval_s=1.0) + phase("off")
            + phase("cooldown", duration_s=10.0, interval_s=5.0))
WRAP = (settings(name="steady wrap", droop_fraction=0.0) + led_string("red", 660.0, 20.0, 30.0)
        + wrap_mode("red", ["red"]))
PACE = 80.0  # simulated seconds per real second: the 40 s measure phase lasts 0.5 s, time to act mid-run
LATE_PACE = 400.0  # for SIGTERM-after-last: nothing to catch mid-run, only the end
BESIDE_PACE = 15.0  # a run long enough (~4 s) for a second process to start beside it
MID_RUN_ROWS = 8  # the dark phase's 3 rows and 5 of the measure phase's 40


@dataclass(frozen=True)
class Interruption:
    """What is done (``action``: a signal name, ``delete-folder`` or ``SIGTERM-after-last``) and what must follow."""

    name: str
    action: str
    outcome: str  # regular expression over the recorded outcome
    reason_contains: str  # regular expression over the recorded reason
    exit_codes: tuple[int, ...] = (3,)
    csv_kept: bool = True  # samples.csv still there (and holding run.json's row count)


INTERRUPTIONS = [
    *(Interruption(f"{name} mid-run", name, "ABORTED", f"{name} received") for name in SIGNALS),
    Interruption("results folder deleted mid-run", "delete-folder", "ERROR",
                 "results could not be written.*deleted during the run", csv_kept=False),
    # the run may be judged complete (signal held while switching off) or stopped: either way a whole record
    Interruption("SIGTERM right after the last sample", "SIGTERM-after-last", "COMPLETED|ABORTED", ".",
                 exit_codes=(0, 1, 3)),
]


@dataclass
class InterruptionResult:
    """What one interrupted run left behind (``rows_in_csv`` None: no samples.csv)."""

    interruption: Interruption
    exit_code: int
    outcome: str
    reason: str
    switch_left_on: bool
    wrap_lit_at_end: bool
    rows_in_csv: int | None
    rows_recorded: int
    stray_files: list[str]
    stderr: str

    @property
    def problems(self) -> list[str]:
        """Every way the run's record differs from what the interruption must leave (empty: as expected)."""
        expected, found = self.interruption, []
        if not re.fullmatch(expected.outcome, self.outcome):
            found.append(f"outcome {self.outcome}")
        if not re.search(expected.reason_contains, self.reason):
            found.append(f"reason {self.reason!r}")
        if self.exit_code not in expected.exit_codes:
            found.append(f"exit code {self.exit_code}")
        if self.switch_left_on or self.wrap_lit_at_end:
            found.append("wrap left on")
        if expected.csv_kept and self.rows_in_csv != self.rows_recorded:
            found.append(f"{self.rows_in_csv} rows in samples.csv, run.json says {self.rows_recorded}")
        if self.stray_files:
            found.append(f"stray files {self.stray_files}")
        if "Traceback" in self.stderr:
            found.append("traceback on stderr")
        return found


def prepare(work: Path) -> list[str]:
    """Write the profile, sequence and simulated wrap into ``work``; the `rig run` arguments that use them."""
    work.mkdir(parents=True, exist_ok=True)
    (work / "profile.toml").write_text(PROFILE)
    (work / "sequence.toml").write_text(SEQUENCE)
    (work / "wrap.toml").write_text(WRAP)
    return ["run", "--sim", "--quiet", "--wrap", str(work / "profile.toml"), "--sequence",
            str(work / "sequence.toml"), "--sim-wrap", str(work / "wrap.toml"), "--out", str(work / "results")]


def rows_now(out: Path) -> tuple[Path | None, int]:
    """The run folder under ``out`` and the whole rows in its samples.csv so far."""
    for run_dir in out.glob("[!.]*"):
        try:
            data = (run_dir / "samples.csv").read_bytes()
        except OSError:
            return run_dir, 0
        return run_dir, max(0, data.count(b"\n") - 1)
    return None, 0


def act_when(out: Path, rows: int, act: Callable[[Path], None], alive: Callable[[], bool],
             timeout_s: float = 60.0) -> bool:
    """Poll until samples.csv under ``out`` holds ``rows`` rows, then ``act(run_dir)``; False if the run ended."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and alive():
        run_dir, count = rows_now(out)
        if run_dir is not None and count >= rows:
            act(run_dir)
            return True
        time.sleep(0.002)
    return False


def reference_rows(work: Path, seed: int = 0) -> int:
    """Rows of the same run left alone (the simulator is deterministic for a seed): where 'the last sample' is."""
    from rig.cli import main

    argv = prepare(work)
    with handlers_restored(), redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):
        main([*argv, "--seed", str(seed)])
    return read_back(work / "results")[4]


def _action(interruption: Interruption, pid: int) -> Callable[[Path], None]:
    if interruption.action == "delete-folder":
        return lambda run_dir: shutil.rmtree(run_dir, ignore_errors=True)
    name = interruption.action.removesuffix("-after-last")
    return lambda _run_dir: os.kill(pid, getattr(signal, name))


def run_interrupted(interruption: Interruption, work: Path, seed: int = 0) -> InterruptionResult:
    """The interrupted run as a child process (``python -m rig.cli run --sim --sim-pace ...``)."""
    trigger = reference_rows(work / "reference", seed) if interruption.action.endswith("after-last") \
        else MID_RUN_ROWS
    argv = prepare(work)
    pace = LATE_PACE if interruption.action.endswith("after-last") else PACE
    process = subprocess.Popen([sys.executable, "-m", "rig.cli", *argv, "--seed", str(seed), "--sim-pace",
                                str(pace)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=work)
    act_when(work / "results", trigger, _action(interruption, process.pid), lambda: process.poll() is None)
    _, stderr = process.communicate(timeout=120)
    return InterruptionResult(interruption, process.returncode, *read_back(work / "results"), stderr)


def run_interrupted_in_process(interruption: Interruption, work: Path, seed: int = 0) -> InterruptionResult:
    """The interrupted run through :func:`rig.cli.main` in this (main) thread; signal handlers are restored after.

    Not for ``SIGTERM-after-last`` (a signal landing after ``main`` returned would hit the caller).
    """
    from rig.cli import main

    assert threading.current_thread() is threading.main_thread()
    assert not interruption.action.endswith("after-last")
    argv = prepare(work)
    finished = threading.Event()
    watcher = threading.Thread(target=act_when, args=(work / "results", MID_RUN_ROWS,
                                                      _action(interruption, os.getpid()),
                                                      lambda: not finished.is_set()), daemon=True)
    stderr = io.StringIO()
    watcher.start()
    with handlers_restored():
        try:
            with redirect_stdout(io.StringIO()), redirect_stderr(stderr):
                code = main([*argv, "--seed", str(seed), "--sim-pace", str(PACE)])
        finally:
            finished.set()
            watcher.join()
    return InterruptionResult(interruption, code, *read_back(work / "results"), stderr.getvalue())


def read_back(out: Path) -> tuple[str, str, bool, bool, int | None, int, list[str]]:
    """outcome, reason, switch left on, wrap lit at end, rows in samples.csv (None: none), rows in run.json, and
    stray files (temporary files left behind) of the one run under ``out``."""
    (run_dir,) = list(out.glob("[!.]*"))
    manifest = json.loads((run_dir / "run.json").read_text())
    try:
        with (run_dir / "samples.csv").open(newline="") as handle:
            rows: int | None = sum(1 for _ in csv.DictReader(handle))
    except FileNotFoundError:
        rows = None
    stray = sorted(p.name for p in run_dir.iterdir() if p.name.startswith("."))
    return (manifest["outcome"], manifest["reason"], bool(manifest.get("wrap_left_on")),
            bool(manifest.get("sim_wrap_lit_at_end")), rows, int(manifest.get("rows", 0)), stray)


@dataclass
class BesideResult:
    """A second command started beside a running `rig run`: its exit code and stderr, and the run's own record."""

    name: str
    exit_code: int
    stderr: str
    run: InterruptionResult

    @property
    def problems(self) -> list[str]:
        found = list(self.run.problems)
        if BESIDE[self.name] == ["run"] and not (self.exit_code == 2 and "in use by another rig process"
                                                       in self.stderr):
            found.append(f"second run not refused (exit {self.exit_code}: {self.stderr.strip()[-200:]})")
        if BESIDE[self.name] != ["run"] and self.exit_code != 0:
            found.append(f"rig off failed (exit {self.exit_code}: {self.stderr.strip()[-200:]})")
        return found


LEFT_ALONE = Interruption("left alone", "none", "COMPLETED", "all phases ran", exit_codes=(0, 1))
BESIDE = {"a second rig run on the same bench": ["run"], "a rig off while a run holds the lock": ["off", "--sim"]}


def run_beside(name: str, work: Path, seed: int = 0) -> BesideResult:
    """Start a paced `rig run`, then (mid-run) the command ``BESIDE[name]`` in another process; both as children."""
    argv = prepare(work)
    first = subprocess.Popen([sys.executable, "-m", "rig.cli", *argv, "--seed", str(seed), "--sim-pace",
                              str(BESIDE_PACE)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=work)
    second: list[subprocess.CompletedProcess] = []
    command = argv if BESIDE[name] == ["run"] else BESIDE[name]
    act_when(work / "results", MID_RUN_ROWS, lambda _dir: second.append(subprocess.run(
        [sys.executable, "-m", "rig.cli", *command], capture_output=True, text=True, cwd=work, timeout=120)),
             lambda: first.poll() is None)
    _, stderr = first.communicate(timeout=120)
    done = second[0] if second else subprocess.CompletedProcess([], -1, "", "the first run ended too soon")
    return BesideResult(name, done.returncode, done.stderr,
                        InterruptionResult(LEFT_ALONE, first.returncode, *read_back(work / "results"), stderr))
