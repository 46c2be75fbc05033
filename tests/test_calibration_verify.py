"""``rig calibrate verify``: a reference source read against the active calibration, which it never changes.

The references are stated here: a source the test knows (660 nm, 20 mW/cm2 at the jig), and the same source
with a stated bias (the meter reads 30 % low, the peak is stated 15 nm off): inside, then outside the stated U.
"""

from __future__ import annotations

import pytest
from conftest import rig_cli
from test_calibration_files import REFERENCES, T_FILE, UNITS, apply, read, steps_for, write_counts_csv

from rig.calibration.file import CalibrationFile, save_calibration
from rig.calibration.jobs import calibration_target


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory):
    """A calibration of unit as7341-1 by the README's steps (dark, 660 nm irradiance, three spectral references)."""
    folder = tmp_path_factory.mktemp("verify")
    path = folder / "cal.toml"
    steps = steps_for(UNITS["as7341-1"])
    for name in ("dark", "irradiance 20", *(f"spectral {peak:g}" for peak, _ in REFERENCES)):
        _, calibration, _ = calibration_target(str(path), "as7341-1", "ND 2.0", T_FILE)
        apply(calibration, steps[name])
        save_calibration(calibration, path)
    return path


@pytest.mark.parametrize(("stated_mw", "stated_nm", "code"), [
    (30.0, 645.0, 0),  # the truth: inside
    (23.0, 645.0, 1),  # the meter stated 23 % low: the irradiance is outside
    (30.0, 660.0, 1),  # the peak stated 15 nm off: outside
])
def test_verify_says_whether_a_stated_reference_lies_inside_the_stated_u(tmp_path, calibrated, stated_mw, stated_nm,
                                                                       code):
    # a 645 nm LED giving truly 30 mW/cm2 at the jig, read 3 times
    write_counts_csv(tmp_path / "counts.csv", read(UNITS["as7341-1"], [(645.0, 20.0, 30.0)], 3, seed=11))
    before = calibrated.read_bytes()
    done = rig_cli(["calibrate", "verify", tmp_path / "counts.csv", "--calibration", calibrated,
                    "--reference-mw-cm2", stated_mw, "--reference-u-pct", "1", "--reference-peak-nm", stated_nm,
                    "--reference-u-nm", "0.5"], cwd=tmp_path)
    assert done.returncode == code, done.stdout + done.stderr
    assert ("NOT verified" in done.stdout) == (code == 1) and "irradiance" in done.stdout and "red peak" in done.stdout
    assert calibrated.read_bytes() == before  # verify changes nothing


@pytest.mark.parametrize(("stated_nm", "code"), [(852.0, 0), (940.0, 1)])
def test_verify_checks_a_nir_peak_alone(tmp_path, calibrated, stated_nm, code):
    # an 852 nm LED (FWHM 30 nm); only its peak is stated (no meter): the NIR peak is checked, not irradiance
    write_counts_csv(tmp_path / "counts.csv", read(UNITS["as7341-1"], [(852.0, 30.0, 30.0)], 3, seed=12))
    done = rig_cli(["calibrate", "verify", tmp_path / "counts.csv", "--calibration", calibrated,
                    "--reference-peak-nm", stated_nm, "--reference-u-nm", "0.5"], cwd=tmp_path)
    assert done.returncode == code, done.stdout + done.stderr
    assert "NIR peak" in done.stdout and "irradiance" not in done.stdout


def test_verify_live_on_the_simulated_bench_inside_and_with_a_biased_reference(tmp_path):
    cal = tmp_path / "cal.toml"
    made = rig_cli(["calibrate", "irradiance", "--sim", "--reference-mw-cm2", "20", "--reference-nm", "660",
                    "--switch-on", "--settle-s", "1", "--count", "3", "--out", cal], cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    live = ["calibrate", "verify", "--sim", "--calibration", cal, "--switch-on", "--settle-s", "1", "--count", "3"]
    inside = rig_cli([*live, "--reference-mw-cm2", "20", "--reference-u-pct", "1"], cwd=tmp_path)
    assert inside.returncode == 0 and "inside" in inside.stdout, inside.stdout + inside.stderr
    # the source on the jig truly gives 32 mW/cm2 while the meter is stated at 24.6 (the truth 30 % above it). What
    # this 660 nm source tests is the scale at 660 nm, the calibration's own line: there the model terms cancel and
    # the stated U is the meter's 2 % (k=2), a gain ratio (the datasheet's +/-5 % when the gains differ: 5.7 %) and
    # counting noise, well under 30 %; the total's undetermined NIR band (up to about a third of the light after an
    # irradiance-only calibration) is not what a one-line source checks, and is not in the comparison
    (tmp_path / "source.toml").write_text(
        'droop_fraction = 0.0\nwavelength_drift_nm = 0.0\n[[strings]]\nname = "ref"\npeak_nm = 660.0\n'
        'fwhm_nm = 20.0\nirradiance_mw_cm2 = 32.0\n\n[[modes]]\nname = "ref"\nstrings = ["ref"]\n')
    biased = rig_cli([*live, "--sim-wrap", tmp_path / "source.toml", "--reference-mw-cm2", "24.6",
                      "--reference-u-pct", "1"], cwd=tmp_path)
    assert biased.returncode == 1 and "OUTSIDE" in biased.stdout, biased.stdout + biased.stderr
    assert "irradiance (red band)" in biased.stdout
    allowed_pct = float(biased.stdout.split("allowed ± ")[1].split(":")[0]) / 24.6 * 100
    assert allowed_pct < 15.0, biased.stdout  # the scale's own terms, not the NIR band's limit


def test_verify_needs_a_reference_and_refuses_a_bad_calibration(tmp_path):
    write_counts_csv(tmp_path / "counts.csv", read(UNITS["as7341-1"], [(660.0, 20.0, 30.0)], 1))
    none = rig_cli(["calibrate", "verify", tmp_path / "counts.csv"], cwd=tmp_path)
    assert none.returncode == 2 and "--reference-mw-cm2" in none.stderr
    bad = save_calibration(CalibrationFile(id="x", sensor_id="as7341-1"), tmp_path / "cal.toml")
    bad.write_text(bad.read_text().replace("scale = 1.0", "scale = -0.000185"))
    refused = rig_cli(["calibrate", "verify", tmp_path / "counts.csv", "--calibration", bad,
                       "--reference-mw-cm2", "30"], cwd=tmp_path)
    assert refused.returncode == 2 and "'scale'" in refused.stderr
