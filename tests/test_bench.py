"""The bench as a whole on simulated hardware: real gpiozero (MockFactory), real drivers, emulated chips."""

import time

import adafruit_as7341
import pytest

from rig.config import BenchConfig, load_bench_config
from rig.errors import HardwareNotFound
from rig.sim.backend import build_sim_bench
from rig.sim.wrap import LedString, WrapMode, WrapSpec
from rig.wiring import open_bench

RED_660 = WrapSpec(strings=[LedString("red", 660.0, 20.0, 30.0)], modes=[WrapMode("red", ["red"]),
                   WrapMode("red again", ["red"])])


def sim_config() -> BenchConfig:
    return load_bench_config(backend="sim")


def test_switching_the_pin_lights_the_sensor():
    with build_sim_bench(sim_config(), RED_660) as bench:
        dark = bench.read_spectrum()
        bench.switch.on()
        lit = bench.read_spectrum()
    # 30 mW/cm2 at 660 nm through a 1 % attenuator is 300 uW/cm2 at the sensor: F8 (680 nm) sees
    # it strongly, dark counts are a few counts. Compare counts per unit gain x time (auto-range may differ).
    def basic(reading, channel):
        return reading.counts[channel] / (reading.gain_x * reading.t_int_ms)
    assert basic(lit, 7) > 1000 * max(basic(dark, 7), 1e-3 / (dark.gain_x * dark.t_int_ms))
    assert not lit.saturated


def test_bench_exit_leaves_the_wrap_off_even_when_the_body_raises():
    bench = build_sim_bench(sim_config(), RED_660)
    power_pin = bench.hardware.pin_factory.pin(bench.config.switch.power_pin)
    with pytest.raises(RuntimeError, match="boom"), bench:
        bench.switch.on()
        assert power_pin.state and bench.hardware.wrap.is_lit(bench.clock.monotonic())
        raise RuntimeError("boom")
    assert power_pin.state is False
    assert not bench.hardware.wrap.is_lit(bench.clock.monotonic() + 1.0)


def test_a_gpiozero_pin_closed_without_off_floats_high_which_is_why_close_drives_it_off():
    # The trap from the reference notes: gpiozero's close() turns the pin into a floating input that
    # keeps its last level (on the mock factory, as on a MOSFET gate without pull-down).
    from gpiozero import DigitalOutputDevice
    from gpiozero.pins.mock import MockFactory

    factory = MockFactory()
    device = DigitalOutputDevice(5, pin_factory=factory)
    device.on()
    device.close()
    assert factory.pin(5).state is True  # left on: never rely on close alone
    bench = build_sim_bench(sim_config(), RED_660)
    bench.switch.on()
    bench.close()
    assert bench.hardware.pin_factory.pin(bench.config.switch.power_pin).state is False


def test_button_press_steps_the_mode_and_takes_its_length_on_the_sim_clock():
    with build_sim_bench(sim_config(), RED_660) as bench:
        bench.switch.on()
        t0 = bench.clock.monotonic()
        bench.switch.press(0.5)
        assert bench.clock.monotonic() - t0 == pytest.approx(0.5)
        assert bench.hardware.wrap.mode_name(bench.clock.monotonic()) == "red again"


def test_driver_sleeps_follow_the_sim_clock_only_while_the_bench_is_open():
    assert adafruit_as7341.sleep is time.sleep and adafruit_as7341.monotonic is time.monotonic
    bench = build_sim_bench(sim_config(), RED_660)
    assert adafruit_as7341.sleep.__self__ is bench.clock
    bench.close()
    assert adafruit_as7341.sleep is time.sleep and adafruit_as7341.monotonic is time.monotonic


def test_real_backend_never_falls_back_to_simulation():
    config = load_bench_config(backend="real")
    config.i2c_bus = 97
    with pytest.raises(HardwareNotFound, match="/dev/i2c-97"):
        open_bench(config)


def test_every_reading_records_the_attenuator():
    config = sim_config()
    config.jig.attenuator, config.jig.transmission = "ND 1.0", 0.1
    with build_sim_bench(config, RED_660) as bench:
        row = bench.read_spectrum().as_dict()
    assert row["attenuator"] == "ND 1.0" and row["transmission"] == 0.1
