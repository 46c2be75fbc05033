"""Per-sensor spectral calibration against stated reference sources; simulated units; the sim's sensor settings.

Reference sources are LED lines whose peaks the test states (as a spectrometer would have measured them).
The sensor is a production unit (rig/sim/sensor_unit.py), read through rig's reader.
"""

from __future__ import annotations

import sys
from dataclasses import replace

import numpy as np
import pytest
from conftest import rig_cli

from rig.calibration.file import load_calibration, spectral_calibration
from rig.calibration.spectral import ReferenceReading, fit_spectral, shifted_channels
from rig.chips import DEFAULT_CHIP
from rig.clock import SimClock
from rig.config import SpectralConfig
from rig.errors import ConfigError
from rig.hardware.spectral import SpectralSensor
from rig.sim.as7341 import AS7341Emulator, install_sim_clock
from rig.sim.bus import SimBus
from rig.sim.optics import FixedLight, SpectralLine
from rig.sim.sensor_unit import SensorSpread, SensorUnit
from rig.sim.wrap import load_wrap_spec
from rig.spectrum import Calibration, ModelUncertainty, estimate
from rig.spectrum.responsivity import Responsivity

RIG = [sys.executable, "-m", "rig.cli"]
T = 0.01
DARK = (1.5,) * 10
TABLE = Responsivity.load()


def readings(unit: SensorUnit, lines: list[tuple[float, float, float]], count: int, seed: int = 0):
    """``count`` auto-ranged readings of lines (peak, FWHM, mW/cm2 at the surface) behind T."""
    clock, bus = SimClock(), SimBus()
    bus.attach(0x39, AS7341Emulator(clock, FixedLight([SpectralLine(p, w, e * 1000 * T) for p, w, e in lines]),
                                    seed=seed, unit=unit))
    with install_sim_clock(clock):
        sensor = SpectralSensor(bus.busio(), SpectralConfig(), clock, "ND", T)
        return [sensor.read() for _ in range(count)]


def references(unit: SensorUnit, u_nm: float = 0.5) -> list[ReferenceReading]:
    # three LEDs a spectrometer measured at 631.0, 658.5 and 852.0 nm (FWHM 18, 20, 30 nm), 30 mW/cm2 on the jig
    out = []
    for peak, fwhm in ((631.0, 18.0), (658.5, 20.0), (852.0, 30.0)):
        out += [ReferenceReading(r.counts, r.gain_x, r.t_int_ms, peak, fwhm, u_nm)
                for r in readings(unit, [(peak, fwhm, 30.0)], 5, seed=int(peak))]
    return out


def test_sensor_units_are_repeatable_distinct_and_within_the_datasheet_tolerance():
    a, again, b = SensorUnit.draw("as7341-1", 0), SensorUnit.draw("as7341-1", 0), SensorUnit.draw("as7341-2", 0)
    assert np.array_equal(a.responsivity.matrix, again.responsivity.matrix)
    assert not np.array_equal(a.responsivity.matrix, b.responsivity.matrix)
    assert np.array_equal(SensorUnit.draw("x", 1, SensorSpread(scale=0.0)).responsivity.matrix, TABLE.matrix)
    # a drawn unit is not the table: its 660 nm line response differs by more than the noise in some channel
    ratio = a.responsivity.line_response(660.0, 20.0)[6:8] / TABLE.line_response(660.0, 20.0)[6:8]
    assert np.max(np.abs(ratio - 1)) > 0.02
    # filter centres stay within the datasheet's +/-10 nm even at twice the spread
    offsets = [abs(d) for k in range(100) for d in SensorUnit.draw(f"u{k}", 0, SensorSpread(scale=2.0))
               .centre_offset_nm]
    assert max(offsets) <= 10.0 and np.std(offsets) > 1.0


