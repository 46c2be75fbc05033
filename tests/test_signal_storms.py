"""Signal storms (2-5 stop signals at seeded random moments) against `rig run`, `read --on`, `calibrate
--switch-on` and `check` on the paced simulator: the simulated power pin's own log must end off, and a run's
record must match it (tests/support/signal_storms.py states what must hold). A handful per command here, in process
(signals to the pid) and one per command as a child process with the signals sent to its whole process group;
the bigger table is in tests/bench/bench_faults.py."""

from __future__ import annotations

import pytest
from support.signal_storms import COMMANDS, run_storm, run_storm_in_process, storm

IN_PROCESS = [storm(command, seed, in_process=True) for command in COMMANDS for seed in range(3)]
GROUP = [storm(command, seed) for command in COMMANDS for seed in range(40)]
GROUP = [next(s for s in GROUP if s.command == command and s.target == "group") for command in COMMANDS]
WELDED = [storm(command, seed, in_process=True, welded=True) for command in ("run", "read", "calibrate")
          for seed in (2,)]


@pytest.mark.parametrize("plan", IN_PROCESS, ids=[s.name for s in IN_PROCESS])
def test_a_storm_in_process_leaves_the_wrap_off_and_the_record_right(plan, tmp_path):
    result = run_storm_in_process(plan, tmp_path)
    assert result.problems == [], (result.exit_code, result.stderr, result.switch_log, result.record)


@pytest.mark.parametrize("plan", GROUP, ids=[s.name for s in GROUP])
def test_a_storm_to_the_process_group_leaves_the_wrap_off_and_the_record_right(plan, tmp_path):
    result = run_storm(plan, tmp_path)
    assert result.problems == [], (result.exit_code, result.stderr, result.switch_log, result.record)
    assert result.exit_code in (0, 1, 3)


def test_the_switch_log_is_the_pins_own_and_catches_a_wrap_left_on(tmp_path):
    # the log must be able to fail: a bench whose pin is left on (closed without switching off) shows "on"
    import os

    from support.signal_storms import LOG_ENV, StormResult, _log_lines

    from rig.config import load_bench_config
    from rig.sim.backend import build_sim_bench

    log = tmp_path / "switch.log"
    os.environ[LOG_ENV] = str(log)
    try:
        bench = build_sim_bench(load_bench_config(backend="sim"))
        bench.switch.on()
        bench.clock.sleep(2.0)
    finally:
        os.environ.pop(LOG_ENV)
    left_on = StormResult(storm("read", 0), 3, "", _log_lines(log))
    assert [line.split()[-1] for line in left_on.switch_log] == ["on"]
    assert "the switch log ends ON" in left_on.problems
    bench.close()


@pytest.mark.parametrize("plan", WELDED, ids=[s.name for s in WELDED])
def test_a_storm_against_a_welded_relay_still_ends_with_wrap_still_lit(plan, tmp_path):
    # the pin goes off but the light stays: every switch-off, interrupted or not, is followed by the light check
    result = run_storm_in_process(plan, tmp_path)
    assert result.problems == [], (result.exit_code, result.stderr, result.switch_log, result.record)
    assert result.switch_log and result.exit_code == 3
