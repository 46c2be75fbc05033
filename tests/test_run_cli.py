"""`rig run` end to end through the real CLI on the simulated bench (in process; signals, kill -9: child processes).

Each test states the wrap it simulates and what the files must then say.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from conftest import rig_cli
from support.faultsuite import SEQUENCE as FAULT_SUITE_SEQUENCE

RIG = [sys.executable, "-m", "rig.cli"]

SHORT_SEQUENCE = FAULT_SUITE_SEQUENCE.replace('name = "fault suite"', 'name = "short"').replace(
    "duration_s = 700.0", "duration_s = 900.0")  # the fault suite's sequence with a 900 s soak limit

PROFILE = """
maker = "Test"
model = "660 belt"
unit = "U1"
[[modes]]
name = "red"
[modes.claims]
red_peak_nm = 660.0
irradiance_mw_cm2 = 30.0
dose_j_cm2 = 18.0
session_s = 600.0
max_surface_c = 43.0
"""


def sim_wrap(auto_off_s: float = 600.0, runaway: float = 0.0, surface_rise_c: float = 8.0) -> str:
    return f"""
name = "test wrap"
auto_off_s = {auto_off_s}
surface_rise_c = {surface_rise_c}
droop_fraction = 0.0
[[strings]]
name = "red"
peak_nm = 660.0
fwhm_nm = 20.0
irradiance_mw_cm2 = 30.0
[[modes]]
name = "red"
strings = ["red"]
[faults]
runaway_c_per_min = {runaway}
"""


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def run_rig(tmp_path: Path, *args: str):
    return rig_cli(["run", "--sim", "--quiet", "--out", str(tmp_path / "results"), *args], cwd=tmp_path)


def only_run_dir(tmp_path: Path) -> Path:
    (run_dir,) = list((tmp_path / "results").glob("[!.]*"))
    return run_dir


def test_full_sequence_writes_what_the_profile_and_sequence_imply(tmp_path):
    # A 660 nm wrap giving 30 mW/cm2 steady, auto-off after 600 s, against a profile claiming exactly that.
    result = run_rig(tmp_path, "--wrap", write(tmp_path, "p.toml", PROFILE),
                     "--sequence", write(tmp_path, "s.toml", SHORT_SEQUENCE),
                     "--sim-wrap", write(tmp_path, "w.toml", sim_wrap(600.0)))
    assert result.returncode == 0, result.stdout + result.stderr
    run_dir = only_run_dir(tmp_path)
    samples = pd.read_csv(run_dir / "samples.csv")
    counts = samples.groupby("phase").size()
    # dark 5 s at 1 s, warm-up 30 s at 2 s, measure 20 s at 1 s, cool-down 30 s at 10 s
    assert (counts["dark"], counts["warmup"], counts["measure"], counts["cooldown"]) == (5, 15, 20, 3)
    # switched on at 5 s, auto-off at 605 s: the soak (from 55 s, every 5 s) sees the drop at the 605 s sample
    assert samples.loc[samples.event == "auto-off detected", "t_s"].iloc[0] == pytest.approx(605, abs=5.5)
    assert not samples.loc[samples.phase == "dark", "wrap_on"].any()
    assert samples.loc[samples.phase == "measure", "wrap_on"].all()
    summary = pd.read_csv(run_dir / "summary.csv").set_index("claim")
    assert summary.loc["session length / auto-off", "measured"] == pytest.approx(600, abs=5.5)
    # uncalibrated, the simulated sensor is an arbitrary production unit: its peak and irradiance intervals include
    # the filter tolerance and sensitivity spread, so an honest wrap is PASS or MARGINAL, never FAIL (a calibrated
    # sensor's PASS is tested in test_spectral_calibration.py)
    assert summary.loc["red peak wavelength", "verdict"] in ("PASS", "MARGINAL")
    assert abs(summary.loc["red peak wavelength", "measured"] - 660.0) < 8.0
    assert summary.loc["irradiance at contact", "verdict"] in ("PASS", "MARGINAL")
    assert summary.loc["max surface temperature", "verdict"] == "PASS"
    manifest = json.loads((run_dir / "run.json").read_text())
    assert manifest["outcome"] == "COMPLETED" and manifest["backend"] == "sim"
    assert manifest["sim_wrap_lit_at_end"] is False and manifest["wrap_left_on"] is False
    assert manifest["profile"]["sha256"] and manifest["sequence"]["as_used"]["name"] == "short"
    assert "PASS" in result.stdout and "│ FAIL" not in result.stdout  # no FAIL cell in the verdict table
    # steady 30 mW/cm2 (no droop): the session's irradiance is reported, its droop 0 within its u
    behaviour = manifest["behaviour"]
    assert abs(behaviour["irradiance_droop_pct"]) <= behaviour["irradiance_droop_u_pct"]
    assert "irradiance over the session" in " ".join(result.stdout.split())


def test_auto_off_earlier_than_claimed_fails_the_session_claim(tmp_path):
    # The wrap switches itself off after 300 s while the maker claims 600 s +/- 30 s.
    result = run_rig(tmp_path, "--wrap", write(tmp_path, "p.toml", PROFILE),
                     "--sequence", write(tmp_path, "s.toml", SHORT_SEQUENCE),
                     "--sim-wrap", write(tmp_path, "w.toml", sim_wrap(300.0)))
    assert result.returncode == 1, result.stdout + result.stderr
    summary = pd.read_csv(only_run_dir(tmp_path) / "summary.csv").set_index("claim")
    assert summary.loc["session length / auto-off", "verdict"] == "FAIL"
    assert summary.loc["session length / auto-off", "measured"] == pytest.approx(300, abs=5.5)


def test_overheating_wrap_trips_the_interlock_and_is_switched_off(tmp_path):
    # Runaway heating of 3 C/min on top of an 8 C rise passes the 48 C interlock within ~10 minutes.
    result = run_rig(tmp_path, "--wrap", write(tmp_path, "p.toml", PROFILE),
                     "--sequence", write(tmp_path, "s.toml", SHORT_SEQUENCE),
                     "--sim-wrap", write(tmp_path, "w.toml", sim_wrap(3000.0, runaway=3.0)))
    assert result.returncode == 3, result.stdout + result.stderr
    run_dir = only_run_dir(tmp_path)
    manifest = json.loads((run_dir / "run.json").read_text())
    assert manifest["outcome"] == "ABORTED" and "over-temperature" in manifest["reason"]
    assert manifest["sim_wrap_lit_at_end"] is False and manifest["wrap_left_on"] is False
    # The soak samples every 5 s, but the guard reads the skin probe every 2 s between samples: at 3 C/min the
    # surface is at most 2 readings x 2 s x 0.05 C/s = 0.2 C past the cut-out when the rig stops.
    samples = pd.read_csv(run_dir / "samples.csv")
    hottest = max(manifest["facts"]["guard_surface_max_c"], samples.surface_c.max())
    assert 48.0 < hottest <= 48.0 + 0.2 + 0.1
    assert "guard reading between samples" in " ".join(manifest["events"]) or samples.event.str.startswith(
        "interlock").any()
    assert samples.event.iloc[-1] == "light gone after switch-off"


def _start_paced(tmp_path: Path) -> tuple[subprocess.Popen, Path]:
    # 20 simulated seconds per real second: the 10 s dark phase plus warm-up take several real seconds.
    process = subprocess.Popen(
        [*RIG, "run", "--sim", "--quiet", "--sim-pace", "20", "--out", str(tmp_path / "results"),
         "--wrap", write(tmp_path, "p.toml", PROFILE), "--sequence", write(tmp_path, "s.toml", SHORT_SEQUENCE),
         "--sim-wrap", write(tmp_path, "w.toml", sim_wrap(600.0))],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        runs = list((tmp_path / "results").glob("*/samples.csv"))
        if runs and len(runs[0].read_text().splitlines()) > 12:  # header + dark + some warm-up rows
            return process, runs[0].parent
        time.sleep(0.05)
    process.kill()
    raise AssertionError("the run did not start writing samples")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_mid_run_switches_off_records_aborted_and_keeps_rows(tmp_path, signum):
    process, run_dir = _start_paced(tmp_path)
    rows_before = len(pd.read_csv(run_dir / "samples.csv"))
    process.send_signal(signum)
    process.communicate(timeout=60)
    assert process.returncode == 3
    manifest = json.loads((run_dir / "run.json").read_text())
    assert manifest["outcome"] == "ABORTED" and signal.Signals(signum).name in manifest["reason"]
    assert manifest["sim_wrap_lit_at_end"] is False and manifest["wrap_left_on"] is False
    assert len(pd.read_csv(run_dir / "samples.csv")) >= rows_before


def test_kill_9_mid_run_leaves_a_readable_samples_file(tmp_path):
    process, run_dir = _start_paced(tmp_path)
    rows_before = len(pd.read_csv(run_dir / "samples.csv"))
    os.kill(process.pid, signal.SIGKILL)
    process.communicate(timeout=30)
    samples = pd.read_csv(run_dir / "samples.csv")
    assert len(samples) >= rows_before and samples.t_s.is_monotonic_increasing
    assert json.loads((run_dir / "run.json").read_text())["outcome"] == "RUNNING"  # never finished: visible as such


@pytest.mark.parametrize(("target", "text", "key"), [
    ("profile", PROFILE.replace("irradiance_mw_cm2 = 30.0", "irradiance_mw_cm2 = 'lots'"),
     "modes[0].claims.irradiance_mw_cm2"),
    ("profile", PROFILE.replace('model = "660 belt"', 'model = "660 belt"\ncolour = "red"'), "colour"),
    ("sequence", SHORT_SEQUENCE.replace('kind = "warmup"', 'kind = "warm"'), "phases[2].kind"),
    ("sequence", SHORT_SEQUENCE.replace("interval_s = 2.0", "interval_s = -2.0"), "phases[2].interval_s"),
])
def test_malformed_files_exit_2_naming_file_and_key_with_nothing_switched_on(tmp_path, target, text, key):
    profile = write(tmp_path, "p.toml", text if target == "profile" else PROFILE)
    sequence = write(tmp_path, "s.toml", text if target == "sequence" else SHORT_SEQUENCE)
    result = run_rig(tmp_path, "--wrap", profile, "--sequence", sequence)
    assert result.returncode == 2
    message = " ".join(result.stderr.split())
    assert (profile if target == "profile" else sequence) in message and f"'{key}'" in message
    assert not (tmp_path / "results").exists()  # no run started, so nothing was switched on