def test_three_references_calibrate_the_red_peak_of_a_production_unit():
    # after the calibration, 645 nm and 675 nm LEDs (FWHM 20 nm, 30 mW/cm2) are read within the stated (narrower)
    # interval, and closer than before
    unit = SensorUnit.draw("as7341-7", 3)
    nominal = Calibration(TABLE, transmission=T, dark_counts=DARK)
    fit = fit_spectral(references(unit), TABLE, T, DARK)
    calibrated = spectral_calibration(nominal, fit)
    for peak in (645.0, 675.0):
        r = readings(unit, [(peak, 20.0, 30.0)], 1, seed=9)[0]
        before = estimate(r.counts, r.gain_x, r.t_int_ms, nominal)
        after = estimate(r.counts, r.gain_x, r.t_int_ms, calibrated)
        assert abs(after.red_peak_nm - peak) <= after.red_peak_u_nm
        assert abs(after.red_peak_nm - peak) <= 4.0
        assert after.red_peak_u_nm < before.red_peak_u_nm


def test_the_references_peak_uncertainty_flows_into_the_peak_floor():
    unit = SensorUnit.draw("as7341-7", 3)
    sharp = fit_spectral(references(unit, u_nm=0.2), TABLE, T, DARK)
    vague = fit_spectral(references(unit, u_nm=3.0), TABLE, T, DARK)
    assert vague.peak_floor_nm["red"] > 1.5 * sharp.peak_floor_nm["red"]



def test_a_fitted_filter_centre_counts_the_references_peak_u_once():
    # the references' stated peaks are parameters of the fit (prior N(stated, u)) traded against the filter centres:
    # a centre's posterior carries their u. LEDs stated to 3 nm tell the centres no worse than the production spread
    # (3 nm, the prior): the stated centre u stays below it (adding the references' 3 nm again gave 3.4-3.9 nm)
    unit = SensorUnit.draw("as7341-7", 3)
    fit = fit_spectral(references(unit, u_nm=3.0), TABLE, T, DARK)
    prior = ModelUncertainty.of(TABLE.chip).shift_nm
    for name in shifted_channels(TABLE.chip):
        c = TABLE.chip.channels.index(name)
        assert fit.model_u.shift_nm[c] < prior[c]


def test_an_out_of_band_level_is_known_relative_to_clear_not_to_the_common_level():
    # references of free amplitude measure each channel relative to Clear, which reads their amplitudes; the level
    # common to all channels is the irradiance scale's (a meter sets it). So a channel's stated out-of-band u, as its
    # in-band one, cannot depend on how wide the prior on that common level is: three times the sensitivity prior
    # leaves it as it was (absolute gains carried the prior in: 8.7 -> 15 % on F1-F5)
    refs = references(SensorUnit.typical())
    base = ModelUncertainty.of(TABLE.chip)
    narrow = fit_spectral(refs, TABLE, T, DARK, prior=base).model_u.oob_rel
    wide = fit_spectral(refs, TABLE, T, DARK, prior=replace(base, rel=tuple(3 * r for r in base.rel))).model_u.oob_rel
    assert np.allclose(wide, narrow, rtol=0.02)

def write_ref_csv(path, unit: SensorUnit) -> None:
    rows = ["F1,F2,F3,F4,F5,F6,F7,F8,Clear,NIR,gain_x,t_int_ms,reference_peak_nm,reference_fwhm_nm,reference_u_nm"]
    for peak, fwhm in ((631.0, 18.0), (658.5, 20.0), (852.0, 30.0)):
        for r in readings(unit, [(peak, fwhm, 30.0)], 3, seed=int(peak)):
            rows.append(",".join(str(c) for c in r.counts) + f",{r.gain_x},{r.t_int_ms},{peak},{fwhm},0.5")
    path.write_text("\n".join(rows) + "\n")


