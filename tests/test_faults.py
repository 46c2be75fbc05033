"""Every simulated fault through the real CLI: switch off at the end, outcome and reason recorded, no row lost."""

import re

import pytest
from support.faultsuite import FAULTS, run_fault

_RUNS: dict[str, tuple] = {}


def fault_run(name: str, tmp_path_factory):
    """Each fault is run once per session (through rig.cli.main, in process) and its result shared."""
    if name not in _RUNS:
        fault = next(f for f in FAULTS if f.name == name)
        work = tmp_path_factory.mktemp("fault")
        _RUNS[name] = (run_fault(fault, work, in_process=True), work)
    return _RUNS[name]


@pytest.mark.parametrize("fault", FAULTS, ids=[f.name for f in FAULTS])
def test_fault_is_handled(fault, tmp_path_factory):
    result, _ = fault_run(fault.name, tmp_path_factory)
    assert result.outcome == fault.outcome, result.reason
    assert re.search(fault.reason_contains, result.reason), result.reason
    assert not result.switch_left_on  # the rig always drives its switch off
    assert result.wrap_lit_at_end == fault.wrap_lit_at_end  # only a welded relay keeps the wrap lit, and it is reported
    assert result.rows_in_csv == result.rows_recorded and result.rows_lost == 0
    assert result.exit_code == (3 if fault.outcome == "ABORTED" else result.exit_code)


def test_i2c_glitches_are_retried_and_counted(tmp_path_factory):
    import pandas as pd

    glitches = next(f for f in FAULTS if f.name.startswith("I2C glitches"))
    result, work = fault_run(glitches.name, tmp_path_factory)
    (run_dir,) = list((work / "results").glob("[!.]*"))
    # two NACKs on each chip: four transient errors, each retried once after a back-off
    assert pd.read_csv(run_dir / "samples.csv").i2c_retries.sum() == 4
    assert result.outcome == "COMPLETED"


def test_a_wrap_that_never_switches_itself_off_fails_its_auto_off_claim(tmp_path_factory):
    import pandas as pd

    result, work = fault_run("wrap never switches itself off", tmp_path_factory)
    (run_dir,) = list((work / "results").glob("[!.]*"))
    summary = pd.read_csv(run_dir / "summary.csv").set_index("claim")
    assert summary.loc["session length / auto-off", "verdict"] == "FAIL"
    assert "still on after" in summary.loc["session length / auto-off", "note"]
    assert result.exit_code == 1


def test_a_second_run_while_one_holds_the_bench_is_refused_and_creates_nothing(tmp_path, capsys):
    from support.handlers import handlers_restored
    from support.interruptions import prepare

    from rig.cli import main
    from rig.lock import BenchLock, bench_lock_path

    argv = prepare(tmp_path)
    out = tmp_path / "results"
    with BenchLock(bench_lock_path("sim", 1, 17, out)), handlers_restored():  # the first run holds the bench
        code = main(argv)
    assert code == 2
    assert "the bench is in use by another rig process" in capsys.readouterr().err
    assert [p.name for p in out.iterdir()] == [".rig-sim-bench.lock"]  # no run folder, nothing switched


def test_rig_off_works_while_a_run_holds_the_lock(tmp_path, capsys):
    from support.handlers import handlers_restored

    from rig.cli import main
    from rig.lock import BenchLock, bench_lock_path

    with BenchLock(bench_lock_path("real", 1, 17, tmp_path)), handlers_restored():
        code = main(["off", "--sim"])
    assert code == 0 and "power pin GPIO17 driven low (off)" in capsys.readouterr().out


def test_rig_off_names_the_pin_another_process_holds(tmp_path):
    from gpiozero import DigitalOutputDevice
    from gpiozero.pins.mock import MockFactory

    from rig.config import SwitchConfig
    from rig.errors import HardwareNotFound
    from rig.hardware.switch import force_off

    factory = MockFactory()
    holder = DigitalOutputDevice(17, pin_factory=factory, initial_value=True)  # a hung rig still drives it
    with pytest.raises(HardwareNotFound, match=r"cannot drive GPIO17 .*kill PID.*cut the wrap's power by hand"):
        force_off(SwitchConfig(), factory)
    holder.close()
    assert "GPIO17 driven low" in force_off(SwitchConfig(), factory)  # once released, rig off works
