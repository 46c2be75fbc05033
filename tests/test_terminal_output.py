"""The terminal and the output: a closed pipe, a full device, a closed stdout or a hung-up terminal only lose the
output; the run goes on (or, on a hang-up, stops as any HUP does) and the exit code is the one its record gives.
Names from files reach the terminal with their control characters written out."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.interruptions import prepare

ESCAPES = "Evil\x1b[2J\x1b]0;pwned\x07\u202eCo"  # clear screen, set the window title, bell, right-to-left


def record(work: Path) -> dict:
    (run_dir,) = list((work / "results").glob("[!.]*"))
    return json.loads((run_dir / "run.json").read_text())


def exit_code_for(manifest: dict) -> tuple[int, ...]:
    return (0, 1) if manifest["outcome"] == "COMPLETED" else (3,)


def rig_process(work: Path, pace: float = 200.0, **popen) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "rig.cli", *prepare(work), "--sim-pace", str(pace)], cwd=work,
                            **popen)


def test_a_reader_that_goes_away_does_not_stop_the_run(tmp_path):
    # `rig run | head -1`: the pipe closes after the first line; the run goes on and its record decides the exit
    process = rig_process(tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.readline()
    process.stdout.close()
    _, stderr = process.communicate(timeout=120)
    manifest = record(tmp_path)
    assert manifest["outcome"] == "COMPLETED" and manifest["reason"] == "all phases ran"
    assert process.returncode in exit_code_for(manifest) and b"Traceback" not in stderr


@pytest.mark.parametrize("stdout", ["/dev/full", "closed"])
def test_a_full_or_closed_stdout_does_not_stop_or_fail_the_run(tmp_path, stdout):
    if stdout == "/dev/full" and not Path("/dev/full").exists():
        pytest.skip("no /dev/full here")
    with open(os.devnull if stdout == "closed" else stdout, "w") as sink:
        process = rig_process(tmp_path, stdout=sink, stderr=subprocess.PIPE,
                              preexec_fn=(lambda: os.close(1)) if stdout == "closed" else None)
        _, stderr = process.communicate(timeout=120)
    manifest = record(tmp_path)
    assert manifest["outcome"] == "COMPLETED", manifest["reason"]
    assert process.returncode in exit_code_for(manifest), stderr
    assert b"Traceback" not in stderr and b"standard output lost" in stderr


@pytest.mark.parametrize("nohup", [False, True])
def test_a_hung_up_terminal_stops_the_run_as_recorded_unless_hup_is_ignored(tmp_path, nohup):
    # the run's terminal is a pty; closing its master hangs it up (SIGHUP, then EIO on every write)
    import pty

    argv = [sys.executable, "-m", "rig.cli", *prepare(tmp_path), "--sim-pace", "40"]
    pid, master = pty.fork()
    if pid == 0:  # the child: a session on the pty, as a login shell runs it
        os.chdir(tmp_path)
        if nohup:
            signal.signal(signal.SIGHUP, signal.SIG_IGN)
        os.execv(sys.executable, argv)
    deadline = time.monotonic() + 60
    while not list((tmp_path / "results").glob("[!.]*/samples.csv")) and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.3)
    os.close(master)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    manifest = record(tmp_path)
    assert code in exit_code_for(manifest) and not manifest["wrap_left_on"]
    if nohup:
        assert manifest["outcome"] == "COMPLETED"
    else:
        assert manifest["outcome"] == "ABORTED" and "SIGHUP received" in manifest["reason"]


def test_printable_writes_out_every_control_character():
    from rig.text import escape, printable

    assert printable(ESCAPES) == "Evil\\x1b[2J\\x1b]0;pwned\\x07\\u202eCo"
    assert printable("Ünïcode 660 nm ±5 %") == "Ünïcode 660 nm ±5 %"
    assert escape("[red]x\x9b") == "\\[red]x\\x9b"


def test_hostile_names_reach_the_terminal_written_out_from_run_and_compare(tmp_path):
    from conftest import rig_cli
    from support.faultsuite import PROFILE

    argv = prepare(tmp_path)
    (tmp_path / "profile.toml").write_text(PROFILE.replace('maker = "Faulty"',
                                                                      f"maker = {json.dumps(ESCAPES)}"))
    run = rig_cli(argv)
    assert run.returncode in (0, 1), run.stderr
    compare = rig_cli(["compare", tmp_path / "results", "--by", "wrap"])
    assert compare.returncode in (0, 1), compare.stderr
    for output in (run.stdout, compare.stdout):
        assert "Evil" in output and not any(c in output for c in "\x1b\x07\u202e")
    assert "Evil\\x1b[2J" in run.stdout
