"""The AS7343 spectral sensor: the Adafruit driver, extended for a full reading in one measurement.

The stock driver's ``all_channels`` stops and restarts the engine, clears STATUS and polls AVALID every 1 ms
(~160 I2C transactions for an 18-channel spectrum at 50 ms per cycle), and reports no saturation.
:meth:`AS7343Sensor.read_raw` restarts the measurement (18-channel auto-SMUX: three cycles), sleeps for it,
polls STATUS2 (one read when the data are on time, with the saturation flags) and reads ASTATUS + the 18 data
registers in one 37-byte block read: 4 transactions. :meth:`AS7343Sensor.read` adds auto-ranging as the AS7341
reader does, so a saturated reading is never returned as a measurement unless even the lowest gain and shortest
integration saturate (then it is returned *flagged*). Interface as :class:`rig.hardware.spectral.SpectralSensor`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from adafruit_as7343 import AS7343, SmuxMode

from rig.chips.as7343 import AUTO_SMUX_CYCLES, CHIP, Bit, Reg
from rig.chips.model import Role, SpectralChip
from rig.clock import Clock
from rig.config import SpectralConfig
from rig.errors import SensorFault

WEAK_FRACTION = 0.20  # largest channel below 20 % of full scale: step sensitivity up
MIN_ASTEP = 99  # shortest integration auto-range goes to: (ATIME+1) x 100 steps
N_DATA = 6 * len(AUTO_SMUX_CYCLES)


@dataclass(frozen=True)
class AS7343Reading:
    """One full reading in the chip's channel order; VIS is the mean of its six photodiode readings.

    ``saturated_analog``/``saturated_digital``: one flag per measurement (one measurement per reading).
    """

    t_s: float
    counts: tuple[int, ...]
    gain_x: float
    atime: int
    astep: int
    t_int_ms: float
    full_scale: int
    saturated_analog: tuple[bool, ...]
    saturated_digital: tuple[bool, ...]
    attenuator: str
    transmission: float
    channels: tuple[str, ...] = CHIP.channels

    @property
    def saturated(self) -> bool:
        return any(self.saturated_analog) or any(self.saturated_digital)

    @property
    def chip(self) -> SpectralChip:
        """The chip this reading's counts are in the channel order of."""
        return CHIP

    def as_dict(self) -> dict[str, object]:
        row: dict[str, object] = dict(zip(self.channels, self.counts, strict=True))
        row.update(gain_x=self.gain_x, atime=self.atime, astep=self.astep, t_int_ms=round(self.t_int_ms, 4),
                   saturated=self.saturated, attenuator=self.attenuator, transmission=self.transmission)
        return row


def counts_from_data(data: list[int]) -> tuple[int, ...]:
    """The 18 data registers (auto-SMUX order) as counts in the chip's channel order (VIS: mean of six)."""
    by_name: dict[str, list[int]] = {}
    for position, name in enumerate(name for cycle in AUTO_SMUX_CYCLES for name in cycle):
        by_name.setdefault(name, []).append(data[position])
    return tuple(round(sum(by_name[name]) / len(by_name[name])) for name in CHIP.channels)


