"""Spectral estimation against stated spectra: peaks, bands, irradiance, refusals, dose.

Counts are produced by the emulated chip from the stated lines (through rig's
reader, auto-ranged), then estimated; the expected values are the stated ones.
"""

from __future__ import annotations

import pytest

from rig.bench.spectral import SpectralSensor
from rig.clock import SimClock
from rig.config import SpectralConfig
from rig.dose import dose_j_cm2
from rig.responsivity import Responsivity
from rig.sim.as7341 import AS7341Emulator, install_sim_clock
from rig.sim.bus import SimBus
from rig.sim.optics import FixedLight, SpectralLine
from rig.spectrum import Calibration, estimate

T = 0.01  # the jig's attenuator: 1 % reaches the sensor
CAL = Calibration(Responsivity.load(), transmission=T, dark_counts=(1.5,) * 10)  # the emulator's stated dark level


def measure(lines_at_surface_mw: list[tuple[float, float, float]], seed: int = 0):
    """Shine lines (peak nm, FWHM nm, mW/cm2 at the wrap surface) through the attenuator; estimate."""
    clock, bus = SimClock(), SimBus()
    light = FixedLight([SpectralLine(p, w, e * 1000 * T) for p, w, e in lines_at_surface_mw])
    bus.attach(0x39, AS7341Emulator(clock, light, seed=seed))
    with install_sim_clock(clock):
        reading = SpectralSensor(bus.busio(), SpectralConfig(), clock, "ND 2.0", T).read()
    return estimate(reading.counts, reading.gain_x, reading.t_int_ms, CAL, reading.saturated, reading.full_scale)


@pytest.mark.parametrize("peak_nm", [630.0, 645.0, 660.0, 670.0])
def test_narrow_red_led_peak_within_the_stated_uncertainty(peak_nm):
    result = measure([(peak_nm, 20.0, 30.0)])
    assert abs(result.red_peak_nm - peak_nm) <= result.red_peak_u_nm
    assert result.red_peak_u_nm < 8.0
    assert abs(result.irradiance_mw_cm2 - 30.0) <= result.irradiance_u_mw_cm2
    assert "nir_absent" in result.flags


def test_660_plus_850_gives_both_bands_with_their_irradiances():
    result = measure([(660.0, 20.0, 28.0), (850.0, 30.0, 24.0)])
    assert abs(result.red_peak_nm - 660.0) <= result.red_peak_u_nm
    assert abs(result.nir_peak_nm - 850.0) <= result.nir_peak_u_nm
    assert abs(result.red_irradiance_mw_cm2 - 28.0) <= result.red_irradiance_u_mw_cm2
    assert abs(result.nir_irradiance_mw_cm2 - 24.0) <= result.nir_irradiance_u_mw_cm2
    assert abs(result.irradiance_mw_cm2 - 52.0) <= result.irradiance_u_mw_cm2
    assert "nir_unresolved" in result.flags  # the NIR peak is reported with its wide uncertainty


def test_nir_only_wrap_has_no_red_band():
    result = measure([(850.0, 30.0, 40.0)])
    assert result.red_peak_nm is None and "red_absent" in result.flags
    assert abs(result.nir_irradiance_mw_cm2 - 40.0) <= result.nir_irradiance_u_mw_cm2
    assert result.nir_irradiance_mw_cm2 == pytest.approx(40.0, rel=0.10)


def test_saturated_reading_is_refused():
    counts = (10, 10, 10, 10, 10, 200, 18000, 18000, 9000, 10)
    result = estimate(counts, 64, 50.04, CAL, saturated=True)
    assert result.flags == ["saturated"] and result.irradiance_mw_cm2 is None and result.red_peak_nm is None
    # a value at full scale is refused even when no flag came with it (e.g. a CSV from elsewhere)
    assert estimate(counts, 64, 50.04, CAL, full_scale=18000).flags == ["saturated"]


def test_dark_reading_gives_zero_irradiance_and_no_peak():
    result = measure([])
    assert result.red_peak_nm is None and result.nir_peak_nm is None
    assert abs(result.irradiance_mw_cm2) <= result.irradiance_u_mw_cm2
    assert {"red_absent", "nir_absent"} <= set(result.flags)


def test_irradiance_at_the_surface_divides_by_the_transmission():
    # 0.3 mW/cm2 at the sensor behind T = 0.01 is 30 mW/cm2 at the wrap; the same counts read as 3 mW/cm2 at T = 0.1
    result = measure([(660.0, 20.0, 30.0)])
    assert result.irradiance_mw_cm2 == pytest.approx(30.0, rel=0.08)
    clock, bus = SimClock(), SimBus()
    bus.attach(0x39, AS7341Emulator(clock, FixedLight([SpectralLine(660.0, 20.0, 300.0)])))
    with install_sim_clock(clock):
        reading = SpectralSensor(bus.busio(), SpectralConfig(), clock, "ND 1.0", 0.1).read()
    other = Calibration(Responsivity.load(), transmission=0.1, dark_counts=(1.5,) * 10)
    assert estimate(reading.counts, reading.gain_x, reading.t_int_ms, other).irradiance_mw_cm2 == pytest.approx(
        3.0, rel=0.08)


def test_dose_of_a_constant_50_mw_for_600_s_is_30_j_and_off_time_does_not_count():
    t = [float(s) for s in range(0, 901, 10)]
    on = [s <= 600 for s in t]
    irradiance = [50.0 if lit else 0.0 for lit in on]
    dose, _ = dose_j_cm2(t, irradiance, on=on)
    assert dose == pytest.approx(30.0)
    # a missing (saturated) sample in the middle is bridged, not counted as zero
    gappy = [None if s == 300 else e for s, e in zip(t, irradiance, strict=True)]
    assert dose_j_cm2(t, gappy, on=on)[0] == pytest.approx(30.0)
    dose, dose_u = dose_j_cm2(t, irradiance, on=on, irradiance_u=[5.0] * len(t))
    assert dose_u == pytest.approx(3.0)  # 10 % on every sample, correlated: 10 % of the dose
