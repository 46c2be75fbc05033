"""What every spectral chip's reader shares: the reading, auto-range, the pulse-period lock and register access.

A chip's reader (:mod:`rig.hardware.spectral` for the AS7341, :mod:`rig.hardware.as7343`) is this mixin over the
chip's own Adafruit driver class: it names its ``chip`` and supplies ``set_gain`` (how the gain register is
written) and ``read_raw`` (one full reading at the current settings). Auto-range, timing and the register
helpers here read the chip's gains, step and full scale from ``chip``, never a number of their own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import ClassVar

from rig.chips.model import Role, SpectralChip
from rig.clock import Clock
from rig.config import SpectralConfig
from rig.errors import SensorFault

WEAK_FRACTION = 0.20  # largest channel below 20 % of full scale: step sensitivity up (better signal-to-noise)
MIN_ASTEP = 99  # shortest integration auto-range goes to: (ATIME+1) x 100 steps


@dataclass(frozen=True)
class SpectralReading:
    """One full reading in ``chip``'s channel order, with the settings it was taken at.

    ``saturated_analog``/``saturated_digital``: one flag per integration (AS7341: two) or measurement (AS7343:
    one) the reading took; a channel read in several (AS7341 Clear and NIR, AS7343 VIS) is their mean.
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
    chip: SpectralChip = field(repr=False, compare=False)  # the chip whose channel order the counts are in

    @property
    def saturated(self) -> bool:
        return any(self.saturated_analog) or any(self.saturated_digital)

    def as_dict(self) -> dict[str, object]:
        row: dict[str, object] = dict(zip(self.chip.channels, self.counts, strict=True))
        row.update(gain_x=self.gain_x, atime=self.atime, astep=self.astep, t_int_ms=round(self.t_int_ms, 4),
                   saturated=self.saturated, attenuator=self.attenuator, transmission=self.transmission)
        return row


class SpectralReader:
    """Mixin for a chip's reader on its Adafruit driver (``i2c_device`` and ``atime``/``astep`` are the driver's)."""

    chip: ClassVar[SpectralChip]
    flicker_capture: ClassVar[bool] = False  # True: rig.hardware.flicker can drive this chip's flicker FIFO
    measurements_per_poll: ClassVar[int] = 1  # integrations one STATUS2 poll waits for (AS7343: three cycles)

    def _setup(self, config: SpectralConfig, clock: Clock, attenuator: str, transmission: float) -> None:
        """After the driver's own ``__init__``: the settings of ``config``, the clock, the jig."""
        self.config = config
        self.clock = clock
        self.attenuator = attenuator
        self.transmission = transmission
        self.timing_locked = False
        self.set_gain(config.gain_x)
        self.set_timing(config.atime, config.astep)

    # --- settings ------------------------------------------------------------------------------------------
    @property
    def gain_x(self) -> float:
        """The nominal gain set now (auto-range changes it between readings)."""
        return self._gain_x

    def set_gain(self, gain_x: float) -> None:
        """One of the chip's nominal gains (a ValueError for one it does not have)."""
        raise NotImplementedError

    def set_timing(self, atime: int, astep: int) -> None:
        """Integration time (ATIME + 1) x (ASTEP + 1) x the chip's step (per cycle on the AS7343)."""
        self.atime = atime
        self.astep = astep
        self._atime_value, self._astep_value = atime, astep

    def lock_to_period(self, period_s: float, min_s: float = 0.1) -> float:
        """For pulsed light: integrate over a whole number of pulse periods (>= ``min_s``), so every reading
        sees the duty-cycle mean whatever its phase; auto-range then changes gain only. Returns t_int in ms."""
        periods = max(1, math.ceil(min_s / period_s))
        step_s = self.chip.timing.step_us * 1e-6
        steps = round(periods * period_s / ((self._atime_value + 1) * step_s))
        self.set_timing(self._atime_value, max(0, min(self.chip.timing.astep_max, steps - 1)))
        self.config.astep = self._astep_value
        self.timing_locked = True
        return self.t_int_ms

    @property
    def t_int_ms(self) -> float:
        """Integration time of one integration (AS7343: of one auto-SMUX cycle)."""
        return self.chip.integration_time_ms(self._atime_value, self._astep_value)

    @property
    def full_scale(self) -> int:
        return self.chip.full_scale_counts(self._atime_value, self._astep_value)

    @property
    def broadband_index(self) -> int:
        """Where the broadband channel sits in a reading's counts."""
        return self.chip.index_of(Role.BROADBAND)

    # --- reading -----------------------------------------------------------------------------------------------
    def read_raw(self) -> SpectralReading:
        """One full reading at the current settings (the chip's own)."""
        raise NotImplementedError

    def read(self) -> SpectralReading:
        """A full reading, auto-ranged when the config asks for it: a saturated reading is never returned as a
        measurement unless even the lowest gain and shortest integration saturate (then it is returned *flagged*,
        for the caller to refuse)."""
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

    def _less_sensitive(self, reading: SpectralReading) -> bool:
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

    def _more_sensitive(self, reading: SpectralReading) -> bool:
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

    # --- register access (also for the flicker capture) -----------------------------------------------------
    def write_register(self, register: int, value: int) -> None:
        """Write one byte to ``register``."""
        self._write(bytes([register, value]))

    def read_register(self, register: int) -> int:
        """Read one byte from ``register``."""
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
            timeout_s = 1.0 + 2 * self.measurements_per_poll * self.t_int_ms / 1000.0
        deadline = self.clock.monotonic() + timeout_s
        while True:
            value = self.read_register(register)
            if done(value):
                return value
            if self.clock.monotonic() > deadline:
                raise SensorFault(f"{self.chip.name.upper()} at 0x{self.config.address:02x}: timed out waiting for "
                                  f"{what}")
            self.clock.sleep(0.001)
