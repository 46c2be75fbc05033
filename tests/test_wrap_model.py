"""The simulated wrap obeys the physics each test states (warm-up, heating, pulses, auto-off, faults)."""

import math

import numpy as np
import pytest

from rig.errors import ConfigError
from rig.sim.wrap import LedString, WrapFaults, WrapMode, WrapSpec, load_wrap_spec
from rig.sim.wrap_model import WrapModel


def red_only(**overrides) -> WrapSpec:
    spec = dict(
        strings=[LedString("red", 660.0, 20.0, 40.0)],
        modes=[WrapMode("red", ["red"])],
        droop_fraction=0.10, warmup_tau_s=60.0, wavelength_drift_nm=3.0,
        ambient_c=22.0, surface_rise_c=10.0, heat_tau_s=200.0, auto_off_s=600.0,
    )
    spec.update(overrides)
    return WrapSpec(**spec)


def test_dark_until_powered_then_droops_and_drifts_while_warming():
    wrap = WrapModel(red_only())
    assert wrap.lines_between(0, 1) == []
    wrap.set_power(0.0, True)
    # 40 mW/cm2 cold; at t = 120 s the junction state is 1 - exp(-2) = 0.8647,
    # so output is 40 * (1 - 0.1 * 0.8647) = 36.54 mW/cm2 and the peak is 660 + 3 * 0.8647 nm.
    (line,) = wrap.lines_between(119.95, 120.05)
    assert line.irradiance_uw_cm2 == pytest.approx(36_540, rel=1e-3)
    assert line.peak_nm == pytest.approx(662.59, abs=0.01)


def test_surface_heats_toward_ambient_plus_rise_and_cools_back():
    wrap = WrapModel(red_only())
    wrap.set_power(0.0, True)
    # first order, tau 200 s: after 200 s the rise is 63.2 % of 10 C
    assert wrap.surface_c(200.0) == pytest.approx(22.0 + 6.32, abs=0.01)
    assert wrap.surface_c(590.0) == pytest.approx(22.0 + 10 * (1 - math.exp(-590 / 200)), abs=0.01)
    wrap.set_power(590.0, False)
    peak = wrap.surface_c(590.0)
    assert wrap.surface_c(790.0) == pytest.approx(22.0 + (peak - 22.0) * math.exp(-1), abs=0.01)


def test_auto_off_after_the_stated_time_and_broken_timer_never_stops():
    wrap = WrapModel(red_only(auto_off_s=600.0))
    wrap.set_power(10.0, True)
    assert wrap.is_lit(609.0) and not wrap.is_lit(611.0)
    broken = WrapModel(red_only(faults=WrapFaults(auto_off_broken=True)))
    broken.set_power(0.0, True)
    assert broken.is_lit(5000.0)


@pytest.mark.parametrize(("hz", "duty"), [(10.0, 0.25), (40.0, 0.5)])
def test_pulse_mode_light_is_the_on_time_fraction(hz, duty):
    wrap = WrapModel(red_only(modes=[WrapMode("pulse", ["red"], pulse_hz=hz, duty=duty)], droop_fraction=0.0))
    wrap.set_power(0.0, True)
    steady_uw = 40_000.0
    # over whole periods the mean is duty x steady; inside the on part it is steady; inside the off part, dark
    assert wrap.lines_between(0.0, 1.0)[0].irradiance_uw_cm2 == pytest.approx(duty * steady_uw, rel=1e-9)
    assert wrap.lines_between(0.0, duty / hz * 0.9)[0].irradiance_uw_cm2 == pytest.approx(steady_uw)
    assert wrap.lines_between(duty / hz * 1.01, 0.99 / hz) == []


def test_button_steps_modes_and_dead_string_stays_dark():
    spec = red_only(strings=[LedString("red", 660, 20, 30), LedString("nir", 850, 30, 20)],
                    modes=[WrapMode("both", ["red", "nir"]), WrapMode("nir", ["nir"])],
                    faults=WrapFaults(dead_strings=["red"]))
    wrap = WrapModel(spec)
    wrap.set_power(0.0, True)
    assert [round(line.peak_nm) for line in wrap.lines_between(0, 0.1)] == [850]
    wrap.press_button(5.0)
    assert wrap.mode_name(6.0) == "nir"
    wrap.press_button(7.0)
    assert wrap.mode_name(8.0) == "both"


def test_stuck_relay_ignores_switch_off_and_never_on_never_lights():
    stuck = WrapModel(red_only(faults=WrapFaults(stuck_on=True)))
    stuck.set_power(0.0, True)
    stuck.set_power(10.0, False)
    assert stuck.is_lit(20.0)
    dead = WrapModel(red_only(faults=WrapFaults(never_on=True)))
    dead.set_power(0.0, True)
    assert not dead.is_lit(1.0) and dead.lines_between(0, 1) == []


