"""The AS7341 spectral sensor: the Adafruit driver, extended for a full reading in two integrations.

The stock driver needs ~70 I2C transactions and several integrations for
F1-F8 + Clear + NIR and never reports saturation. :meth:`SpectralSensor.read_raw`
does it in two integrations (F1-F4 + Clear + NIR, then F5-F8 + Clear + NIR),
each with one block write of the SMUX RAM and one 13-byte block read of
ASTATUS + CH0..CH5, and keeps the analog/digital saturation flags of each.
:meth:`SpectralSensor.read` adds auto-ranging, so a saturated reading is never
returned as a measurement unless even the lowest gain and shortest integration
saturate (then it is returned *flagged*, for the caller to refuse).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from adafruit_as7341 import AS7341

from rig.chips.as7341 import CHIP, Bit, Reg
from rig.chips.model import SpectralChip
from rig.clock import Clock
from rig.config import SpectralConfig
from rig.errors import SensorFault

WEAK_FRACTION = 0.20  # largest channel below 20 % of full scale: step sensitivity up (better signal-to-noise)
STEP_S = CHIP.timing.step_us * 1e-6
MIN_ASTEP = 99  # shortest integration auto-range goes to: (ATIME+1) x 100 steps


@dataclass(frozen=True)
class SpectralReading:
    """One full reading. Clear and NIR are measured in both integrations; the values are their mean."""

    t_s: float
    counts: tuple[int, ...]
    gain_x: float
    atime: int
    astep: int
    t_int_ms: float
    full_scale: int
    saturated_analog: tuple[bool, bool]
    saturated_digital: tuple[bool, bool]
    attenuator: str
    transmission: float

    @property
    def saturated(self) -> bool:
        return any(self.saturated_analog) or any(self.saturated_digital)

    @property
    def chip(self) -> SpectralChip:
        """The chip this reading's counts are in the channel order of."""
        return CHIP

    def as_dict(self) -> dict[str, object]:
        row: dict[str, object] = dict(zip(CHIP.channels, self.counts, strict=True))
        row.update(gain_x=self.gain_x, atime=self.atime, astep=self.astep, t_int_ms=round(self.t_int_ms, 4),
                   saturated=self.saturated, attenuator=self.attenuator, transmission=self.transmission)
        return row


