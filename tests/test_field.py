"""Field conditions: a second run on the same bench, stale locks, a full disk, hostile text in user files."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys

import pandas as pd
import pytest

from rig.config import load_bench_config
from rig.errors import RigError
from rig.lock import BenchLock
from rig.profile import Claims, ModeProfile, WrapProfile
from rig.run import run_sequence
from rig.sequence import Phase, Sequence
from rig.sim.backend import build_sim_bench
from rig.sim.wrap import LedString, WrapMode, WrapSpec
from rig.spectrum.derive import make_deriver

SEQUENCE = Sequence(phases=[Phase("dark", 3.0, 1.0), Phase("on"), Phase("measure", 20.0, 1.0),
                            Phase("off")]).validate()
WRAP = WrapSpec(strings=[LedString("red", 660.0, 20.0, 30.0)], modes=[WrapMode("red", ["red"])])


def profile(maker: str = "Acme") -> WrapProfile:
    return WrapProfile(maker=maker, model="Belt", unit="1",
                       modes=[ModeProfile("red", 0, Claims(red_peak_nm=660.0))]).validate()


def open_bench():
    return build_sim_bench(load_bench_config(backend="sim"), WRAP)


HOLD_LOCK = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
fcntl.flock(fd, fcntl.LOCK_EX)
os.write(fd, f"{os.getpid()} holder\\n".encode())
print("held", flush=True)
time.sleep(30)
"""


def test_a_second_run_on_the_same_bench_is_refused(tmp_path):
    lock = tmp_path / "bench.lock"
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(lock)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"  # another process holds the bench
        with pytest.raises(RigError, match=f"in use by another rig process \\(pid {holder.pid}"):
            run_sequence(profile(), SEQUENCE, open_bench, tmp_path / "results", lock_path=lock)
        assert not (tmp_path / "results").exists()  # refused before anything was created or switched
    finally:
        holder.kill()
        holder.wait()


def test_a_lock_left_by_a_killed_process_is_free(tmp_path):
    lock = tmp_path / "bench.lock"
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(lock)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    holder.kill()  # kill -9: the kernel drops its lock, the file stays behind
    holder.wait()
    assert lock.exists()
    result = run_sequence(profile(), SEQUENCE, open_bench, tmp_path / "results", lock_path=lock)
    assert result.outcome == "COMPLETED"
    with BenchLock(lock):
        assert int(lock.read_text().split()[0]) == os.getpid()


def test_two_processes_starting_together_never_both_hold_the_lock(tmp_path):
    lock = tmp_path / "bench.lock"
    script = ("import sys, time\nfrom rig.lock import BenchLock\nfrom rig.errors import RigError\n"
              "try:\n    BenchLock(sys.argv[1]).acquire()\nexcept RigError:\n    print('refused')\n"
              "else:\n    print('held', flush=True)\n    time.sleep(1.5)\n")
    for _ in range(1):
        starters = [subprocess.Popen([sys.executable, "-c", script, str(lock)], stdout=subprocess.PIPE, text=True)
                    for _ in range(4)]
        answers = sorted(p.communicate()[0].strip() for p in starters)
        assert answers == ["held", "refused", "refused", "refused"]


def test_the_simulator_locks_per_results_folder_the_real_bench_system_wide(tmp_path):
    from rig.lock import SYSTEM_LOCK_DIR, bench_lock_path

    assert bench_lock_path("sim", 1, 17, tmp_path / "a") != bench_lock_path("sim", 1, 17, tmp_path / "b")
    assert bench_lock_path("real", 1, 17, tmp_path / "a") == bench_lock_path("real", 1, 17, tmp_path / "b")
    assert bench_lock_path("real", 1, 17).parent == SYSTEM_LOCK_DIR


def test_disk_full_mid_run_stops_cleanly_and_keeps_the_rows_written(tmp_path, monkeypatch):
    import rig.results.writer

    real_fsync, calls = os.fsync, {"n": 0}

    def fsync(descriptor):
        calls["n"] += 1
        if calls["n"] > 12:  # run.json twice, the header, pulse.csv and 8 rows fit, then the SD card is full
            raise OSError(errno.ENOSPC, "No space left on device")
        real_fsync(descriptor)

    monkeypatch.setattr(rig.results.writer.os, "fsync", fsync)
    result = run_sequence(profile(), SEQUENCE, open_bench, tmp_path / "results", derive=make_deriver())
    monkeypatch.setattr(rig.results.writer.os, "fsync", real_fsync)
    assert result.outcome == "ERROR" and "No space left" in result.reason
    assert not result.wrap_left_on
    samples = pd.read_csv(result.run_dir / "samples.csv")
    assert len(samples) == result.rows_written >= 8  # the row that did not fit was cut back: no torn row


def test_hostile_text_in_a_profile_cannot_become_a_formula_or_escape_the_results_folder(tmp_path):
    hostile = profile(maker="=HYPERLINK(\"http://x\")/../../../etc")
    result = run_sequence(hostile, SEQUENCE, open_bench, tmp_path / "results", derive=make_deriver())
    assert result.run_dir.parent == tmp_path / "results"  # the folder name is a slug, no path separators
    from rig.reporting.compare import compare_table
    from rig.results.load import load_runs
    from rig.results.writer import safe_cell

    table = compare_table(load_runs([tmp_path / "results"]))
    out = tmp_path / "compare.csv"
    table.map(safe_cell).to_csv(out, index=False)
    cells = [cell for line in out.read_text().splitlines() for cell in line.split(",")]
    assert not any(cell.lstrip('"').startswith(("=", "+", "@")) for cell in cells)
    assert json.loads((result.run_dir / "run.json").read_text())["profile"]["as_used"]["maker"].startswith("=")


@pytest.mark.parametrize(("args", "message"), [
    (["--sim-pace", "-1"], "--sim-pace"),
    (["--seed", "x"], "--seed"),
])
def test_bad_cli_arguments_are_named(tmp_path, args, message):
    result = subprocess.run([sys.executable, "-m", "rig.cli", "run", "--sim", "--quiet", *args], capture_output=True,
                            text=True, cwd=tmp_path)
    assert result.returncode == 2 and message in result.stderr
    assert not (tmp_path / "results").exists()


def test_an_unwritable_results_folder_is_reported_before_anything_is_switched_on(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the results folder should be")
    result = subprocess.run([sys.executable, "-m", "rig.cli", "run", "--sim", "--quiet", "--out",
                             str(blocker / "results")], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 2 and "not-a-folder/results" in result.stderr and "Not a directory" in result.stderr


def test_sigterm_during_rig_read_unwinds_and_switches_off(tmp_path):
    import signal
    import time

    process = subprocess.Popen([sys.executable, "-m", "rig.cli", "read", "--sim", "--on", "--count", "1000",
                                "--sim-pace", "20"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               cwd=tmp_path)
    time.sleep(2.0)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 3 and "wrap switched off" in stderr


def test_real_backend_without_the_bus_is_a_configuration_error_not_a_simulation(tmp_path):
    from importlib.resources import files

    data = files("rig") / "data"
    (tmp_path / "bench.toml").write_text("i2c_bus = 97\n")
    result = subprocess.run([sys.executable, "-m", "rig.cli", "run", "--quiet", "--bench", "bench.toml", "--wrap",
                             str(data / "example_profile.toml"), "--sequence", str(data / "example_sequence.toml")],
                            capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 2
    (run_dir,) = list((tmp_path / "results").glob("[!.]*"))
    manifest = json.loads((run_dir / "run.json").read_text())
    assert manifest["outcome"] == "ERROR" and "/dev/i2c-97" in manifest["reason"] and manifest["backend"] is None
