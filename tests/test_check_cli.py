"""`rig check`: which expected devices answer, with their IDs; nothing switched."""

from rig.check import probe_devices
from rig.config import load_bench_config
from rig.sim.backend import build_sim_bench
from rig.sim.wrap import WrapSpec


def test_check_reports_both_chips_with_ids_and_switches_nothing():
    config = load_bench_config(backend="sim")
    with build_sim_bench(config, WrapSpec()) as bench:
        statuses = probe_devices(bench.probe_bus, config)
        assert [s.present for s in statuses] == [True, True]
        assert "ID 0x09" in statuses[0].detail  # AS7341 ID register bits 7:2
        assert "0x8583" in statuses[1].detail  # ADS1115 config register reset value
        assert not bench.hardware.wrap.power_events


def test_check_names_the_missing_chip_and_what_to_check():
    config = load_bench_config(backend="sim")
    with build_sim_bench(config, WrapSpec()) as bench:
        bench.hardware.bus.disconnect(0x48)
        spectral, adc = probe_devices(bench.probe_bus, config)
    assert spectral.present and not adc.present
    assert "I2C bus 1" in adc.detail and "ADDR pin" in adc.detail