class SpectralSensor(AS7341):
    """AS7341 on any busio.I2C-shaped bus; ``clock`` times the integrations."""

    chip = CHIP
    flicker_capture = True  # rig.hardware.flicker drives its flicker FIFO (the pulse check)

    def __init__(self, i2c, config: SpectralConfig, clock: Clock, attenuator: str, transmission: float) -> None:
        super().__init__(i2c, config.address)  # the driver's ID check and default setup
        self.config = config
        self.clock = clock
        self.attenuator = attenuator
        self.transmission = transmission
        self._smux_images = (self._smux_image(self._f1f4_clear_nir), self._smux_image(self._f5f8_clear_nir))
        self.timing_locked = False
        self.set_gain(config.gain_x)
        self.set_timing(config.atime, config.astep)

    # --- settings ---------------------------------------------------------------------
    def set_gain(self, gain_x: float) -> None:
        """Nominal gain 0.5x .. 512x."""
        self._gain_x = float(gain_x)
        self._write(bytes([Reg.CFG1, CHIP.gain_code(float(gain_x))]))

    def set_timing(self, atime: int, astep: int) -> None:
        """Integration time (ATIME + 1) x (ASTEP + 1) x 2.78 us."""
        self.atime = atime
        self.astep = astep
        self._atime, self._astep = atime, astep

    def lock_to_period(self, period_s: float, min_s: float = 0.1) -> float:
        """For pulsed light: integrate over a whole number of pulse periods (>= ``min_s``), so every reading
        sees the duty-cycle mean whatever its phase; auto-range then changes gain only. Returns t_int in ms."""
        periods = max(1, math.ceil(min_s / period_s))
        steps = round(periods * period_s / ((self._atime + 1) * STEP_S))
        self.set_timing(self._atime, max(0, min(CHIP.timing.astep_max, steps - 1)))
        self.config.astep = self._astep
        self.timing_locked = True
        return self.t_int_ms

    @property
    def t_int_ms(self) -> float:
        return CHIP.integration_time_ms(self._atime, self._astep)

    # --- reading ------------------------------------------------------------------------
    def read(self) -> SpectralReading:
        """A full reading, auto-ranged when the config asks for it."""
        if not self.config.auto_range:
            return self.read_raw()
        reading = self.read_raw()
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
        code = CHIP.gain_code(self._gain_x)
        if code > 0 or self.timing_locked:
            if code == 0:
                return False
            # jump by the saturation depth when digital only, one step when analog (depth unknown)
            self.set_gain(CHIP.gain_codes_x[max(0, code - (1 if any(reading.saturated_analog) else 2))])
            return True
        if self._astep > MIN_ASTEP:
            self.set_timing(self._atime, max(MIN_ASTEP, (self._astep + 1) // 4 - 1))
            return True
        return False

    def _more_sensitive(self, reading: SpectralReading) -> bool:
        if self._astep < self.config.astep and not self.timing_locked:
            self.set_timing(self._atime, min(self.config.astep, (self._astep + 1) * 4 - 1))
            return True
        code = CHIP.gain_code(self._gain_x)
        top = len(CHIP.gain_codes_x) - 1
        if code < top:
            headroom = reading.full_scale / max(max(reading.counts), 1)
            steps = 1 if headroom < 4 else 2 if headroom < 16 else 3
            self.set_gain(CHIP.gain_codes_x[min(top, code + steps)])
            return True
        return False

    def read_raw(self) -> SpectralReading:
        """One full 10-channel reading at the current settings, in two integrations."""
        low = self._integrate(self._smux_images[0])
        high = self._integrate(self._smux_images[1])
        (_, f1, f2, f3, f4, clear_a, nir_a), sat_a = low
        (_, f5, f6, f7, f8, clear_b, nir_b), sat_b = high
        counts = (f1, f2, f3, f4, f5, f6, f7, f8, round((clear_a + clear_b) / 2), round((nir_a + nir_b) / 2))
        return SpectralReading(
            t_s=self.clock.monotonic(), counts=counts, gain_x=self._gain_x, atime=self._atime, astep=self._astep,
            t_int_ms=self.t_int_ms, full_scale=CHIP.full_scale_counts(self._atime, self._astep),
            saturated_analog=(sat_a[0], sat_b[0]), saturated_digital=(sat_a[1], sat_b[1]),
            attenuator=self.attenuator, transmission=self.transmission)

    def _integrate(self, smux_image: bytes) -> tuple[tuple[int, ...], tuple[bool, bool]]:
        """SMUX configuration, one integration, one block read: 7 transactions when data is ready on time."""
        self._write(bytes([Reg.ENABLE, Bit.PON]))  # measurement off while the SMUX changes
        self._write(bytes([Reg.CFG6, Bit.SMUX_WRITE]))
        self._write(bytes([0x00]) + smux_image)
        self._write(bytes([Reg.ENABLE, Bit.PON | Bit.SMUXEN]))
        self._poll(Reg.ENABLE, lambda value: not value & Bit.SMUXEN, "SMUX command")
        self._write(bytes([Reg.ENABLE, Bit.PON | Bit.SP_EN]))
        self.clock.sleep(self.t_int_ms / 1000.0)
        status2 = self._poll(Reg.STATUS2, lambda value: bool(value & Bit.AVALID), "integration (AVALID)")
        data = bytearray(13)
        with self.i2c_device as i2c:
            i2c.write_then_readinto(bytes([Reg.ASTATUS]), data)
        values = (data[0], *(int.from_bytes(data[1 + 2 * i:3 + 2 * i], "little") for i in range(6)))
        analog = bool(status2 & Bit.ASAT_ANALOG)
        digital = bool(status2 & Bit.ASAT_DIGITAL)
        at_full_scale = max(values[1:]) >= CHIP.full_scale_counts(self._atime, self._astep)
        if (data[0] & Bit.ASAT or at_full_scale) and not analog:
            digital = True  # ASTATUS.ASAT or a full-scale value: never let it pass as a measurement
        return values, (analog, digital)

    # --- register access (also for the flicker capture) ---------------------------------------
    def write_register(self, register: int, value: int) -> None:
        """Write one byte to ``register``."""
        self._write(bytes([register, value]))

    def read_register(self, register: int) -> int:
        """Read one byte from ``register``."""
        return self._read_register(register)

    def read_block(self, register: int, length: int) -> bytes:
        """Read ``length`` bytes starting at ``register`` in one transaction."""
        buffer = bytearray(length)
        with self.i2c_device as i2c:
            i2c.write_then_readinto(bytes([register]), buffer)
        return bytes(buffer)

    def _write(self, data: bytes) -> None:
        with self.i2c_device as i2c:
            i2c.write(data)

    def _read_register(self, register: int) -> int:
        buffer = bytearray(1)
        with self.i2c_device as i2c:
            i2c.write_then_readinto(bytes([register]), buffer)
        return buffer[0]

    def _poll(self, register: int, done, what: str, timeout_s: float | None = None) -> int:
        """Read ``register`` until ``done(value)``; a timeout on the injected clock is a :class:`SensorFault`."""
        timeout_s = timeout_s if timeout_s is not None else 1.0 + 2 * self.t_int_ms / 1000.0
        deadline = self.clock.monotonic() + timeout_s
        while True:
            value = self._read_register(register)
            if done(value):
                return value
            if self.clock.monotonic() > deadline:
                raise SensorFault(f"AS7341 at 0x{self.config.address:02x}: timed out waiting for {what}")
            self.clock.sleep(0.001)

    def _smux_image(self, configure) -> bytes:
        """The 20 SMUX RAM bytes the driver's own configuration method writes (captured, not copied)."""
        image = bytearray(20)
        original = self._set_smux

        def capture(smux_addr: int, smux_out1: int, smux_out2: int) -> None:
            image[smux_addr] = (smux_out2 << 4) | smux_out1

        self._set_smux = capture  # type: ignore[method-assign]
        try:
            configure()
        finally:
            self._set_smux = original  # type: ignore[method-assign]
        return bytes(image)