def test_overheating_fault_keeps_rising():
    wrap = WrapModel(red_only(auto_off_s=3600.0, faults=WrapFaults(runaway_c_per_min=2.0)))
    wrap.set_power(0.0, True)
    # steady state would be 32 C; runaway adds 2 C/min on top: 20 min -> about 32 + 40 C
    assert wrap.surface_c(1200.0) > 70.0


def test_bad_wrap_file_names_file_and_key(tmp_path):
    path = tmp_path / "wrap.toml"
    path.write_text('[[strings]]\nname = "red"\npeak_nm = "six hundred"\n')
    with pytest.raises(ConfigError, match=r"wrap.toml: 'strings\[0\]\.peak_nm': expected a finite number"):
        load_wrap_spec(path)
    path.write_text('[[strings]]\nname = "red"\npeak_nm = 660\n[[modes]]\nname = "x"\nstrings = ["blue"]\n')
    with pytest.raises(ConfigError, match=r"'modes\[0\]\.strings'"):
        load_wrap_spec(path)


def test_ripple_shapes_integrate_exactly_over_a_window():
    from rig.sim.wrap import Ripple

    # a 100 Hz sine ripple of 20 % depth: the level swings 0.8 .. 1.2 of 40 mW/cm2; over the first quarter
    # period the mean of 1 + 0.2 sin is 1 + 0.2 * 2 / pi; over a whole period it is exactly 1
    wrap = WrapModel(red_only(ripple=[Ripple(100.0, 20.0, "sine")], droop_fraction=0.0))
    wrap.set_power(0.0, True)
    assert wrap.lines_between(0.0, 0.01)[0].irradiance_uw_cm2 == pytest.approx(40_000.0, rel=1e-9)
    assert wrap.lines_between(0.0, 0.0025)[0].irradiance_uw_cm2 == pytest.approx(40_000 * (1 + 0.4 / math.pi))
    # a square ripple at 25 % duty and 50 % depth, inside a 10 Hz pulse at 50 % duty: over one pulse period the
    # light is 0.5 (gate) x (1 + 0.5 x (2 x 0.25 - 1)) = 0.375 of the level
    tri = WrapModel(red_only(modes=[WrapMode("p", ["red"], pulse_hz=10.0, duty=0.5,
                                             ripple=[Ripple(1000.0, 50.0, "square", 0.25)])], droop_fraction=0.0))
    tri.set_power(0.0, True)
    assert tri.lines_between(0.0, 0.1)[0].irradiance_uw_cm2 == pytest.approx(0.375 * 40_000, rel=1e-9)


def test_per_mode_auto_off_and_a_wrap_that_relights():
    spec = red_only(modes=[WrapMode("a", ["red"]), WrapMode("b", ["red"], auto_off_s=120.0)], auto_off_s=600.0,
                    relight_after_s=30.0)
    wrap = WrapModel(spec)
    wrap.set_power(0.0, True)
    wrap.press_button(100.0)  # mode b: its own 120 s timer from here
    assert wrap.is_lit(219.0) and not wrap.is_lit(221.0)
    assert wrap.is_lit(251.0) and wrap.mode_name(251.0) == "b"  # back on 30 s later, fresh timer
    assert not wrap.is_lit(371.0)


def test_hot_spot_and_heat_from_the_strings_that_are_lit():
    from rig.sim.wrap import WrapPosition

    spec = red_only(strings=[LedString("red", 660, 20, 30, heat_weight=1.0), LedString("nir", 850, 30, 30,
                                                                                       heat_weight=3.0)],
                    modes=[WrapMode("red", ["red"]), WrapMode("nir", ["nir"])],
                    positions=[WrapPosition("edge", rise_factor=1.5)], surface_rise_c=12.0, heat_tau_s=100.0,
                    auto_off_s=3000.0)
    red, nir = WrapModel(spec), WrapModel(spec)
    red.set_power(0.0, True)
    nir.set_power(0.0, True)
    nir.press_button(0.0)
    # steady rise = 12 C x lit heat share: red 1/4 -> 3 C, nir 3/4 -> 9 C; the hot spot rises 1.5 x as much
    assert red.surface_c(2000.0) == pytest.approx(25.0, abs=0.01)
    assert nir.surface_c(2000.0) == pytest.approx(31.0, abs=0.01)
    assert nir.temperature_c("edge", 2000.0) == pytest.approx(22.0 + 1.5 * 9.0, abs=0.01)


def test_bad_ripple_names_file_and_key(tmp_path):
    path = tmp_path / "wrap.toml"
    path.write_text('[[ripple]]\nfrequency_hz = 100.0\ndepth_pct = 20.0\nshape = "wobble"\n')
    with pytest.raises(ConfigError, match=r"wrap.toml: 'ripple\[0\]\.shape': expected one of sine"):
        load_wrap_spec(path)


