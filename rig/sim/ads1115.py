"""A register-level ADS1115 emulator behind the smbus2 face of the emulated bus.

Single-shot conversions of AIN0..AIN3 vs GND: writing the config register with
OS=1 starts one; it completes 1/data-rate seconds later on the simulated clock
(OS reads 0 meanwhile). Codes are big-endian, signed, clipped at the PGA range.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from rig.sim.bus import SimI2CDevice

PGA_FULL_SCALE_V = (6.144, 4.096, 2.048, 1.024, 0.512, 0.256, 0.256, 0.256)
RATES_SPS = (8, 16, 32, 64, 128, 250, 475, 860)


class ADS1115Emulator(SimI2CDevice):
    """``channel_volts(channel)`` gives the true input voltage at the moment a conversion completes."""

    def __init__(self, clock, channel_volts: Callable[[int], float], seed: int = 0, noise_v: float = 0.0002) -> None:
        super().__init__()
        self.clock = clock
        self.channel_volts = channel_volts
        self.rng = np.random.default_rng(seed)
        self.noise_v = noise_v
        self.registers = {0: 0, 1: 0x8583, 2: 0x8000, 3: 0x7FFF}
        self._write_buffer: list[int] = []
        self.converting_until: float | None = None
        self.conversions = 0
        self.stuck_code: int | None = None  # fault: the conversion register never changes

    def on_write(self, data: bytes) -> None:
        if not data:
            return
        self.pointer = data[0] & 0x03
        if len(data) >= 3:
            value = data[1] << 8 | data[2]
            if self.pointer == 1:
                self._write_config(value)
            elif self.pointer in (2, 3):
                self.registers[self.pointer] = value

    def _write_config(self, value: int) -> None:
        self.registers[1] = value & 0x7FFF
        if value & 0x8000:
            rate = RATES_SPS[(value >> 5) & 0x7]
            self.converting_until = self.clock.monotonic() + 1.0 / rate

    def _finish_conversion(self) -> None:
        if self.converting_until is None or self.clock.monotonic() < self.converting_until:
            return
        self.converting_until = None
        config = self.registers[1]
        mux = (config >> 12) & 0x7
        full_scale = PGA_FULL_SCALE_V[(config >> 9) & 0x7]
        volts = self.channel_volts(mux - 4) if mux >= 4 else 0.0
        volts += float(self.rng.normal(0.0, self.noise_v))
        code = int(round(volts / full_scale * 32768))
        code = max(-32768, min(32767, code))
        self.registers[0] = (self.stuck_code if self.stuck_code is not None else code) & 0xFFFF
        self.conversions += 1

    def read_block(self, register: int, length: int) -> bytes:
        self._finish_conversion()
        value = self.registers[register & 0x03]
        if register & 0x03 == 1:
            value = (value & 0x7FFF) | (0 if self.converting_until is not None else 0x8000)
        data = value.to_bytes(2, "big")
        return (data * ((length + 1) // 2))[:length]
