"""Measured gain ratios (``rig calibrate gains``): a steady source read at several gains tells this part's ratios.

Physics stated here: a sensor unit from the production spread whose gain ratios vs 64x the test sets itself
(1x 4 % low, 4x 3 % high, 16x 3 % low, 512x 4 % high of the datasheet's typical ratio; the datasheet allows +/-5 %),
a 660 nm LED (FWHM 20 nm) held steady on the jig at 200, 25, 3 and 0.4 mW/cm2 (its level is never stated to rig).
"""

from __future__ import annotations

import dataclasses

import pytest
from conftest import rig_cli
from test_calibration_files import T_FILE, read, sweep_read, write_counts_csv

from rig.calibration.file import CalibrationFile, load_calibration
from rig.calibration.gains import fit_gain_factors
from rig.calibration.jobs import add_gain_series, add_irradiance_points
from rig.chips import DEFAULT_CHIP
from rig.sim.sensor_unit import SensorUnit
from rig.spectrum import estimate
from rig.spectrum.responsivity import GAIN_RATIO_U_REL

CODES = DEFAULT_CHIP.gain_codes_x
STATED = {1.0: 0.96, 4.0: 1.03, 16.0: 0.97, 512.0: 1.04}
UNIT = dataclasses.replace(SensorUnit.draw("gain-unit", 21),
                           gain_factors=tuple(STATED.get(g, 1.0) for g in CODES))
LEVELS_MW = (200.0, 25.0, 3.0, 0.4)


@pytest.fixture(scope="module")
def series():
    return {f"{mw:g} mW": sweep_read(UNIT, mw, 4, seed=n) for n, mw in enumerate(LEVELS_MW)}


def test_overlapping_series_measure_each_gain_ratio_to_within_its_stated_u(series):
    fit = fit_gain_factors(list(series.values()), DEFAULT_CHIP)
    read_at = {r.gain_x for readings in series.values() for r in readings}
    assert {1.0, 4.0, 16.0, 64.0, 512.0} <= read_at
    for gain, factor, u, measured in zip(CODES, fit.factors, fit.u_rel, fit.measured, strict=True):
        truth = STATED.get(gain, 1.0)
        if gain == 64.0:
            assert factor == 1.0 and u == 0.0  # the table's gain: the reference of every ratio
        elif gain in read_at:
            assert measured and u < 0.012, (gain, u)  # a few readings: ~1 %, well under the datasheet's 2 %
            assert abs(factor - truth) <= max(3 * u, 0.005), (gain, factor, truth, u)
        else:  # never read: the datasheet's typical ratio and u
            assert not measured and factor == 1.0 and u == GAIN_RATIO_U_REL


def test_one_series_not_reaching_64x_measures_nothing(series):
    dim = series["0.4 mW"]
    assert 64.0 not in {r.gain_x for r in dim}
    fit = fit_gain_factors([dim], DEFAULT_CHIP)
    assert not fit.any_measured and set(fit.u_rel) == {0.0, GAIN_RATIO_U_REL}


def test_a_reading_at_another_gain_than_the_scale_s_is_read_right_and_states_less(series):
    # the scale is fitted at 660 nm, 20 mW/cm2 (meter u 1 %); a 1 mW/cm2 line is then read at a much higher gain
    with_gains, without = (CalibrationFile(id="g", sensor_id="s", transmission=T_FILE) for _ in range(2))
    add_gain_series(with_gains, series)
    for calibration in (with_gains, without):
        add_irradiance_points(calibration, read(UNIT, [(660.0, 20.0, 20.0)], 3, seed=3), [(20.0, 660.0)] * 3,
                              T_FILE, 1.0)
    scale_gain = with_gains.irradiance_readings[0].gain_x
    (reading,) = read(UNIT, [(660.0, 20.0, 1.0)], 1, seed=4)
    assert reading.gain_x != scale_gain and reading.gain_x in STATED  # a gain this unit is off at
    good = estimate(reading.counts, reading.gain_x, reading.t_int_ms, with_gains.calibration())
    typical = estimate(reading.counts, reading.gain_x, reading.t_int_ms, without.calibration())
    assert abs(good.irradiance_mw_cm2 - 1.0) <= good.irradiance_u_mw_cm2
    assert abs(good.irradiance_mw_cm2 - 1.0) < abs(typical.irradiance_mw_cm2 - 1.0)
    assert good.irradiance_u_mw_cm2 < typical.irradiance_u_mw_cm2