def test_cli_spectral_calibration_adds_to_the_file_and_analyze_uses_it(tmp_path):
    cal = tmp_path / "cal.toml"
    cal.write_text('id = "x"\nsensor_id = "as7341-1"\ntransmission = 0.01\nscale = 1.0\n'
                   "dark_counts = [1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5]\n")
    unit = SensorUnit.draw("as7341-1", 0)
    write_ref_csv(tmp_path / "ref.csv", unit)
    done = rig_cli(["calibrate", "spectral", str(tmp_path / "ref.csv"), "--out", str(cal)], cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    made = load_calibration(cal)
    assert made.dark_counts == [1.5] * 10  # what was there is kept
    assert len(made.spectral_gains) == 10 and len(made.spectral_readings) == 9
    assert [round(r.reference_peak_nm, 1) for r in made.spectral_references] == [631.0, 658.5, 852.0]
    assert "3 reference source(s)" in made.spectral_method
    # an irradiance calibration added to the same file keeps the spectral part
    irr = rig_cli(["calibrate", "irradiance", "--sim", "--reference-mw-cm2", "20", "--reference-nm",
                          "660", "--switch-on", "--settle-s", "1", "--count", "3", "--out", str(cal)], cwd=tmp_path)
    assert irr.returncode == 0, irr.stderr
    both = load_calibration(cal)
    assert both.spectral_gains == made.spectral_gains and len(both.points) == 3
    # rig analyze reads a 668 nm LED through the calibrated table
    r = readings(unit, [(668.0, 20.0, 30.0)], 1, seed=4)[0]
    (tmp_path / "counts.csv").write_text(",".join((*DEFAULT_CHIP.channels, "gain_x", "t_int_ms")) + "\n"
                                         + ",".join(str(c) for c in r.counts) + f",{r.gain_x},{r.t_int_ms}\n")
    out = tmp_path / "out.csv"
    analysed = rig_cli(["analyze", str(tmp_path / "counts.csv"), "--calibration", str(cal),
                               "--out", str(out)], cwd=tmp_path)
    assert analysed.returncode == 0, analysed.stderr
    import pandas as pd

    row = pd.read_csv(out).iloc[0]
    assert abs(row.red_peak_nm - 668.0) <= row.red_peak_u_nm and "uncalibrated" not in str(row.flags)


@pytest.mark.parametrize("content, names", [
    ("F1,F2,F3,F4,F5,F6,F7,F8,Clear,NIR,gain_x,t_int_ms\n1,1,1,1,1,1,1,1,1,1,64,50\n", "'reference_peak_nm'"),
    ("F1,F2,F3,F4,F5,F6,F7,F8,Clear,NIR,gain_x,t_int_ms,reference_peak_nm\n1,1,1,1,1,1,x,1,1,1,64,50,660\n",
     "line 2, column 'F7'"),
    ("F1,F2,F3,F4,F5,F6,F7,F8,Clear,NIR,gain_x,t_int_ms,reference_peak_nm\n1,1,1,1,1,1,1,1,1,1,64,50,5000\n",
     "column 'reference_peak_nm'"),
])
def test_a_bad_ref_csv_is_refused_with_file_and_column(tmp_path, content, names):
    ref = tmp_path / "ref.csv"
    ref.write_text(content)
    done = rig_cli(["calibrate", "spectral", str(ref), "--out", str(tmp_path / "c.toml")], cwd=tmp_path)
    assert done.returncode == 2 and str(ref) in done.stderr and names in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "c.toml").exists()


def test_the_sim_wraps_sensor_table_sets_the_unit_spread(tmp_path):
    good = tmp_path / "w.toml"
    good.write_text('[[strings]]\nname = "red"\npeak_nm = 660.0\nfwhm_nm = 20.0\nirradiance_mw_cm2 = 30.0\n\n'
                    '[[modes]]\nname = "on"\nstrings = ["red"]\n\n[sensor]\nscale = 2.0\nunit = "spare"\n')
    spec = load_wrap_spec(good)
    assert spec.sensor.scale == 2.0 and spec.sensor.unit == "spare"
    good.write_text(good.read_text().replace("scale = 2.0", "scale = -1.0"))
    with pytest.raises(ConfigError, match="sensor.scale"):
        load_wrap_spec(good)


