"""The AS7343 path: the real Adafruit driver and rig's reader against the register-level emulator.

Each test states the light it shines and what the chip must then report: counts follow from the stated lines
through the typical table's columns by the table's own stated units (counts per uW/cm2 of a line per ms at 64x),
computed here with numpy from the CSV, not by the emulator's code.
"""

from __future__ import annotations

import adafruit_as7343
import numpy as np
import pytest
from support.chip_rig import EmulatedChip, rig_fixture

from rig.chips import CHIPS, Role
from rig.chips.as7343 import AUTO_SMUX_CYCLES, Reg
from rig.clock import SimClock
from rig.config import SpectralConfig
from rig.hardware.as7343 import AS7343Sensor
from rig.sim.as7343 import AS7343Emulator, draw_unit, install_sim_clock
from rig.sim.bus import SimBus
from rig.sim.optics import FixedLight, SpectralLine
from rig.spectrum.responsivity import Responsivity

CHIP = CHIPS["as7343"]


class Rig(EmulatedChip):
    """An emulated AS7343 on a bus with a sim clock, and rig's reader on it."""

    def __init__(self, lines, typical: bool = False, **config) -> None:
        unit = draw_unit("typical", scale=0.0) if typical else None
        kwargs = {"unit": unit, "noise": False, "dark_counts": 0.0} if typical else {}
        super().__init__(lambda clock: AS7343Emulator(clock, FixedLight(lines), **kwargs), install_sim_clock)
        self.sensor = AS7343Sensor(self.bus.busio(), SpectralConfig(chip="as7343", **config), self.clock,
                                   "ND 2.0", 0.01)


make_rig = rig_fixture(Rig)


def expected_counts(lines: list[SpectralLine], gain_x: float, t_int_ms: float) -> np.ndarray:
    """Counts the stated lines give through the typical table, by the table's stated units (1 nm grid)."""
    path = CHIP.responsivity_path()
    text = path.read_text(encoding="utf-8").splitlines()
    row = next(i for i, line in enumerate(text) if not line.startswith("#"))
    data = np.loadtxt(path, delimiter=",", skiprows=row + 1)
    wl, table = data[:, 0], data[:, 1:]
    per_nm = np.zeros_like(wl)
    for line in lines:
        shape = np.exp(-4 * np.log(2) * ((wl - line.peak_nm) / line.fwhm_nm) ** 2)
        per_nm += line.irradiance_uw_cm2 * shape / shape.sum()  # uW/cm2 per nm, summing to the line's irradiance
    return per_nm @ table * t_int_ms * {16: 0.247, 64: 1.0}[gain_x]  # DS001046 Fig. 10 typical ratio vs 64x


def test_the_real_driver_initialises_and_reads_all_18_values():
    clock, bus = SimClock(), SimBus()
    bus.attach(0x39, AS7343Emulator(clock, FixedLight([SpectralLine(690.0, 20.0, 5.0)])))
    with install_sim_clock(clock):
        driver = adafruit_as7343.AS7343(bus.busio())  # reads the ID in bank 1: raises if wrong
        bus.counters.reset()
        values = driver.all_channels
        per_spectrum = bus.counters.transactions
    by_name = {name: values[index] for name, index in vars(adafruit_as7343.Channel).items()
               if isinstance(index, int)}
    filters = {name: v for name, v in by_name.items() if not name.startswith("VIS")}
    # 5 uW/cm2 at 690 nm, driver default 256x and 50 ms per cycle: F7 (690 nm) is the brightest filter channel
    assert max(filters, key=filters.get) == "F7" and by_name["F7"] > 500
    assert by_name["F1"] < by_name["F7"] / 20 and by_name["F8"] < by_name["F7"]
    print(f"stock driver: {per_spectrum} I2C transactions per 18-channel spectrum")
    assert per_spectrum > 100  # polls AVALID every ms for three 50 ms cycles


