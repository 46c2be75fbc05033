"""The fault-injection suite: each simulated fault through the real `rig run` CLI, and what must hold after it.

Used by the tests (one run per fault) and by `make bench` (several seeds, printed as a table).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

SEQUENCE = """
name = "fault suite"
[[phases]]
kind = "dark"
duration_s = 5.0
interval_s = 1.0
[[phases]]
kind = "on"
[[phases]]
kind = "warmup"
duration_s = 30.0
interval_s = 2.0
[[phases]]
kind = "measure"
duration_s = 20.0
interval_s = 1.0
[[phases]]
kind = "soak"
duration_s = 700.0
interval_s = 5.0
until_auto_off = true
[[phases]]
kind = "off"
[[phases]]
kind = "cooldown"
duration_s = 30.0
interval_s = 10.0
"""

PROFILE = """
maker = "Faulty"
model = "Belt"
unit = "F1"
[[modes]]
name = "red"
[modes.claims]
red_peak_nm = 660.0
irradiance_mw_cm2 = 30.0
session_s = 600.0
"""


@dataclass(frozen=True)
class Fault:
    """One injected fault: the sim-wrap TOML lines that make it, and what the run must then record."""

    name: str
    wrap_toml: str
    outcome: str
    reason_contains: str  # a regular expression the recorded reason must match
    wrap_lit_at_end: bool = False  # the simulated truth: only a welded relay keeps the wrap lit


FAULTS = [
    Fault("I2C glitches (NACK x2 on each chip)",
          "[[faults.events]]\nat_s = 20.0\nkind = 'sensor_nack'\ncount = 2\n"
          "[[faults.events]]\nat_s = 40.0\nkind = 'adc_nack'\ncount = 2\n", "COMPLETED", "all phases ran"),
    Fault("spectral sensor disconnected", "[[faults.events]]\nat_s = 100.0\nkind = 'sensor_disconnect'\n",
          "ABORTED", "AS7341"),
    Fault("ADC disconnected", "[[faults.events]]\nat_s = 100.0\nkind = 'adc_disconnect'\n", "ABORTED", "ADS1115"),
    Fault("spectral sensor frozen", "[[faults.events]]\nat_s = 100.0\nkind = 'sensor_frozen'\n", "ABORTED",
          "frozen"),
    # a stuck ADC repeats its last code on every input: caught as identical voltages or as an impossible divider
    Fault("ADC stuck", "[[faults.events]]\nat_s = 100.0\nkind = 'adc_stuck'\n", "ABORTED",
          "ADC stuck|surface probe fault|divider supply"),
    Fault("surface probe open", "[[faults.events]]\nat_s = 100.0\nkind = 'probe_open'\n", "ABORTED",
          r"surface probe fault \(open\)"),
    Fault("surface probe shorted", "[[faults.events]]\nat_s = 100.0\nkind = 'probe_short'\n", "ABORTED",
          r"surface probe fault \(short\)"),
    Fault("wrap overheating", "runaway_c_per_min = 4.0\n", "ABORTED", "over-temperature"),
    Fault("wrap never switches itself off", "auto_off_broken = true\n", "COMPLETED", "all phases ran"),
    Fault("wrap never switches on", "never_on = true\n", "ABORTED", "no light"),
    Fault("relay welded on (no auto-off)", "stuck_on = true\nauto_off_broken = true\n", "ABORTED",
          "WRAP STILL LIT after switch-off",
          wrap_lit_at_end=True),
    # the interlock stops the run and switches off, but the relay is welded: the light check must still say so
    Fault("relay welded, run stopped by the interlock", "stuck_on = true\nrunaway_c_per_min = 4.0\n", "ABORTED",
          r"WRAP STILL LIT after switch-off.*over-temperature", wrap_lit_at_end=True),
]


def sim_wrap(fault: Fault) -> str:
    return ("name = 'faulty wrap'\nauto_off_s = 600.0\ndroop_fraction = 0.0\nsurface_rise_c = 8.0\n"
            "[[strings]]\nname = 'red'\npeak_nm = 660.0\nfwhm_nm = 20.0\nirradiance_mw_cm2 = 30.0\n"
            "[[modes]]\nname = 'red'\nstrings = ['red']\n[faults]\n" + fault.wrap_toml)


@dataclass
class FaultResult:
    """What one run of one fault left behind."""

    fault: Fault
    exit_code: int
    outcome: str
    reason: str
    switch_left_on: bool
    wrap_lit_at_end: bool
    rows_in_csv: int
    rows_recorded: int

    @property
    def rows_lost(self) -> int:
        return max(0, self.rows_recorded - self.rows_in_csv)

    @property
    def as_expected(self) -> bool:
        return (self.outcome == self.fault.outcome and re.search(self.fault.reason_contains, self.reason) is not None
                and not self.switch_left_on and self.wrap_lit_at_end == self.fault.wrap_lit_at_end
                and self.rows_lost == 0)


def run_fault(fault: Fault, work: Path, seed: int = 0, in_process: bool = False) -> FaultResult:
    """Run ``fault`` through the `rig run --sim` CLI in ``work`` and read back its files.

    By default in a child process (``python -m rig.cli``), as a user runs it; ``in_process`` calls the same
    :func:`rig.cli.main` in this process (what the test suite does, to stay fast)."""
    import csv

    work.mkdir(parents=True, exist_ok=True)
    (work / "profile.toml").write_text(PROFILE)
    (work / "sequence.toml").write_text(SEQUENCE)
    (work / "wrap.toml").write_text(sim_wrap(fault))
    out = work / "results"
    argv = ["run", "--sim", "--quiet", "--seed", str(seed), "--wrap", str(work / "profile.toml"), "--sequence",
            str(work / "sequence.toml"), "--sim-wrap", str(work / "wrap.toml"), "--out", str(out)]
    if in_process:
        import contextlib
        import io

        from rig.cli import main
        from support.handlers import handlers_restored

        with handlers_restored(), contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            exit_code = main(argv)
    else:
        exit_code = subprocess.run([sys.executable, "-m", "rig.cli", *argv], capture_output=True, text=True,
                                   cwd=work, timeout=300).returncode
    (run_dir,) = list(out.glob("[!.]*"))
    manifest = json.loads((run_dir / "run.json").read_text())
    with (run_dir / "samples.csv").open(newline="") as handle:
        rows = sum(1 for _ in csv.DictReader(handle))
    return FaultResult(fault, exit_code, manifest["outcome"], manifest["reason"],
                       bool(manifest.get("wrap_left_on")), bool(manifest.get("sim_wrap_lit_at_end")), rows,
                       int(manifest.get("rows", 0)))