def test_leakage_is_its_own_parameter_so_out_of_band_channels_keep_their_gain():
    # A part whose filters leak a tenth of the templates' level out of band (one published digitisation of the
    # datasheet curves): F1-F4 see the red/NIR references only through that leakage. The fit must read it as low
    # leakage, not as a gain of 0.1, and the file must load back (it used to be refused: gains 0.079, 0.093 ...).
    unit = SensorUnit.draw("low-leak", 5, SensorSpread(out_of_band_low=0.1, out_of_band_high=0.1))
    fit = fit_spectral(references(unit), TABLE, T, DARK)
    assert all(0.75 < g < 1.33 for g in fit.gains[:4])  # the gain stays at its prior
    assert all(f < 0.4 for f in fit.oob_factors[:4])  # the leakage level carries the difference
    assert all(0.2 < g < 5 for g in fit.gains)


@pytest.mark.parametrize("name, scale, low, high", [("a", 1.0, 0.1, 3.0), ("b", 1.0, 0.1, 0.1), ("c", 1.0, 3.0, 3.0),
                                                    ("d", 2.0, 0.1, 3.0)])
def test_a_spectral_calibration_file_round_trips_on_units_across_the_spread(tmp_path, name, scale, low, high):
    # whatever the part, what the fit writes the reader accepts, and the loaded calibration is the fitted one
    from rig.calibration.file import CalibrationFile, save_calibration
    from rig.calibration.spectral import add_references

    unit = SensorUnit.draw(f"roundtrip-{name}", 9, SensorSpread(scale=scale, out_of_band_low=low,
                                                                out_of_band_high=high))
    made = CalibrationFile(id="rt", sensor_id="as7341-1", transmission=T, dark_counts=list(DARK))
    fit = add_references(made, references(unit), T)
    path = save_calibration(made, tmp_path / "cal.toml")
    loaded = load_calibration(path).calibration()
    direct = spectral_calibration(Calibration(TABLE, transmission=T, dark_counts=DARK), fit)
    assert np.allclose(loaded.model_u.rel, direct.model_u.rel, rtol=1e-4)
    assert np.allclose(loaded.model_u.rel_shift_corr, direct.model_u.rel_shift_corr, atol=1e-5)
    assert np.allclose(loaded.responsivity.matrix, direct.responsivity.matrix, rtol=1e-3,
                       atol=1e-4 * direct.responsivity.matrix.max())  # the file rounds shifts to 1e-4 nm


def test_a_calibrated_reading_at_the_scales_gain_shares_its_gain_ratio_error():
    # each gain code's ratio vs 64x is off by 2 % (standard), 64x exact: a scale set at 8x carries 8x's error
    from rig.spectrum.responsivity import gain_ratio_u

    assert gain_ratio_u(8.0, True, (8.0,) * 10) == 0.0  # the same code: the error cancels
    assert gain_ratio_u(64.0, True, (8.0,) * 10) == pytest.approx(0.02)  # only the scale's code
    assert gain_ratio_u(16.0, True, (8.0,) * 10) == pytest.approx(0.02 * 2**0.5)  # two independent codes
    assert gain_ratio_u(16.0, True, ()) == pytest.approx(0.02 * 2**0.5)  # scale's gains unknown: as before
    # measured by rig calibrate gains: 16x to 0.5 %, 8x to 0.4 % (each vs 64x, independently); 32x not measured
    measured = {8.0: 0.004, 16.0: 0.005}
    assert gain_ratio_u(16.0, True, (8.0,) * 10, measured) == pytest.approx((0.004**2 + 0.005**2) ** 0.5)
    assert gain_ratio_u(32.0, True, (8.0,) * 10, measured) == pytest.approx((0.004**2 + 0.02**2) ** 0.5)
    assert gain_ratio_u(16.0, False, (), measured) == pytest.approx(0.005)  # uncalibrated: its own ratio vs 64x