def test_our_auto_smux_layout_is_the_drivers():
    order = sorted((index, name) for name, index in vars(adafruit_as7343.Channel).items() if isinstance(index, int))
    driver_layout = [name.split("_")[0] if name.startswith("VIS") else name for _, name in order]
    assert driver_layout == [name for cycle in AUTO_SMUX_CYCLES for name in cycle]


def test_a_missing_chip_and_a_wrong_id_are_clear_errors():
    with pytest.raises(ValueError, match="No I2C device at address: 0x39"):
        adafruit_as7343.AS7343(SimBus().busio())
    clock, bus = SimClock(), SimBus()
    chip = bus.attach(0x39, AS7343Emulator(clock, FixedLight([])))
    chip.bank1[Reg.ID] = 0x09  # another part answering at 0x39
    with install_sim_clock(clock), pytest.raises(RuntimeError, match="Expected chip ID 0x81"):
        adafruit_as7343.AS7343(bus.busio())


def test_known_light_gives_the_counts_the_table_states(make_rig):
    # a 660 nm LED (FWHM 20 nm, 40 uW/cm2) and an 850 nm LED (FWHM 30 nm, 60 uW/cm2) at the sensor,
    # 16x, ATIME 29, ASTEP 599: t_int = 30 x 600 x 2.78 us = 50.04 ms per cycle
    lines = [SpectralLine(660.0, 20.0, 40.0), SpectralLine(850.0, 30.0, 60.0)]
    rig = make_rig(lines, typical=True, gain_x=16, auto_range=False)
    rig.bus.counters.reset()
    t0 = rig.clock.monotonic()
    reading = rig.sensor.read()
    transactions = rig.bus.counters.transactions
    print(f"rig's reader: {transactions} I2C transactions per 13-channel reading")
    assert transactions == 4
    assert rig.clock.monotonic() - t0 == pytest.approx(3 * 0.05004)  # three auto-SMUX cycles
    assert reading.t_int_ms == pytest.approx(50.04) and not reading.saturated
    expected = expected_counts(lines, 16, 50.04)
    assert np.abs(np.array(reading.counts) - expected).max() <= 1.0  # rounding
    counts = dict(zip(CHIP.channels, reading.counts, strict=True))
    assert counts["F6"] > counts["F7"] > counts["FXL"]  # 660 nm: between F6 (640) and F7 (690), nearer F6
    assert counts["NIR"] > counts["F8"]  # 850 nm sits on NIR's peak (855), far past F8's (745)
    assert reading.as_dict()["VIS"] == reading.counts[CHIP.index_of(Role.BROADBAND)]


def test_f8_share_tells_far_red_lines_apart(make_rig):
    shares = []
    for peak_nm in (690.0, 720.0, 745.0):
        counts = make_rig([SpectralLine(peak_nm, 20.0, 20.0)], typical=True, gain_x=64).sensor.read().counts
        f7, f8 = counts[CHIP.index("F7")], counts[CHIP.index("F8")]
        shares.append(f8 / (f7 + f8))
    # F7 690 nm / F8 745 nm: the share rises across them, so a 720 nm line is told from both
    assert shares[0] < 0.1 < shares[1] < 0.5 < shares[2]


def test_saturation_is_flagged_and_auto_range_steps_out_of_it(make_rig):
    # 200 uW/cm2 at 855 nm (NIR's peak; DS001046 Fig. 8: 10581 counts for 15.5 uW/cm2 at 1024x, 27.8 ms, so about
    # 10581 / (15.5 x 27.8 x 16.9) = 1.45 counts per uW/cm2 per ms at 64x even at the test LEDs 849/903 nm) at 64x,
    # 50 ms: well over 1.45 x 200 x 50 = 14500 counts, above 30 x 600 = 18000 steps at the peak
    rig = make_rig([SpectralLine(855.0, 20.0, 200.0)], typical=True, gain_x=64, auto_range=False)
    raw = rig.sensor.read_raw()
    assert raw.saturated and raw.saturated_analog == (True,)
    assert raw.counts[CHIP.index("NIR")] == raw.full_scale == 18000
    assert rig.sensor.analog_saturated  # the driver's own STATUS2 bit agrees
    rig.sensor.config.auto_range = True
    ranged = rig.sensor.read()
    assert not ranged.saturated and ranged.gain_x < 64
    assert ranged.counts[CHIP.index("NIR")] < 0.9 * ranged.full_scale


