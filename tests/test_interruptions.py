"""A running `rig run` interrupted from outside: catchable signals, its results folder deleted (the rest, SIGTERM
right after the last sample included, in `make bench`: tests/bench/bench_faults.py).

Each states what is done and checks what the rig must then do and record: exit code 3, wrap off (power pin and
the simulated wrap), run.json outcome and reason, as many rows in samples.csv as run.json says, no stray
temporary files, no traceback.
"""

from __future__ import annotations

import pytest

from rig.interruptions import INTERRUPTIONS, run_interrupted_in_process

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



def test_a_signal_while_a_row_is_written_waits_for_the_row_even_with_another_thread_running():
    # rich's live display runs a thread; a signal sent then reaches Python in the main thread whatever its mask:
    # the row (and its count) must land before the run stops
    import os
    import signal
    import threading
    import time

    from rig.run.signals import RunAborted, abort_on_signals, signals_held

    events = []
    with abort_on_signals():
        try:
            with signals_held():
                sender = threading.Thread(target=os.kill, args=(os.getpid(), signal.SIGUSR1))
                sender.start()
                sender.join()
                time.sleep(0.05)  # Python would run a pending handler here
                events.append("row written and counted")
        except RunAborted as stop:
            events.append(str(stop))
    assert events == ["row written and counted", "SIGUSR1 received: run stopped by the operator or the system"]


def test_a_signal_held_while_switching_off_is_noted_not_raised():
    import os
    import signal

    from rig.run.signals import abort_on_signals, signals_held, signals_noted

    late: list[str] = []
    with abort_on_signals(), signals_noted(late), signals_held():
        os.kill(os.getpid(), signal.SIGUSR2)
    assert late == ["SIGUSR2"]