def test_rig_calibrate_gains_live_and_from_a_csv_and_refuses_a_single_gain(tmp_path, series):
    cal = tmp_path / "cal.toml"
    live = ["calibrate", "gains", "--sim", "--switch-on", "--settle-s", "1", "--count", "2", "--out", cal]
    bright = rig_cli([*live, "--reference-mw-cm2", "30", "--series", "bright"], cwd=tmp_path)
    assert bright.returncode == 0 and "gain ratios vs 64x" in bright.stdout, bright.stdout + bright.stderr
    again = rig_cli([*live, "--reference-mw-cm2", "30", "--series", "bright"], cwd=tmp_path)
    assert again.returncode == 2 and "already" in again.stderr
    write_counts_csv(tmp_path / "sweep.csv", series["3 mW"])
    offline = rig_cli(["calibrate", "gains", tmp_path / "sweep.csv", "--series", "3 mW", "--out", cal], cwd=tmp_path)
    assert offline.returncode == 0, offline.stdout + offline.stderr
    made = load_calibration(cal)  # what rig writes, rig reads back
    assert {r.series for r in made.gain_readings} == {"bright", "3 mW"} and len(made.gain_factors) == len(CODES)
    before = cal.read_bytes()
    one_gain = [r for r in series["3 mW"] if r.gain_x == series["3 mW"][0].gain_x]
    write_counts_csv(tmp_path / "one.csv", one_gain)
    refused = rig_cli(["calibrate", "gains", tmp_path / "one.csv", "--series", "one", "--out", cal], cwd=tmp_path)
    assert refused.returncode == 2 and "nothing written" in refused.stderr and cal.read_bytes() == before


def test_meter_readings_at_660_and_850_nm_fit_the_scale_s_slope_and_pin_nir_light(tmp_path):
    # the README's steps on a production unit (dark, three reference LEDs), then the meter (1 %) on the 660 nm LED,
    # and in a second file on the 850 nm LED too (FWHM 30 nm, 20 mW/cm2 at the jig: the truth, as stated)
    from test_calibration_files import REFERENCES, UNITS, apply, steps_for

    unit = UNITS["as7341-1"]
    steps = steps_for(unit)
    files = []
    for nir_meter in (False, True):
        calibration = CalibrationFile(id="t", sensor_id="s", transmission=T_FILE)
        for name in ("dark", "irradiance 20", *(f"spectral {peak:g}" for peak, _ in REFERENCES)):
            apply(calibration, steps[name])
        if nir_meter:
            add_irradiance_points(calibration, read(unit, [(850.0, 30.0, 20.0)], 3, seed=8), [(20.0, 850.0)] * 3,
                                  T_FILE, 1.0)
        files.append(calibration)
    one, two = files
    assert one.scale_tilt_u_per_100nm == 0.0 and 0 < two.scale_tilt_u_per_100nm < 0.02  # ~1.4 % / 1.9 (100 nm)
    from rig.calibration.file import save_calibration

    assert load_calibration(save_calibration(two, tmp_path / "two.toml")).scale_tilt_per_100nm == \
        two.scale_tilt_per_100nm  # what rig writes, rig reads back
    for peak, fwhm in ((850.0, 30.0), (880.0, 30.0), (645.0, 20.0)):
        (reading,) = read(unit, [(peak, fwhm, 30.0)], 1, seed=int(peak))
        wide, pinned = (estimate(reading.counts, reading.gain_x, reading.t_int_ms, f.calibration()) for f in files)
        assert abs(pinned.irradiance_mw_cm2 - 30.0) <= pinned.irradiance_u_mw_cm2, (peak, pinned)
        if peak > 740:  # NIR light: the 850 nm meter reading is evidence the 660 nm one is not
            assert pinned.irradiance_u_mw_cm2 < 0.8 * wide.irradiance_u_mw_cm2, (peak, wide, pinned)
