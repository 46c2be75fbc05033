"""The AS7343 spectral sensor: the Adafruit driver, extended for a full reading in one measurement.

The stock driver's ``all_channels`` stops and restarts the engine, clears STATUS and polls AVALID every 1 ms
(~160 I2C transactions for an 18-channel spectrum at 50 ms per cycle), and reports no saturation.
:meth:`AS7343Sensor.read_raw` restarts the measurement (18-channel auto-SMUX: three cycles), sleeps for it,
polls STATUS2 (one read when the data are on time, with the saturation flags) and reads ASTATUS + the 18 data
registers in one 37-byte block read: 4 transactions. :meth:`AS7343Sensor.read` adds auto-ranging as the AS7341
reader does, so a saturated reading is never returned as a measurement unless even the lowest gain and shortest
integration saturate (then it is returned *flagged*); that, the settings and register access are
:class:`rig.hardware.reader.SpectralReader`'s, shared with the AS7341's reader.
"""

from __future__ import annotations

from adafruit_as7343 import AS7343, SmuxMode

from rig.chips.as7343 import AUTO_SMUX_CYCLES, CHIP, Bit, Reg
from rig.clock import Clock
from rig.config import SpectralConfig
from rig.hardware.reader import SpectralReader, SpectralReading

N_DATA = 6 * len(AUTO_SMUX_CYCLES)


def counts_from_data(data: list[int]) -> tuple[int, ...]:
    """The 18 data registers (auto-SMUX order) as counts in the chip's channel order (VIS: mean of six)."""
    by_name: dict[str, list[int]] = {}
    for position, name in enumerate(name for cycle in AUTO_SMUX_CYCLES for name in cycle):
        by_name.setdefault(name, []).append(data[position])
    return tuple(round(sum(by_name[name]) / len(by_name[name])) for name in CHIP.channels)


class AS7343Sensor(SpectralReader, AS7343):
    """AS7343 on any busio.I2C-shaped bus; ``clock`` times the measurements."""

    chip = CHIP
    flicker_capture = False  # flicker detection and its FIFO are not read (nor emulated): no pulse check
    measurements_per_poll = len(AUTO_SMUX_CYCLES)  # AVALID comes after all three auto-SMUX cycles

    def __init__(self, i2c, config: SpectralConfig, clock: Clock, attenuator: str, transmission: float) -> None:
        super().__init__(i2c, config.address)  # the driver's ID check (bank 1), software reset, power on
        self.smux_mode = SmuxMode.CH18  # all channels in one measurement of three cycles
        self._setup(config, clock, attenuator, transmission)

    def set_gain(self, gain_x: float) -> None:
        """Nominal gain 0.5x .. 2048x (a ValueError for one the chip does not have)."""
        self.gain = self.chip.gain_code(gain_x)
        self._gain_x = float(gain_x)

    def read_raw(self) -> SpectralReading:
        """One full reading at the current settings: one measurement of three auto-SMUX cycles, 4 transactions."""
        self._write(bytes([Reg.ENABLE, Bit.PON]))  # stop: the next start begins a fresh measurement
        self._write(bytes([Reg.ENABLE, Bit.PON | Bit.SP_EN]))
        self.clock.sleep(len(AUTO_SMUX_CYCLES) * self.t_int_ms / 1000.0)
        status2 = self._poll(Reg.STATUS2, lambda value: bool(value & Bit.AVALID), "measurement (AVALID)")
        block = self.read_block(Reg.ASTATUS, 1 + 2 * N_DATA)  # reading ASTATUS latches the data registers
        data = [int.from_bytes(block[1 + 2 * i:3 + 2 * i], "little") for i in range(N_DATA)]
        analog = bool(status2 & Bit.ASAT_ANALOG)
        digital = bool(status2 & Bit.ASAT_DIGITAL)
        if (block[0] & Bit.ASAT or max(data) >= self.full_scale) and not analog:
            digital = True  # ASTATUS.ASAT or a full-scale value: never let it pass as a measurement
        return SpectralReading(
            t_s=self.clock.monotonic(), counts=counts_from_data(data), gain_x=self._gain_x,
            atime=self._atime_value, astep=self._astep_value, t_int_ms=self.t_int_ms, full_scale=self.full_scale,
            saturated_analog=(analog,), saturated_digital=(digital,), attenuator=self.attenuator,
            transmission=self.transmission, chip=CHIP)
