"""Every simulated fault through the real CLI: switch off at the end, outcome and reason recorded, no row lost."""

import re

import pytest

from rig.faultsuite import FAULTS, run_fault


@pytest.mark.parametrize("fault", FAULTS, ids=[f.name for f in FAULTS])
def test_fault_is_handled(fault, tmp_path):
    result = run_fault(fault, tmp_path)
    assert result.outcome == fault.outcome, result.reason
    assert re.search(fault.reason_contains, result.reason), result.reason
    assert not result.switch_left_on  # the rig always drives its switch off
    assert result.wrap_lit_at_end == fault.wrap_lit_at_end  # only a welded relay keeps the wrap lit, and it is reported
    assert result.rows_in_csv == result.rows_recorded and result.rows_lost == 0
    assert result.exit_code == (3 if fault.outcome == "ABORTED" else result.exit_code)


def test_i2c_glitches_are_retried_and_counted(tmp_path):
    import pandas as pd

    glitches = next(f for f in FAULTS if f.name.startswith("I2C glitches"))
    result = run_fault(glitches, tmp_path)
    (run_dir,) = list((tmp_path / "results").glob("[!.]*"))
    # two NACKs on each chip: four transient errors, each retried once after a back-off
    assert pd.read_csv(run_dir / "samples.csv").i2c_retries.sum() == 4
    assert result.outcome == "COMPLETED"


def test_a_wrap_that_never_switches_itself_off_fails_its_auto_off_claim(tmp_path):
    import pandas as pd

    broken = next(f for f in FAULTS if f.name == "wrap never switches itself off")
    result = run_fault(broken, tmp_path)
    (run_dir,) = list((tmp_path / "results").glob("[!.]*"))
    summary = pd.read_csv(run_dir / "summary.csv").set_index("claim")
    assert summary.loc["session length / auto-off", "verdict"] == "FAIL"
    assert "still on after" in summary.loc["session length / auto-off", "note"]
    assert result.exit_code == 1
