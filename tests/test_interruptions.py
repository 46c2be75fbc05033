"""A running `rig run` interrupted from outside: catchable signals, its results folder deleted (the rest, SIGTERM
right after the last sample included, in `make bench`: tests/bench/bench_faults.py).

Each states what is done and checks what the rig must then do and record: exit code 3, wrap off (power pin and
the simulated wrap), run.json outcome and reason, as many rows in samples.csv as run.json says, no stray
temporary files, no traceback.
"""

from __future__ import annotations

import pytest
from support.interruptions import INTERRUPTIONS, run_interrupted_in_process

# make test: the signals nothing else in the suite sends, and the deleted folder; `make bench` runs every
# interruption (INT, TERM and SIGTERM right after the last sample too) as child processes, three seeds each
IN_PROCESS = [i for i in INTERRUPTIONS if i.action in ("SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGPIPE",
                                                        "delete-folder")]


@pytest.mark.parametrize("interruption", IN_PROCESS, ids=[i.name for i in IN_PROCESS])
def test_interrupted_run_is_recorded_with_the_wrap_off(interruption, tmp_path):
    result = run_interrupted_in_process(interruption, tmp_path)
    assert result.problems == [], result
    assert result.exit_code == 3 and not result.switch_left_on and not result.wrap_lit_at_end
    if interruption.csv_kept:
        assert result.rows_recorded == result.rows_in_csv >= 8  # stopped mid-run, every row written kept
    else:  # the folder was deleted: run.json is written again to say so, samples.csv is gone with the folder
        assert result.rows_in_csv is None and "disappeared during the run" in result.reason


def _send_from_a_thread(signum):
    """Another thread sends the signal (as rich's live display thread might receive it); Python runs the handler
    in the main thread at its next chance (the sleep gives it one)."""
    import os
    import threading
    import time

    sender = threading.Thread(target=os.kill, args=(os.getpid(), signum))
    sender.start()
    sender.join()
    time.sleep(0.05)


def test_a_signal_while_a_row_is_written_waits_for_the_row_even_with_another_thread_running():
    import signal

    from rig.run.signals import SignalReceived, signal_gate

    events = []
    with signal_gate() as gate:
        try:
            with gate.raising():
                with gate.held():
                    _send_from_a_thread(signal.SIGUSR1)
                    events.append("row written and counted")
                events.append("not reached: the held signal stops the work as the row is done")
        except SignalReceived as stop:
            events.append(str(stop))
    assert events == ["row written and counted", "SIGUSR1 received: run stopped by the operator or the system"]


def test_the_gate_raises_once_and_later_signals_while_switching_off_are_only_noted():
    # Ctrl-C twice, or systemd's TERM after a HUP: the first stops the work, the second lands in the shut-down
    import signal

    from rig.run.signals import SignalReceived, signal_gate

    steps, late = [], []
    with signal_gate() as gate, gate.noting(late):
        try:
            with gate.raising():
                _send_from_a_thread(signal.SIGINT)
                steps.append("not reached")
        except SignalReceived as stop:
            steps.append(stop.name)
        finally:
            _send_from_a_thread(signal.SIGINT)  # lands in the shut-down: must not interrupt it
            _send_from_a_thread(signal.SIGTERM)
            steps.append("switched off, read back, light checked, recorded")
        with gate.raising():  # and no later block raises again: the one stop has been given
            _send_from_a_thread(signal.SIGHUP)
            steps.append("still not interrupted")
    assert steps == ["SIGINT", "switched off, read back, light checked, recorded", "still not interrupted"]
    assert late == ["SIGINT", "SIGINT", "SIGTERM", "SIGHUP"]


def test_a_signal_before_the_work_starts_stops_it_as_it_starts_and_a_swallowed_stop_still_stops():
    import signal

    import pytest

    from rig.run.signals import SignalReceived, signal_gate

    with signal_gate() as gate, gate.noting():
        _send_from_a_thread(signal.SIGQUIT)  # e.g. while the bench is opened: noted
        with pytest.raises(SignalReceived, match="SIGQUIT"), gate.raising():
            raise AssertionError("not reached: the noted signal is raised on entering the block")
    with signal_gate() as gate, pytest.raises(SignalReceived, match="SIGUSR2"), gate.raising():
        try:
            _send_from_a_thread(signal.SIGUSR2)
        except Exception:  # noqa: BLE001 - code that swallows every error must not swallow the stop
            pass


def test_a_signal_before_the_phases_start_gives_a_finished_record_not_running(tmp_path):
    # SIGINT while the bench is being opened: the run folder exists already; its record must say ABORTED, wrap off
    import json
    import os
    import signal

    from support.handlers import handlers_restored
    from test_run_guards import PROFILE

    from rig.config import load_bench_config
    from rig.run import run_sequence
    from rig.sequence import Phase, Sequence
    from rig.sim.backend import build_sim_bench
    from rig.spectrum.derive import make_deriver

    def open_bench():
        os.kill(os.getpid(), signal.SIGINT)
        return build_sim_bench(load_bench_config(backend="sim"))

    sequence = Sequence(phases=[Phase("dark", 3.0, 1.0), Phase("on"), Phase("measure", 10.0, 1.0)]).validate()
    with handlers_restored():
        result = run_sequence(PROFILE, sequence, open_bench, tmp_path, derive=make_deriver())
    manifest = json.loads((result.run_dir / "run.json").read_text())
    assert manifest["outcome"] == "ABORTED" and "SIGINT received" in manifest["reason"]
    assert manifest["rows"] == 0 and manifest["wrap_left_on"] is False