def test_the_irradiance_model_term_cancels_at_the_scales_reference_wavelength():
    # an irradiance-only calibration at 660 nm (the datasheet table's model terms): a 660 nm line reads with a U
    # near the scale's own, a 610 nm line (50 nm away) keeps a model term; noise-free counts from the table
    table = Responsivity.load()
    base = Calibration(table, transmission=0.05, scale_u_rel=0.01, calibrated=True, scale_gains_x=(64.0,),
                       scale_lines_nm=(660.0,))
    unreferenced = Calibration(table, transmission=0.05, scale_u_rel=0.01, calibrated=True, scale_gains_x=(64.0,))

    def u_rel(calibration: Calibration, peak_nm: float) -> float:
        response = table.line_response(peak_nm, 20.0) * 50.0  # 50 ms at 64x
        counts = response * 20000.0 / response.max()  # the brightest channel at 20000 counts
        e = estimate(counts, 64.0, 50.0, calibration)
        return e.red_irradiance_u_mw_cm2 / e.red_irradiance_mw_cm2

    at_reference, away = u_rel(base, 660.0), u_rel(base, 610.0)
    assert at_reference < 0.04 < u_rel(unreferenced, 660.0)  # 2 x 1 % scale + counting, against ~10 % before
    assert away > 1.5 * at_reference


def leak_sloped_unit(slope: float) -> SensorUnit:
    """The typical part, except that every filter channel's out-of-band response is x exp(slope (lambda - 750) /
    200 nm): with slope 0.5, 20 % less leakage in red light (660 nm) and 28 % more in NIR light (850 nm)."""
    from rig.spectrum.responsivity import out_of_band_mask

    typical = SensorUnit.typical()
    table = typical.responsivity
    wl = table.wavelengths_nm
    leak = table.matrix * out_of_band_mask(table)
    matrix = table.matrix + leak * (np.exp(slope * (wl - 750.0) / 200.0)[:, None] - 1.0)
    return replace(typical, unit_id="leak-sloped", responsivity=Responsivity(wl, matrix, "sloped leakage",
                                                                             chip=table.chip))


def test_the_leakage_slope_between_red_and_nir_light_is_fitted_and_kept(tmp_path):
    # A part whose filters leak 20 % less red light and 28 % more NIR light than the table (a slope of 0.5 per
    # 200 nm, 1.7x the production spread's sd): one leakage level per channel cannot fit both, and its misfit used
    # to widen every channel's out-of-band u. The references at 631 / 658.5 / 852 nm tell the slope where a channel
    # leaks enough to read it (F3 sees a quarter of Clear's NIR signal): fitted within 0.2 of the truth, its NIR
    # light's u as sure as its red light's, the NIR and red LEDs' peaks inside U, and the file keeps it.
    from rig.calibration.file import CalibrationFile, save_calibration
    from rig.calibration.spectral import add_references

    f3 = DEFAULT_CHIP.channels.index("F3")
    unit = leak_sloped_unit(0.5)
    made = CalibrationFile(id="slope", sensor_id="leak-sloped", transmission=T, dark_counts=list(DARK))
    fit = add_references(made, references(unit), T)
    assert abs(fit.oob_tilts[f3] - 0.5) < 0.2, fit.oob_tilts
    assert fit.model_u.oob_rel_nir[f3] < 0.15 and fit.model_u.oob_rel[f3] < 0.15
    calibration = load_calibration(save_calibration(made, tmp_path / "cal.toml")).calibration()
    assert np.allclose(calibration.responsivity.matrix, spectral_calibration(
        Calibration(TABLE, transmission=T, dark_counts=DARK), fit).responsivity.matrix, rtol=1e-3, atol=1e-8)
    for lines, band, peak in (([(660.0, 20.0, 30.0), (840.0, 30.0, 20.0)], "nir", 840.0),
                              ([(645.0, 20.0, 30.0)], "red", 645.0)):
        for r in readings(unit, lines, 4, seed=int(peak)):
            e = estimate(r.counts, r.gain_x, r.t_int_ms, calibration)
            assert getattr(e, f"{band}_peak_low_nm") <= peak <= getattr(e, f"{band}_peak_high_nm"), (band, e)
