"""A busio.I2C-shaped adapter over smbus2, so the Adafruit driver runs on any Linux I2C bus number.

Blinka's ``board``/``busio`` pick bus 1 from the board definition; rig's bench
config names the bus, so the real backend opens ``/dev/i2c-N`` with smbus2 and
hands the AS7341 driver this adapter instead. Nothing here touches ``board``.
"""

from __future__ import annotations

import threading

from smbus2 import SMBus, i2c_msg


class SMBusI2C:
    """busio.I2C interface (``try_lock``, ``writeto``, ``readfrom_into``, ``writeto_then_readfrom``)."""

    def __init__(self, bus: SMBus) -> None:
        self.bus = bus
        self._lock = threading.Lock()

    def try_lock(self) -> bool:
        return self._lock.acquire(blocking=False)

    def unlock(self) -> None:
        self._lock.release()

    def writeto(self, address: int, buffer, *, start: int = 0, end: int | None = None) -> None:
        self.bus.i2c_rdwr(i2c_msg.write(address, bytes(buffer[start:end])))

    def readfrom_into(self, address: int, buffer, *, start: int = 0, end: int | None = None) -> None:
        end = len(buffer) if end is None else end
        message = i2c_msg.read(address, end - start)
        self.bus.i2c_rdwr(message)
        buffer[start:end] = bytes(message)

    def writeto_then_readfrom(self, address: int, buffer_out, buffer_in, *, out_start: int = 0,
                              out_end: int | None = None, in_start: int = 0, in_end: int | None = None) -> None:
        in_end = len(buffer_in) if in_end is None else in_end
        write = i2c_msg.write(address, bytes(buffer_out[out_start:out_end]))
        read = i2c_msg.read(address, in_end - in_start)
        self.bus.i2c_rdwr(write, read)
        buffer_in[in_start:in_end] = bytes(read)

    def deinit(self) -> None:
        self.bus.close()