def test_settings_reach_the_registers_and_reset_restores_them(make_rig):
    rig = make_rig([])
    rig.sensor.set_gain(2048)
    rig.sensor.set_timing(9, 199)
    assert (rig.chip.gain_code, rig.chip.atime, rig.chip.astep, rig.chip.cycles) == (12, 9, 199, 3)
    with pytest.raises(ValueError, match="not one of as7343"):
        rig.sensor.set_gain(3)
    rig.sensor.write_register(Reg.CONTROL, 0x08)  # SW_RESET
    assert (rig.chip.gain_code, rig.chip.atime, rig.chip.astep, rig.chip.cycles) == (9, 0, 999, 1)


@pytest.mark.parametrize(("mode", "count"), [(adafruit_as7343.SmuxMode.CH6, 6), (adafruit_as7343.SmuxMode.CH12, 12)])
def test_fewer_auto_smux_cycles_read_fewer_channels(make_rig, mode, count):
    rig = make_rig([SpectralLine(600.0, 20.0, 5.0)], typical=True)
    rig.sensor.smux_mode = mode
    t0 = rig.clock.monotonic()
    values = rig.sensor.all_channels
    assert len(values) == count and rig.clock.monotonic() - t0 < (count // 6) * 0.05004 + 0.01
    assert max(range(4), key=lambda i: values[i]) == 2  # cycle 1: FZ, FY, FXL, NIR: FXL (600 nm) leads


def test_drawn_units_spread_around_the_table_within_the_stated_out_of_band_range():
    typical = Responsivity.load(chip=CHIP)
    assert np.array_equal(draw_unit("u", 0, scale=0.0).responsivity.matrix, typical.matrix)
    wl = typical.wavelengths_nm
    f1 = CHIP.index("F1")
    levels, top_gains = [], []
    for label in range(40):
        unit = draw_unit(f"unit-{label}", 7)
        curve = unit.responsivity.matrix[:, f1]
        levels.append(curve[wl == 900][0] / (unit.sensitivity[f1] * typical.matrix[:, f1].max() * 0.01))
        assert not np.array_equal(unit.responsivity.matrix, typical.matrix)
        ratios = np.array(CHIP.gain_ratio_vs_64x) * unit.gain_factors
        for ratio, (low, high) in zip(ratios, CHIP.spread.gain_ratio_limits, strict=True):  # DS001046 Fig. 10
            assert low <= ratio <= high
        top_gains.append(ratios[-1])
    assert np.std(top_gains) / np.mean(top_gains) > 0.02  # 2048x: 28.2-41.3 of 64x, a wide spread
    levels = np.array(levels)  # F1's level at 900 nm, in units of the table's 1 % floor (skew bounds +/-25 %)
    assert levels.min() >= 0.1 * 0.75 and levels.max() <= 3.0 * 1.25
    assert levels.max() / levels.min() > 5  # the range is used, not a token spread


def test_registers_answer_only_in_their_bank(make_rig):
    rig = make_rig([])
    rig.sensor.write_register(Reg.CFG0, 0x10)  # REG_BANK = 1: 0x58-0x7F
    assert rig.sensor.read_register(Reg.ID) == 0x81
    rig.sensor.write_register(Reg.ATIME, 77)  # not reachable from bank 1: ignored
    rig.sensor.write_register(Reg.CFG0, 0x00)
    assert rig.sensor.read_register(Reg.ID) == 0 and rig.chip.atime == rig.sensor.atime != 77


def test_an_as7341_unit_is_refused():
    from rig.sim.sensor_unit import SensorUnit

    with pytest.raises(ValueError, match="needs a 13-channel unit"):
        AS7343Emulator(SimClock(), FixedLight([]), unit=SensorUnit.draw("as7341-1"))


class SquareWave:
    """A PWM-driven LED line: ``peak_uw_cm2`` for the first ``duty`` of every ``period_s``, off otherwise."""

    def __init__(self, line: SpectralLine, period_s: float, duty: float, phase_s: float) -> None:
        self.line, self.period_s, self.duty, self.phase_s = line, period_s, duty, phase_s

    def _on_time(self, t_s: float) -> float:
        """Seconds lit from the wave's start to ``t_s``."""
        t = t_s + self.phase_s
        whole, part = divmod(t, self.period_s)
        return whole * self.duty * self.period_s + min(part, self.duty * self.period_s)

    def lines_between(self, t0_s: float, t1_s: float) -> list[SpectralLine]:
        lit = (self._on_time(t1_s) - self._on_time(t0_s)) / (t1_s - t0_s)
        return [SpectralLine(self.line.peak_nm, self.line.fwhm_nm, self.line.irradiance_uw_cm2 * lit)]


def test_locked_to_the_pulse_period_every_reading_sees_the_duty_cycle_mean():
    # 660 nm, 40 uW/cm2 when on, PWM of period 7 ms at 30 % duty: the mean is 12 uW/cm2 whatever the phase
    line, period_s = SpectralLine(660.0, 20.0, 40.0), 0.007

    def read(phase_s: float, lock: bool):
        clock, bus = SimClock(), SimBus()
        bus.attach(0x39, AS7343Emulator(clock, SquareWave(line, period_s, 0.3, phase_s),
                                        unit=draw_unit("t", scale=0.0), noise=False, dark_counts=0.0))
        with install_sim_clock(clock):
            sensor = AS7343Sensor(bus.busio(), SpectralConfig(chip="as7343", gain_x=64, auto_range=False), clock,
                                  "none", 1.0)
            if lock:
                sensor.lock_to_period(period_s, min_s=0.05)
            reading = sensor.read()
        expected = expected_counts([SpectralLine(660.0, 20.0, 12.0)], 64, reading.t_int_ms)
        seen = expected > 100  # channels that see the line (rounding dominates the others)
        return np.max(np.abs(np.array(reading.counts)[seen] - expected[seen]) / expected[seen]), reading.t_int_ms

    phases = np.linspace(0.0, period_s, 8, endpoint=False)
    locked = [read(phase, lock=True) for phase in phases]
    assert all(abs(t_int_ms - 8 * 7.0) < 0.1 for _, t_int_ms in locked)  # 8 whole periods per cycle (>= 50 ms)
    assert max(error for error, _ in locked) < 0.01
    # unlocked, 50.04 ms is 7.15 periods: the reading depends on the phase (the lock is what makes it right)
    assert max(read(phase, lock=False)[0] for phase in phases) > 0.03


def test_the_real_backends_smbus_adapter_carries_a_reading():
    from rig.hardware.i2c import SMBusI2C

    clock, bus = SimClock(), SimBus()
    bus.attach(0x39, AS7343Emulator(clock, FixedLight([SpectralLine(640.0, 20.0, 5.0)])))
    with install_sim_clock(clock):
        sensor = AS7343Sensor(SMBusI2C(bus.smbus()), SpectralConfig(chip="as7343", gain_x=64), clock, "none", 1.0)
        reading = sensor.read()
    counts = dict(zip(CHIP.channels, reading.counts, strict=True))
    filters = {name: counts[name] for name in CHIP.spectral_channels}
    assert max(filters, key=filters.get) == "F6" and not reading.saturated  # 640 nm: F6's peak
