"""Thermistors: the maths against stated values, and the full smbus2 -> ADS1115 emulator -> divider path."""

from __future__ import annotations

import math

import pytest

from rig.clock import SimClock
from rig.config import ProbeConfig, ThermalConfig
from rig.errors import ConfigError, SensorFault
from rig.hardware.ntc import (
    Thermistor,
    beta_resistance_ohm,
    beta_temperature_c,
    steinhart_hart_resistance_ohm,
    steinhart_hart_temperature_c,
)
from rig.hardware.thermal import ADS1115, ThermalProbes, config_word
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

    def __init__(self, temperatures: dict[str, float], config: ThermalConfig | None = None,
                 true_probes: dict[str, ProbeConfig] | None = None) -> None:
        self.config = config or ThermalConfig()
        self.clock = SimClock()
        self.bus = SimBus()
        self.divider = NtcDividerSim(self.config, lambda name: temperatures[name], true_probes)
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


# --- coefficients that are not an NTC curve: the danger, shown through the true part, and their refusal ---------

def nominal_ntc(t_c: float) -> float:
    """The probe really fitted on the bench: 10 k at 25 C, B = 3950 K."""
    return 10_000.0 * math.exp(3950.0 * (1 / (t_c + 273.15) - 1 / 298.15))


def test_coefficients_fitted_to_rising_resistances_would_blind_the_interlock():
    # the points: resistance RISING with temperature (0:3000, 25:10000, 50:32000): not an NTC
    from rig.calibration.fit import fit_thermistor

    fit = fit_thermistor([0.0, 25.0, 50.0], [3000.0, 10_000.0, 32_000.0])
    bad = ProbeConfig(name="surface", channel=0, skin=True, sh_a=fit.coefficients["sh_a"],
                      sh_b=fit.coefficients["sh_b"], sh_c=fit.coefficients["sh_c"])
    config = ThermalConfig(probes=[bad, ProbeConfig(name="ambient", channel=1)])
    # the simulated probe is the real part (its true curve), read back through the bad coefficients
    bench = Bench({"surface": 45.0, "ambient": 22.5}, config)
    reading = bench.probes.read()["surface"]
    assert reading.resistance_ohm == pytest.approx(nominal_ntc(45.0), rel=0.01)
    assert reading.fault is None and reading.temp_c < 15.0  # 45 C read as a cool probe: the cut-out never trips
    # so the bench config refuses such coefficients, naming them
    with pytest.raises(ConfigError, match="sh_a/sh_b/sh_c.*NTC curve"):
        config.validate("bench.toml", "thermal")


def test_the_simulated_probe_is_the_true_part_not_rigs_coefficients():
    # rig is told B = 3435 K while the part is B = 3950 K: at 60 C rig reads the wrong temperature, as on the bench
    told = ThermalConfig(probes=[ProbeConfig(name="surface", channel=0, skin=True, beta_k=3435.0),
                                 ProbeConfig(name="ambient", channel=1)])
    bench = Bench({"surface": 60.0, "ambient": 22.5}, told, {"surface": ProbeConfig(beta_k=3950.0)})
    read = bench.probes.read()["surface"].temp_c
    # by hand: R(60 C, B 3950) = 10k exp(3950 (1/333.15 - 1/298.15)) = 2486 ohm;
    # 1/T = 1/298.15 + ln(0.2486)/3435 = 2.9488e-3 -> T = 339.1 K = 66.0 C
    assert read == pytest.approx(66.0, abs=0.3)


def test_a_curve_with_no_temperature_for_a_resistance_is_a_probe_fault_not_a_crash():
    odd = ProbeConfig(name="surface", channel=0, skin=True, sh_a=-0.01, sh_b=0.0, sh_c=0.0)  # 1/T < 0 everywhere
    bench = Bench({"surface": 37.0, "ambient": 22.5}, ThermalConfig(probes=[odd, ProbeConfig(name="ambient",
                                                                                               channel=1)]))
    reading = bench.probes.read()["surface"]
    assert reading.temp_c is None and reading.fault


@pytest.mark.parametrize(("points", "named"), [
    (["0:3000", "25:10000", "50:32000"], "--point '25:10000'"),  # rising: not an NTC
    (["0:10000", "50:10000"], "--point '50:10000'"),  # flat
    (["0:32650", "50:3603", "25:11000", "40:12000"], "--point '40:12000'"),  # 40 C above the 25 C point
])
def test_thermistor_points_that_do_not_fall_with_temperature_are_refused_naming_the_point(tmp_path, points, named):
    from conftest import rig_cli

    argv = ["calibrate", "thermistor", "--probe", "surface", "--out", tmp_path / "t.toml"]
    for point in points:
        argv += ["--point", point]
    done = rig_cli(argv, cwd=tmp_path)
    assert done.returncode == 2 and named in done.stderr and "NTC" in done.stderr, done.stderr
    assert not (tmp_path / "t.toml").exists()


def test_a_thermistor_calibration_writes_a_file_that_reads_back_and_a_bench_config_that_loads(tmp_path):
    from conftest import rig_cli

    from rig.calibration.thermistor_file import load_thermistor_file
    from rig.config import load_bench_config

    points = [f"{t:g}:{nominal_ntc(t):.1f}" for t in (0.0, 25.0, 50.0)]
    done = rig_cli(["calibrate", "thermistor", "--probe", "surface", "--point", points[0], "--point", points[1],
                    "--point", points[2], "--out", tmp_path / "t.toml"], cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    made = load_thermistor_file(tmp_path / "t.toml")
    assert made.model == "steinhart-hart" and max(abs(r) for r in made.residuals_c) < 0.01
    (tmp_path / "bench.toml").write_text(
        'backend = "sim"\n[[thermal.probes]]\nname = "surface"\nchannel = 0\nskin = true\n'
        f"sh_a = {made.sh_a!r}\nsh_b = {made.sh_b!r}\nsh_c = {made.sh_c!r}\n"
        '[[thermal.probes]]\nname = "ambient"\nchannel = 1\n')
    config = load_bench_config(tmp_path / "bench.toml")
    bench = Bench({"surface": 45.0, "ambient": 22.5}, config.thermal)
    assert bench.probes.read()["surface"].temp_c == pytest.approx(45.0, abs=0.2)


def test_rig_check_refuses_a_bench_config_whose_curve_is_not_an_ntc(tmp_path):
    from conftest import rig_cli

    (tmp_path / "bench.toml").write_text(
        'backend = "sim"\n[[thermal.probes]]\nname = "surface"\nchannel = 0\nskin = true\n'
        "sh_a = 0.00632222978420159\nsh_b = -0.0003636873112559865\nsh_c = 4.88240728730482e-07\n"
        '[[thermal.probes]]\nname = "ambient"\nchannel = 1\n')
    done = rig_cli(["check", "--bench", tmp_path / "bench.toml"], cwd=tmp_path)
    assert done.returncode == 2 and "thermal.probes[0].sh_a/sh_b/sh_c" in done.stderr, done.stderr
