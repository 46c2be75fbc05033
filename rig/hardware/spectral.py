"""The AS7341 spectral sensor: the Adafruit driver, extended for a full reading in two integrations.

The stock driver needs ~70 I2C transactions and several integrations for
F1-F8 + Clear + NIR and never reports saturation. :meth:`SpectralSensor.read_raw`
does it in two integrations (F1-F4 + Clear + NIR, then F5-F8 + Clear + NIR),
each with one block write of the SMUX RAM and one 13-byte block read of
ASTATUS + CH0..CH5, and keeps the analog/digital saturation flags of each.
:meth:`SpectralSensor.read` adds auto-ranging, so a saturated reading is never
returned as a measurement unless even the lowest gain and shortest integration
saturate (then it is returned *flagged*, for the caller to refuse): that, the settings
and register access are :class:`rig.hardware.reader.SpectralReader`'s, shared with the AS7343.
"""

from __future__ import annotations

from adafruit_as7341 import AS7341

from rig.chips.as7341 import CHIP, Bit, Reg
from rig.clock import Clock
from rig.config import SpectralConfig
from rig.hardware.reader import SpectralReader, SpectralReading

__all__ = ["SpectralReading", "SpectralSensor"]


class SpectralSensor(SpectralReader, AS7341):
    """AS7341 on any busio.I2C-shaped bus; ``clock`` times the integrations."""

    chip = CHIP
    flicker_capture = True  # rig.hardware.flicker drives its flicker FIFO (the pulse check)

    def __init__(self, i2c, config: SpectralConfig, clock: Clock, attenuator: str, transmission: float) -> None:
        super().__init__(i2c, config.address)  # the driver's ID check and default setup
        self._smux_images = (self._smux_image(self._f1f4_clear_nir), self._smux_image(self._f5f8_clear_nir))
        self._setup(config, clock, attenuator, transmission)

    def set_gain(self, gain_x: float) -> None:
        """Nominal gain 0.5x .. 512x."""
        self._gain_x = float(gain_x)
        self._write(bytes([Reg.CFG1, CHIP.gain_code(float(gain_x))]))

    def read_raw(self) -> SpectralReading:
        """One full 10-channel reading at the current settings, in two integrations."""
        low = self._integrate(self._smux_images[0])
        high = self._integrate(self._smux_images[1])
        (_, f1, f2, f3, f4, clear_a, nir_a), sat_a = low
        (_, f5, f6, f7, f8, clear_b, nir_b), sat_b = high
        counts = (f1, f2, f3, f4, f5, f6, f7, f8, round((clear_a + clear_b) / 2), round((nir_a + nir_b) / 2))
        return SpectralReading(
            t_s=self.clock.monotonic(), counts=counts, gain_x=self._gain_x, atime=self._atime_value,
            astep=self._astep_value, t_int_ms=self.t_int_ms, full_scale=self.full_scale,
            saturated_analog=(sat_a[0], sat_b[0]), saturated_digital=(sat_a[1], sat_b[1]),
            attenuator=self.attenuator, transmission=self.transmission, chip=CHIP)

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
        at_full_scale = max(values[1:]) >= self.full_scale
        if (data[0] & Bit.ASAT or at_full_scale) and not analog:
            digital = True  # ASTATUS.ASAT or a full-scale value: never let it pass as a measurement
        return values, (analog, digital)

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