class AS7343Sensor(AS7343):
    """AS7343 on any busio.I2C-shaped bus; ``clock`` times the measurements."""

    chip = CHIP
    flicker_capture = False  # flicker detection and its FIFO are not read (nor emulated): no pulse check

    def __init__(self, i2c, config: SpectralConfig, clock: Clock, attenuator: str, transmission: float) -> None:
        super().__init__(i2c, config.address)  # the driver's ID check (bank 1), software reset, power on
        self.config = config
        self.clock = clock
        self.attenuator = attenuator
        self.transmission = transmission
        self.smux_mode = SmuxMode.CH18  # all channels in one measurement of three cycles
        self.timing_locked = False
        self.set_gain(config.gain_x)
        self.set_timing(config.atime, config.astep)

    # --- settings ------------------------------------------------------------------------------------------
    def set_gain(self, gain_x: float) -> None:
        """Nominal gain 0.5x .. 2048x (a ValueError for one the chip does not have)."""
        self.gain = self.chip.gain_code(gain_x)
        self._gain_x = float(gain_x)

    def set_timing(self, atime: int, astep: int) -> None:
        """Integration time per cycle (ATIME + 1) x (ASTEP + 1) x 2.78 us."""
        self.atime = atime
        self.astep = astep
        self._atime_value, self._astep_value = atime, astep

    def lock_to_period(self, period_s: float, min_s: float = 0.1) -> float:
        """For pulsed light: each cycle integrates a whole number of pulse periods (>= ``min_s``), so every
        reading sees the duty-cycle mean whatever its phase; auto-range then changes gain only. Returns t_int ms."""
        periods = max(1, math.ceil(min_s / period_s))
        step_s = self.chip.timing.step_us * 1e-6
        steps = round(periods * period_s / ((self._atime_value + 1) * step_s))
        self.set_timing(self._atime_value, max(0, min(self.chip.timing.astep_max, steps - 1)))
        self.config.astep = self._astep_value
        self.timing_locked = True
        return self.t_int_ms

    @property
    def t_int_ms(self) -> float:
        """Integration time of one auto-SMUX cycle (a reading takes three)."""
        return self.chip.integration_time_ms(self._atime_value, self._astep_value)

    @property
    def full_scale(self) -> int:
        return self.chip.full_scale_counts(self._atime_value, self._astep_value)

    # --- reading -----------------------------------------------------------------------------------------------
    def read(self) -> AS7343Reading:
        """A full reading, auto-ranged when the config asks for it."""
        reading = self.read_raw()
        if not self.config.auto_range:
            return reading
        for _ in range(self.config.max_autorange_steps):
            if reading.saturated:
                if not self._less_sensitive(reading):
                    return reading  # flagged: even the least sensitive setting saturates
            elif max(reading.counts) < WEAK_FRACTION * reading.full_scale:
                if not self._more_sensitive(reading):
                    return reading
            else:
                return reading
            reading = self.read_raw()
        return reading

    def _less_sensitive(self, reading: AS7343Reading) -> bool:
        code = self.chip.gain_code(self._gain_x)
        if code > 0 or self.timing_locked:
            if code == 0:
                return False
            # jump by the saturation depth when digital only, one step when analog (depth unknown)
            self.set_gain(self.chip.gain_codes_x[max(0, code - (1 if any(reading.saturated_analog) else 2))])
            return True
        if self._astep_value > MIN_ASTEP:
            self.set_timing(self._atime_value, max(MIN_ASTEP, (self._astep_value + 1) // 4 - 1))
            return True
        return False

    def _more_sensitive(self, reading: AS7343Reading) -> bool:
        if self._astep_value < self.config.astep and not self.timing_locked:
            self.set_timing(self._atime_value, min(self.config.astep, (self._astep_value + 1) * 4 - 1))
            return True
        code = self.chip.gain_code(self._gain_x)
        top = len(self.chip.gain_codes_x) - 1
        if code < top:
            headroom = reading.full_scale / max(max(reading.counts), 1)
            steps = 1 if headroom < 4 else 2 if headroom < 16 else 3
            self.set_gain(self.chip.gain_codes_x[min(top, code + steps)])
            return True
        return False

    def read_raw(self) -> AS7343Reading:
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
        return AS7343Reading(
            t_s=self.clock.monotonic(), counts=counts_from_data(data), gain_x=self._gain_x,
            atime=self._atime_value, astep=self._astep_value, t_int_ms=self.t_int_ms, full_scale=self.full_scale,
            saturated_analog=(analog,), saturated_digital=(digital,), attenuator=self.attenuator,
            transmission=self.transmission)

    @property
    def broadband_index(self) -> int:
        """Where the broadband channel (VIS) sits in a reading's counts."""
        return self.chip.index_of(Role.BROADBAND)

    # --- register access -------------------------------------------------------------------------------------
    def write_register(self, register: int, value: int) -> None:
        """Write one byte to ``register`` (bank 0)."""
        self._write(bytes([register, value]))

    def read_register(self, register: int) -> int:
        """Read one byte from ``register`` (bank 0)."""
        return self.read_block(register, 1)[0]

    def read_block(self, register: int, length: int) -> bytes:
        """Read ``length`` bytes starting at ``register`` in one transaction."""
        buffer = bytearray(length)
        with self.i2c_device as i2c:
            i2c.write_then_readinto(bytes([register]), buffer)
        return bytes(buffer)

    def _write(self, data: bytes) -> None:
        with self.i2c_device as i2c:
            i2c.write(data)

    def _poll(self, register: int, done, what: str, timeout_s: float | None = None) -> int:
        """Read ``register`` until ``done(value)``; a timeout on the injected clock is a :class:`SensorFault`."""
        if timeout_s is None:
            timeout_s = 1.0 + 2 * len(AUTO_SMUX_CYCLES) * self.t_int_ms / 1000.0
        deadline = self.clock.monotonic() + timeout_s
        while True:
            value = self.read_register(register)
            if done(value):
                return value
            if self.clock.monotonic() > deadline:
                raise SensorFault(f"AS7343 at 0x{self.config.address:02x}: timed out waiting for {what}")
            self.clock.sleep(0.001)
