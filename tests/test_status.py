"""`rig status`: a run's state read from its folder while it runs, after it ends, and after it died.

The runs are simulated wraps the tests state (maker, model, unit, phases, irradiance); status must report those.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import rig_cli
from support.texts import led_string, phase, profile_mode, settings, wrap_mode, write_run_files

RIG = [sys.executable, "-m", "rig.cli"]

PROFILE = ("\n" + settings(maker="Statusco", model="Belt 9", unit="SN-42")
           + profile_mode("red", red_peak_nm=660.0, irradiance_mw_cm2=40.0))

SEQUENCE = ("\n" + settings(name="status test") + phase("dark", duration_s=5.0) + phase("on")
            + phase("warmup", duration_s=30.0) + phase("measure", duration_s=600.0, interval_s=2.0) + phase("off"))
PLANNED_S = 5.0 + 30.0 + 600.0  # the sampled phases' durations stated above

SIM_WRAP = ("\n" + settings(name="status wrap", auto_off_s=3000.0, surface_rise_c=6.0, droop_fraction=0.0)
            + led_string("red", 660.0, 20.0, 40.0) + wrap_mode("red", ["red"]))


def _files(tmp_path: Path) -> list[str]:
    return write_run_files(tmp_path, PROFILE, SEQUENCE, SIM_WRAP)


def _status(tmp_path: Path) -> tuple[int, dict]:
    result = rig_cli(["status", "--sim", "--out", tmp_path / "results", "--json"])
    return result.returncode, json.loads(result.stdout)


def test_status_of_a_running_run_then_of_one_killed_with_sigkill(tmp_path):
    process = subprocess.Popen([*RIG, "run", "--sim", "--quiet", "--sim-pace", "40", "--out",
                                str(tmp_path / "results"), *_files(tmp_path)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            code, data = _status(tmp_path)
            bench = data["benches"][0] if data["benches"] else {}
            if code == 0 and bench.get("phase") == "measure":
                break
            time.sleep(0.1)
        else:
            raise AssertionError(f"status never showed the measure phase: {data}")
        assert data["active"] is True
        assert bench["wrap"] == "Statusco Belt 9 SN-42" and bench["mode"] == "red" and bench["pid"] == process.pid
        assert bench["planned_s"] == PLANNED_S and bench["phase_number"] == 4 and bench["phase_count"] == 5
        assert 35.0 <= bench["elapsed_s"] <= PLANNED_S
        assert abs(bench["remaining_s"] - (PLANNED_S - bench["elapsed_s"])) < 1e-6
        assert 0.7 * 40.0 <= bench["irradiance_mw_cm2"] <= 1.3 * 40.0  # the stated 40 mW/cm2, uncalibrated
        assert bench["skin_probe"] == "surface" and 15.0 <= bench["skin_c"] <= 22.0 + 6.0 + 3.0
        text = rig_cli(["status", "--sim", "--out", tmp_path / "results"])
        assert text.returncode == 0 and "RUNNING" in text.stdout and "measure (4/5)" in text.stdout
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    code, data = _status(tmp_path)
    bench = data["benches"][0]
    assert code == 3 and data["active"] is False
    assert bench["outcome"] == "DIED" and "rig off" in bench["reason"]


def test_status_after_a_finished_run_and_with_no_run(tmp_path):
    result = rig_cli(["status", "--sim", "--out", tmp_path / "results"])
    assert result.returncode == 3 and "no run recorded" in result.stdout
    short = SEQUENCE.replace("duration_s = 600.0", "duration_s = 20.0")
    (tmp_path / "short.toml").write_text(short)
    args = _files(tmp_path)
    args[args.index("--sequence") + 1] = str(tmp_path / "short.toml")
    run = rig_cli(["run", "--sim", "--quiet", "--out", tmp_path / "results", *args], cwd=tmp_path)
    assert run.returncode in (0, 1), run.stderr
    code, data = _status(tmp_path)
    bench = data["benches"][0]
    assert code == 3 and bench["active"] is False and bench["outcome"] == "COMPLETED"
    assert bench["remaining_s"] is None and bench["phase"] in ("shutdown", "off")
    text = rig_cli(["status", "--sim", "--out", tmp_path / "results"]).stdout
    assert "no run active; the last run ended COMPLETED" in text


def test_status_reads_benches_in_a_lock_folder_and_names_a_damaged_pointer(tmp_path):
    lock_dir = tmp_path / "lock"
    lock_dir.mkdir()
    (lock_dir / "i2c1-gpio17.lock.run").write_text("{not json")
    result = rig_cli(["status", "--lock-dir", lock_dir, "--json"])
    data = json.loads(result.stdout)
    assert result.returncode == 3 and data["active"] is False
    assert "cannot be read" in data["benches"][0]["warnings"][0]
