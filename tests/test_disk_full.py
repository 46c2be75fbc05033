"""A disk that fills mid-run: the run stops as ERROR with the wrap off, and run.json says so (outcome, the reason,
the rows really in samples.csv) however little room is left, thanks to the space held since the start.

Two ways: ENOSPC injected at the file-system call (``os.write``) for samples.csv, portable; and a real, small
tmpfs filled to the last byte in the middle of the run (skipped where it cannot be mounted: not root, no tmpfs).
"""

from __future__ import annotations

import errno
import json
import os
import stat
import subprocess

import pandas as pd
import pytest

from rig.config import load_bench_config
from rig.profile import Claims, ModeProfile, WrapProfile
from rig.results.writer import RESERVE_NAME, write_run_record
from rig.run import run_sequence
from rig.sequence import Phase, Sequence
from rig.sim.backend import build_sim_bench
from rig.sim.wrap import LedString, WrapMode, WrapSpec
from rig.spectrum.derive import make_deriver

SEQUENCE = Sequence(phases=[Phase("dark", 3.0, 1.0), Phase("on"), Phase("measure", 30.0, 1.0),
                            Phase("off")]).validate()
WRAP = WrapSpec(strings=[LedString("red", 660.0, 20.0, 30.0)], modes=[WrapMode("red", ["red"])])
PROFILE = WrapProfile(maker="Acme", model="Belt", unit="1",
                      modes=[ModeProfile("red", 0, Claims(red_peak_nm=660.0))]).validate()


def open_bench():
    return build_sim_bench(load_bench_config(backend="sim"), WRAP)


def data_rows(path) -> int:
    return len(pd.read_csv(path))


def check_record(run_dir, rows_on_disk: int) -> dict:
    """run.json: ERROR, the reason naming the full disk, the true row count; summary.csv there; no reserve left."""
    record = json.loads((run_dir / "run.json").read_text())
    assert record["outcome"] == "ERROR"
    assert "No space left on device" in record["reason"]
    assert record["rows"] == rows_on_disk == data_rows(run_dir / "samples.csv")
    assert (run_dir / "summary.csv").is_file()
    assert not (run_dir / RESERVE_NAME).exists()
    return record


def test_enospc_on_samples_csv_is_recorded_as_error_with_the_rows_on_disk(tmp_path, monkeypatch):
    # the card fills after the header and 9 rows: every later append to samples.csv fails with ENOSPC
    real_write, appends = os.write, {"n": 0}

    def write(fd, data):
        if os.readlink(f"/proc/self/fd/{fd}").endswith("samples.csv"):
            appends["n"] += 1
            if appends["n"] > 10:
                raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    if not os.path.exists("/proc/self/fd"):
        pytest.skip("needs /proc/self/fd to tell samples.csv's writes apart")
    monkeypatch.setattr(os, "write", write)
    result = run_sequence(PROFILE, SEQUENCE, open_bench, tmp_path / "results", derive=make_deriver())
    monkeypatch.setattr(os, "write", real_write)
    assert result.outcome == "ERROR" and not result.wrap_left_on
    check_record(result.run_dir, 9)


@pytest.fixture
def small_disk(tmp_path):
    """A 24 MiB tmpfs of its own (rig wants 20 MiB free at the start), unmounted afterwards."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    try:
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m,mode=0755", "tmpfs", str(mount_point)],
                              capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError) as error:
        pytest.skip(f"cannot mount a tmpfs here: {error}")
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], capture_output=True, timeout=20)


def fill(folder, name: str = "filler") -> None:
    """Take every free byte of ``folder``'s file system (1 MiB writes, then 4 KiB, then 1 byte at a time)."""
    with open(folder / name, "ab", buffering=0) as handle:
        for size in (1024 * 1024, 4096, 1):
            try:
                while True:
                    handle.write(bytes(size))
            except OSError as error:
                assert error.errno == errno.ENOSPC


def test_a_really_full_disk_mid_run_still_gets_the_whole_record(small_disk):
    # the disk is filled to the last byte after the 8th sample; then the next append fails, the run stops
    # (wrap off, light check), and run.json, summary.csv are written in the space held since the start
    state = {"n": 0}

    def progress(_update):
        state["n"] += 1
        if state["n"] == 8:
            fill(small_disk)

    result = run_sequence(PROFILE, SEQUENCE, open_bench, small_disk / "results", derive=make_deriver(),
                          progress=progress)
    assert result.outcome == "ERROR" and not result.wrap_left_on
    record = check_record(result.run_dir, result.rows_written)
    assert 8 <= record["rows"] < 30  # the rows up to the fill (or one more page), not the whole measure phase
    assert "record" not in record  # the whole record fitted, not the essentials-only fallback
    assert record["facts"] and record["bench"]
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in result.run_dir.iterdir()}
    assert len(set(modes.values())) == 1, modes  # every file of the run alike


def test_the_record_falls_back_to_its_essentials_then_to_writing_in_place(small_disk):
    run_dir = small_disk / "run"
    run_dir.mkdir()
    path = run_dir / "run.json"
    path.write_text(json.dumps({"run_id": "r1", "outcome": "RUNNING", "rows": 0, "bench": {"x": "y" * 6000}}))
    record = {"run_id": "r1", "outcome": "ERROR", "reason": "disk full", "rows": 77,
              "events": ["an event " * 20] * 2000}  # ~360 KB: no room for it below
    fill(small_disk)
    os.truncate(small_disk / "filler", os.path.getsize(small_disk / "filler") - 16 * 1024)  # 16 KiB free
    assert write_run_record(path, record) == "essentials"
    kept = json.loads(path.read_text())
    assert (kept["outcome"], kept["rows"], kept["reason"]) == ("ERROR", 77, "disk full") and "events" not in kept

    fill(small_disk)  # now not a byte: the essentials go over the old record's own blocks
    record["rows"] = 78
    assert write_run_record(path, record) == "in place"
    kept = json.loads(path.read_text())
    assert (kept["outcome"], kept["rows"]) == ("ERROR", 78) and "essentials only" in kept["record"]
