"""Thermistors: the maths against stated values, and the full smbus2 -> ADS1115 emulator -> divider path."""

from __future__ import annotations

import math

import pytest

from rig.clock import SimClock
from rig.config import ProbeConfig, ThermalConfig
from rig.errors import SensorFault
from rig.hardware.thermal import ADS1115, ThermalProbes, config_word
from rig.ntc import (
    Thermistor,
    beta_resistance_ohm,
    beta_temperature_c,
    steinhart_hart_resistance_ohm,
    steinhart_hart_temperature_c,
)
from rig.sim.ads1115 import ADS1115Emulator
from rig.sim.bus import SimBus
from rig.sim.probes import NtcDividerSim

# The classic Steinhart-Hart coefficients of a 10 k NTC
SH = (1.009249522e-03, 2.378405444e-04, 2.019202697e-07)


def test_beta_model_at_stated_points():
    assert beta_temperature_c(10_000.0, 10_000.0, 25.0, 3950.0) == pytest.approx(25.0)
    # by hand: R(50 C) = 10k x exp(3950 x (1/323.15 - 1/298.15)) = 3588 ohm
    r50 = 10_000.0 * math.exp(3950.0 * (1 / 323.15 - 1 / 298.15))
    assert r50 == pytest.approx(3588, abs=2)
    assert beta_resistance_ohm(50.0, 10_000.0, 25.0, 3950.0) == pytest.approx(r50)
    assert beta_temperature_c(3588.0, 10_000.0, 25.0, 3950.0) == pytest.approx(50.0, abs=0.05)


def test_steinhart_hart_at_stated_points_and_inverse():
    # by hand: ln(10000) = 9.2103; 1/T = A + 9.2103 B + 781.3 C = 3.3576e-3 -> T = 297.83 K = 24.68 C
    assert steinhart_hart_temperature_c(10_000.0, *SH) == pytest.approx(24.68, abs=0.01)
    for t_c in (-10.0, 25.0, 43.0, 80.0):
        assert steinhart_hart_temperature_c(steinhart_hart_resistance_ohm(t_c, *SH), *SH) == pytest.approx(t_c)
    probe = ProbeConfig(sh_a=SH[0], sh_b=SH[1], sh_c=SH[2])
    assert Thermistor(probe).model == "steinhart-hart"


def test_config_word_for_ain1_4v_128sps():
    # OS=1, MUX=101 (AIN1 vs GND), PGA=001 (+/-4.096 V), MODE=1, DR=100 (128 SPS), comparator off = 0xD383
    assert config_word(1, 4.096, 128) == 0xD383
    assert config_word(0, 4.096, 128) == 0xC383


class Bench:
    """Probe temperatures -> divider -> emulated ADS1115 on an emulated bus -> rig's reader."""

    def __init__(self, temperatures: dict[str, float], config: ThermalConfig | None = None) -> None:
        self.config = config or ThermalConfig()
        self.clock = SimClock()
        self.bus = SimBus()
        self.divider = NtcDividerSim(self.config, lambda name: temperatures[name])
        self.chip = self.bus.attach(0x48, ADS1115Emulator(self.clock, self.divider, seed=3))
        self.probes = ThermalProbes(self.bus.smbus(), self.config, self.clock)


def test_stated_probe_temperatures_come_back_through_the_whole_path():
    bench = Bench({"surface": 37.0, "ambient": 22.5})
    readings = bench.probes.read()
    assert readings["surface"].temp_c == pytest.approx(37.0, abs=0.2)
    assert readings["ambient"].temp_c == pytest.approx(22.5, abs=0.2)
    assert readings["surface"].fault is None


@pytest.mark.parametrize("fault", ["open", "short"])
def test_open_and_shorted_probes_are_faults_not_temperatures(fault):
    bench = Bench({"surface": 37.0, "ambient": 22.5})
    bench.divider.set_fault("surface", fault)
    readings = bench.probes.read()
    assert readings["surface"].fault == fault and readings["surface"].temp_c is None
    assert readings["ambient"].temp_c == pytest.approx(22.5, abs=0.2)


def test_a_disconnected_adc_is_a_sensor_fault_naming_its_address():
    bench = Bench({"surface": 37.0, "ambient": 22.5})
    bench.bus.disconnect(0x48)
    with pytest.raises(SensorFault, match="0x48"):
        bench.probes.read()


def test_conversion_waits_for_the_data_rate_on_the_sim_clock():
    bench = Bench({"surface": 37.0, "ambient": 22.5})
    adc = ADS1115(bench.bus.smbus(), 0x48, bench.clock, 4.096, 128)
    t0 = bench.clock.monotonic()
    adc.read_volts(0)
    assert bench.clock.monotonic() - t0 == pytest.approx(1 / 128, abs=0.002)


def test_a_node_above_the_pga_range_is_a_fault_not_a_wrong_temperature():
    # +/-0.512 V range with a 3.3 V divider: the supply channel itself clips, so the reading is refused
    config = ThermalConfig(pga_v=0.512)
    bench = Bench({"surface": 37.0, "ambient": 22.5}, config)
    with pytest.raises(SensorFault, match="supply"):
        bench.probes.read()
    config = ThermalConfig(pga_v=0.512, supply_channel=None)
    bench = Bench({"surface": 37.0, "ambient": 22.5}, config)
    readings = bench.probes.read()
    assert readings["surface"].temp_c is None and "out of range" in readings["surface"].fault


def test_supply_drift_cancels_ratiometrically():
    # the divider runs from 3.2 V instead of the nominal 3.3 V: measured on AIN3, so temperatures stay right
    config = ThermalConfig(supply_v=3.2)
    bench = Bench({"surface": 40.0, "ambient": 20.0}, config)
    bench.probes.config = ThermalConfig(supply_v=3.3)  # the reader believes 3.3 V nominal
    readings = bench.probes.read()
    assert readings["surface"].temp_c == pytest.approx(40.0, abs=0.2)