def test_throttle_steps_down_light_and_heat_at_a_time_or_a_temperature():
    from rig.sim.wrap import Throttle

    # 40 mW/cm2, no droop, 10 C rise with tau 200 s from 22 C. Step 1: at 300 s after power-on, 70 % drive.
    # Step 2: once the surface reaches 28 C (t = -200 ln(1 - 6/10) = 183.3 s), 80 % drive. The lowest applies.
    wrap = WrapModel(red_only(droop_fraction=0.0, auto_off_s=20_000.0, throttle=[Throttle(0.7, at_s=300.0),
                                                              Throttle(0.8, at_surface_c=28.0)]))
    wrap.set_power(100.0, True)
    crossing = 100.0 - 200.0 * math.log(1 - 6 / 10)
    assert wrap.lines_between(crossing - 0.2, crossing - 0.1)[0].irradiance_uw_cm2 == pytest.approx(40_000)
    assert wrap.lines_between(crossing + 0.1, crossing + 0.2)[0].irradiance_uw_cm2 == pytest.approx(32_000)
    assert wrap.lines_between(401.0, 402.0)[0].irradiance_uw_cm2 == pytest.approx(28_000)
    # the heat follows the drive: after 400 s the surface relaxes toward 22 + 0.7 x 10 = 29 C
    assert wrap.surface_c(5000.0) == pytest.approx(29.0, abs=0.01)
    # a power cycle resets the controller: full output again, until the steps are reached again
    wrap.set_power(5000.0, False)
    wrap.set_power(9000.0, True)
    assert wrap.lines_between(9000.0, 9001.0)[0].irradiance_uw_cm2 == pytest.approx(40_000)


@pytest.mark.parametrize(("table", "key"), [
    ("output_factor = 1.5\nat_s = 10.0", "throttle[0].output_factor"),
    ("output_factor = 0.5", "throttle[0]"),
    ("output_factor = 0.5\nat_surface_c = 10.0", "throttle[0].at_surface_c"),
])
def test_bad_throttle_steps_name_the_file_and_key(tmp_path, table, key):
    path = tmp_path / "w.toml"
    path.write_text(f"[[throttle]]\n{table}\n")
    with pytest.raises(ConfigError) as error:
        load_wrap_spec(path)
    assert str(path) in str(error.value) and f"'{key}'" in str(error.value)


def test_many_short_samples_at_once_see_the_stated_light():
    # The flicker FIFO asks for thousands of 0.5 ms samples at once. Weighting each line by 1 (its irradiance):
    # a steady 40 mW/cm2 string with no droop reads 40 000 uW/cm2 in every sample; pulsed at 40 Hz, 30 % duty,
    # the samples average 30 % of that over whole periods and each lies between 0 and the full level; a wrap
    # that switches itself off at 5 s reads 0 after it. Each also equals the interval-by-interval lines.
    from rig.sim.optics import weighted_between

    ends = 1.0 + np.arange(1, 8001) * 0.5e-3  # 1.0005 .. 5.0 s: 4 s = 160 periods of 40 Hz
    unit = lambda line: 1.0  # noqa: E731
    steady = WrapModel(red_only(droop_fraction=0.0, wavelength_drift_nm=0.0))
    pulsed = WrapModel(red_only(droop_fraction=0.0, modes=[WrapMode("red", ["red"], pulse_hz=40.0, duty=0.3)]))
    stops = WrapModel(red_only(auto_off_s=3.0))
    for wrap in (steady, pulsed, stops):
        wrap.set_power(1.0, True)
    flat = steady.weighted_between(ends - 0.5e-3, ends, unit)
    assert flat == pytest.approx(np.full(len(ends), 40_000.0), rel=1e-12)
    wave = pulsed.weighted_between(ends - 0.5e-3, ends, unit)
    assert wave.mean() == pytest.approx(0.3 * 40_000.0, rel=1e-9)
    assert wave.min() >= -1e-6 and wave.max() <= 40_000.0 * (1 + 1e-9)
    off = stops.weighted_between(ends - 0.5e-3, ends, unit)
    assert (off[ends > 4.0 + 0.5e-3] == 0).all() and (off[ends < 4.0] > 0).all()

    class OneByOne:
        def __init__(self, wrap):
            self.wrap = wrap

        def lines_between(self, t0_s, t1_s):
            return self.wrap.lines_between(t0_s, t1_s)

    for wrap, got in ((pulsed, wave), (stops, off)):
        assert weighted_between(OneByOne(wrap), ends - 0.5e-3, ends, unit) == pytest.approx(got, rel=1e-9, abs=1e-6)
