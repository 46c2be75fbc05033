"""The real bench, end to end. Runs only when asked: `make test-hardware` on the Pi, with the jig wired.

RIG_BENCH=path/to/bench.toml selects the bench config (default: built-in defaults, real backend).
RIG_HARDWARE_SWITCH=1 also switches the wrap on for a few seconds (a wrap must be on the jig).
"""

from __future__ import annotations

import os

import pytest

from rig.check import probe_devices
from rig.config import load_bench_config
from rig.spectrum.responsivity import gain_ratio
from rig.wiring import open_bench

pytestmark = pytest.mark.hardware


@pytest.fixture
def config():
    return load_bench_config(os.environ.get("RIG_BENCH"), backend="real")


def test_both_chips_answer_with_their_ids(config):
    from smbus2 import SMBus

    with SMBus(config.i2c_bus) as bus:
        statuses = probe_devices(bus, config)
    assert all(s.present for s in statuses), [s.detail for s in statuses]


def test_one_reading_of_every_sensor_with_the_wrap_off(config):
    with open_bench(config) as bench:
        reading = bench.read_spectrum()
        temperatures = bench.read_temperatures()
        assert not bench.switch.is_on
    assert not reading.saturated
    for name, probe in temperatures.items():
        assert probe.fault is None, f"{name}: {probe.fault}"
        assert 5.0 < probe.temp_c < 45.0  # a bench indoors


@pytest.mark.skipif(os.environ.get("RIG_HARDWARE_SWITCH") != "1", reason="set RIG_HARDWARE_SWITCH=1 with a wrap")
def test_switching_the_wrap_lights_the_sensor_and_exit_switches_it_off(config):
    with open_bench(config) as bench:
        dark = bench.read_spectrum()
        bench.switch.on()
        bench.clock.sleep(3.0)
        lit = bench.read_spectrum()

    def clear(reading):
        return reading.counts[8] / (gain_ratio(reading.gain_x) * reading.t_int_ms)

    assert clear(lit) > 10 * max(clear(dark), 0.01)
    assert not bench.switch.is_on
