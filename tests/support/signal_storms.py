"""Signal storms: 2-5 stop signals at seeded random moments against `rig run`, `read --on`, `calibrate
--switch-on` and `check` on the paced simulator, and what must then hold.

Each storm states its signals (any of HUP INT QUIT TERM USR1 USR2 PIPE), where they go (the process, or its
whole process group) and when: some time after an anchor (the command ready to take signals, the wrap
switched on, the wrap switched off), with gaps of 0-30 ms between them. The simulated power pin logs every
change of its level to a file (``RIG_SIM_SWITCH_LOG``, :mod:`rig.sim.backend`): the last line is the wrap's
real final power, whatever the rig believes. What must hold: the log ends off; no traceback, no internal error,
no death by signal; and for a run, ``run.json`` is finished (not RUNNING), its ``wrap_left_on`` matches the
log, its rows match ``samples.csv`` and the exit code is the one its outcome gives.

Storms run as child processes (``make bench``: tests/bench/bench_faults.py; and a few in ``make test``, the
process-group ones) or inside the calling process (``make test``: :func:`rig.cli.main` in the main thread, the
signals from a thread).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from support.handlers import SIGNALS, handlers_restored
from support.interruptions import WRAP, prepare

COMMANDS = ("run", "read", "calibrate", "check")
ANCHORS = {"run": ("ready", "on", "off"), "read": ("ready", "on", "off"), "calibrate": ("ready", "on", "off"),
           "check": ("ready",)}
SPAN_S = {"ready": 1.0, "on": 0.5, "off": 0.25}  # the first signal lands up to this long after its anchor
SPAN_S_CHECK = 0.3  # `rig check` is over soon after it is ready
IN_PROCESS_READY_S = {"run": 0.5, "read": 0.2, "calibrate": 0.3, "check": 0.05}  # no interpreter start-up
PACE = 80.0  # simulated seconds per real second
TIMEOUT_S = 120.0
LOG_ENV = "RIG_SIM_SWITCH_LOG"


@dataclass(frozen=True)
class Storm:
    """What is sent: ``signals`` (names) to the ``target`` ("pid" or "group"), the first ``delay_s`` after the
    ``anchor``, the next ones ``gaps_s`` apart."""

    command: str
    seed: int
    signals: tuple[str, ...]
    target: str
    anchor: str
    delay_s: float
    gaps_s: tuple[float, ...]
    welded: bool = False  # the wrap's relay is welded: switching off leaves it lit (rig must say WRAP STILL LIT)

    @property
    def name(self) -> str:
        return (f"{self.command}#{self.seed}{' welded' if self.welded else ''}: "
                f"{'+'.join(s.removeprefix('SIG') for s in self.signals)} to {self.target}, "
                f"{self.delay_s * 1000:.0f} ms after {self.anchor}")


def storm(command: str, seed: int, in_process: bool = False, welded: bool = False) -> Storm:
    """The storm numbered ``seed`` for ``command`` (the same every time); ``in_process``: aimed at the pid only,
    timed for a command with no interpreter start-up."""
    rnd = random.Random(f"{command}/{seed}")
    count = rnd.randint(2, 5)
    anchor = rnd.choice(ANCHORS[command])
    span_s = SPAN_S_CHECK if command == "check" else SPAN_S[anchor]
    if in_process and anchor == "ready":
        span_s = IN_PROCESS_READY_S[command]
    target = rnd.choice(("pid", "group"))
    return Storm(command, seed, tuple(rnd.choice(SIGNALS) for _ in range(count)),
                 "pid" if in_process else target, anchor, rnd.uniform(0.0, span_s),
                 tuple(rnd.choice((0.0, rnd.uniform(0.0, 0.03))) for _ in range(count - 1)), welded)


def command_argv(command: str, work: Path, welded: bool = False) -> list[str]:
    """The command line of ``command`` on the paced simulator, its files in ``work`` (``welded``: the simulated
    wrap's relay is welded on)."""
    work.mkdir(parents=True, exist_ok=True)
    out = str(work / "results")
    pace = ["--sim-pace", str(PACE)]
    wrap = work / "wrap.toml"
    sim_wrap = ["--sim-wrap", str(wrap)]
    if command == "run":
        argv = [*prepare(work), *pace]
    elif command == "read":
        argv = ["read", "--sim", "--on", "--count", "6", "--interval", "5", "--out", out, *sim_wrap, *pace]
    elif command == "calibrate":
        argv = ["calibrate", "irradiance", "--sim", "--switch-on", "--reference-mw-cm2", "42", "--reference-nm",
                "660", "--count", "6", "--settle-s", "20", "--out", str(work / "cal.toml"), *sim_wrap, *pace]
    else:
        argv = ["check", "--sim", "--out", out, *sim_wrap, *pace]
    wrap.write_text(WRAP.replace("droop_fraction = 0.0\n", "droop_fraction = 0.0\n" + (
        "[faults]\nstuck_on = true\n" if welded else "")) if welded else WRAP)
    return argv


@dataclass
class StormResult:
    """What the command left after the storm."""

    storm: Storm
    exit_code: int
    stderr: str
    switch_log: list[str]
    sent: list[str] = field(default_factory=list)
    record: dict | None = None
    rows_in_csv: int | None = None
    hung: bool = False  # did not end within TIMEOUT_S: killed (-9) by the harness

    @property
    def final_power(self) -> str:
        """The wrap's power at the end, from the pin's own log ("off" when it never changed)."""
        return self.switch_log[-1].split()[-1] if self.switch_log else "off"

    @property
    def problems(self) -> list[str]:
        found = [f"hung: still running after {TIMEOUT_S:.0f} s, killed"] if self.hung else []
        if self.final_power != "off":
            found.append("the switch log ends ON")
        if self.exit_code < 0:
            found.append(f"killed by signal {-self.exit_code}")
        if "Traceback" in self.stderr or "internal error" in self.stderr:
            found.append("traceback / internal error: " + self.stderr.strip()[-300:])
        if self.storm.command == "run":
            found += self._run_problems()
        elif self.exit_code not in (0, 3):
            found.append(f"exit code {self.exit_code}")
        elif self.storm.welded and self.switch_log and not (self.exit_code == 3 and "WRAP STILL LIT" in self.stderr):
            found.append(f"welded relay not reported (exit {self.exit_code}: {self.stderr.strip()[-200:]!r})")
        return found

    def _run_problems(self) -> list[str]:
        if self.record is None:  # no run folder: stopped before the run started (nothing switched on)
            return [] if self.exit_code == 3 and not self.switch_log else ["no run.json, exit code "
                                                                            f"{self.exit_code}"]
        record, found = self.record, []
        outcome = record.get("outcome")
        if outcome not in ("COMPLETED", "ABORTED", "ERROR"):
            found.append(f"run.json outcome {outcome}")
        if bool(record.get("wrap_left_on")) != (self.final_power == "on"):
            found.append(f"run.json wrap_left_on {record.get('wrap_left_on')} but the pin ended {self.final_power}")
        if self.storm.welded and self.switch_log:
            if not (record.get("wrap_still_lit") and outcome == "ABORTED" and "WRAP STILL LIT" in record["reason"]):
                found.append(f"welded relay not reported: {outcome}, {record.get('reason')!r}")
        elif record.get("sim_wrap_lit_at_end"):
            found.append("the simulated wrap lit at the end")
        if self.rows_in_csv is not None and self.rows_in_csv != record.get("rows"):
            found.append(f"{self.rows_in_csv} rows in samples.csv, run.json says {record.get('rows')}")
        expected = (0, 1) if outcome == "COMPLETED" else (3,)
        if self.exit_code not in expected:
            found.append(f"exit code {self.exit_code} for a run recorded {outcome}")
        return found


def _read_run(work: Path) -> tuple[dict | None, int | None]:
    folders = list((work / "results").glob("[!.]*")) if (work / "results").is_dir() else []
    if not folders:
        return None, None
    record = json.loads((folders[0] / "run.json").read_text())
    try:
        with (folders[0] / "samples.csv").open(newline="") as handle:
            rows: int | None = sum(1 for _ in csv.DictReader(handle))
    except FileNotFoundError:
        rows = None
    return record, rows


def _log_lines(path: Path) -> list[str]:
    try:
        return path.read_text().splitlines()
    except FileNotFoundError:
        return []


def _send(plan: Storm, pid: int, anchor_at: float, alive, sent: list[str]) -> None:
    """Wait for ``anchor_at + delay`` then send the signals; stop early if the command has ended."""
    while time.monotonic() < anchor_at + plan.delay_s:
        if not alive():
            return
        time.sleep(0.001)
    for index, name in enumerate(plan.signals):
        if index:
            time.sleep(plan.gaps_s[index - 1])
        if not alive():
            return
        with contextlib.suppress(ProcessLookupError):
            if plan.target == "group":
                os.killpg(pid, getattr(signal, name))
            else:
                os.kill(pid, getattr(signal, name))
        sent.append(name)


def _anchor_time(plan: Storm, log: Path, ready_at: float, alive) -> float | None:
    """When the storm's anchor happened (monotonic), polling the switch log; None if the command ended first."""
    if plan.anchor == "ready":
        return ready_at
    wanted = 1 if plan.anchor == "on" else 2
    while alive():
        if len(_log_lines(log)) >= wanted:
            return time.monotonic()
        time.sleep(0.001)
    return None


def _catching(pid: int) -> bool:
    """Whether the process catches every stop signal yet (its handlers are installed), from /proc."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True
    caught = int(next(line.split()[1] for line in status.splitlines() if line.startswith("SigCgt:")), 16)
    return all(caught & (1 << (getattr(signal, name) - 1)) for name in SIGNALS)


def run_storm(plan: Storm, work: Path) -> StormResult:
    """The storm against ``rig <command>`` as a child process in its own process group."""
    argv = command_argv(plan.command, work, plan.welded)
    log = work / "switch.log"
    env = {**os.environ, LOG_ENV: str(log)}
    process = subprocess.Popen([sys.executable, "-m", "rig.cli", *argv], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, cwd=work, env=env, start_new_session=True)
    sent: list[str] = []

    def alive() -> bool:
        return process.poll() is None

    def storm_thread() -> None:
        while alive() and not _catching(process.pid):
            time.sleep(0.002)
        anchor = _anchor_time(plan, log, time.monotonic(), alive)
        if anchor is not None:
            _send(plan, process.pid, anchor, alive, sent)

    sender = threading.Thread(target=storm_thread, daemon=True)
    sender.start()
    try:
        _, stderr = process.communicate(timeout=TIMEOUT_S)
        hung = False
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        _, stderr = process.communicate()
        hung = True
    sender.join()
    return StormResult(plan, process.returncode, stderr, _log_lines(log), sent, *_read_run(work), hung=hung)


def run_storm_in_process(plan: Storm, work: Path) -> StormResult:
    """The storm against :func:`rig.cli.main` in this (main) thread; only ``pid`` storms (a group storm would
    reach the test runner). Signals arriving after ``main`` returned are caught and dropped."""
    from rig.cli import main

    assert threading.current_thread() is threading.main_thread() and plan.target == "pid"
    argv = command_argv(plan.command, work, plan.welded)
    log = work / "switch.log"
    finished = threading.Event()
    sent: list[str] = []
    stderr = io.StringIO()
    previous_env, previous_cwd = os.environ.get(LOG_ENV), os.getcwd()

    def storm_thread() -> None:
        from rig.run import signals

        while not signals._active and not finished.is_set():  # main() has not installed its gate yet
            time.sleep(0.001)
        anchor = _anchor_time(plan, log, time.monotonic(), lambda: not finished.is_set())
        if anchor is not None:
            _send(plan, os.getpid(), anchor, lambda: not finished.is_set(), sent)

    with handlers_restored():
        for name in SIGNALS:  # a signal landing after main() returned must not reach the test runner
            signal.signal(getattr(signal, name), lambda *_: None)
        os.environ[LOG_ENV] = str(log)
        os.chdir(work)
        sender = threading.Thread(target=storm_thread, daemon=True)
        sender.start()
        try:
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(stderr):
                code = main(argv)
        finally:
            finished.set()
            sender.join()
            time.sleep(0.01)  # any signal still on its way is handled (and dropped) before the handlers go back
            os.chdir(previous_cwd)
            if previous_env is None:
                os.environ.pop(LOG_ENV, None)
            else:
                os.environ[LOG_ENV] = previous_env
    return StormResult(plan, code, stderr.getvalue(), _log_lines(log), sent, *_read_run(work))
