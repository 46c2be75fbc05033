"""An emulated I2C bus with two faces: busio.I2C (for Adafruit drivers) and smbus2.SMBus.

Chips are :class:`SimI2CDevice` objects attached at an address. Every transfer
is counted (transactions and bytes), so benchmarks can compare drivers, and
faults can be injected per address (NACK once, NACK always, disconnected).
Errors are the ones Linux raises: ``OSError(121)`` (remote I/O, a NACK) and
``OSError(5)`` (I/O error).
"""

from __future__ import annotations

import ctypes
import errno
from dataclasses import dataclass, field

from smbus2 import i2c_msg

I2C_M_RD = 0x0001


class SimI2CDevice:
    """Base for an emulated chip with an 8-bit register pointer.

    A write's first byte sets the pointer; further bytes are written to
    consecutive registers. A read returns consecutive registers from the
    pointer. Subclasses override :meth:`read_register` / :meth:`write_register`
    (and may override :meth:`read_block` for registers that latch).
    """

    def __init__(self) -> None:
        self.pointer = 0

    def write_register(self, register: int, value: int) -> None:
        raise NotImplementedError

    def read_register(self, register: int) -> int:
        raise NotImplementedError

    def on_write(self, data: bytes) -> None:
        """A whole I2C write: pointer byte, then data bytes."""
        if not data:
            return
        self.pointer = data[0]
        for offset, value in enumerate(data[1:]):
            self.write_register((self.pointer + offset) & 0xFF, value)

    def read_block(self, register: int, length: int) -> bytes:
        return bytes(self.read_register((register + i) & 0xFF) for i in range(length))

    def on_read(self, length: int) -> bytes:
        """A whole I2C read of ``length`` bytes from the pointer."""
        return self.read_block(self.pointer, length)


@dataclass
class BusCounters:
    """What went over the bus (reset with :meth:`reset`)."""

    transactions: int = 0
    bytes_written: int = 0
    bytes_read: int = 0
    per_address: dict[int, int] = field(default_factory=dict)

    def reset(self) -> None:
        self.transactions = 0
        self.bytes_written = 0
        self.bytes_read = 0
        self.per_address.clear()

    @property
    def bytes_total(self) -> int:
        return self.bytes_written + self.bytes_read


class SimBus:
    """The emulated bus: devices by address, counters, injected faults."""

    def __init__(self, bus_number: int = 1) -> None:
        self.bus_number = bus_number
        self.devices: dict[int, SimI2CDevice] = {}
        self.counters = BusCounters()
        self._nack_once: dict[int, int] = {}
        self._disconnected: set[int] = set()
        self.hooks: list = []  # called before every transfer (scheduled fault injection)
        self.muxes: list = []  # TCA9548A emulators whose selected channels extend the bus

    # --- wiring and faults -------------------------------------------------
    def attach(self, address: int, device: SimI2CDevice) -> SimI2CDevice:
        self.devices[address] = device
        return device

    def disconnect(self, address: int) -> None:
        """The chip stops answering (cable pulled): every transfer NACKs."""
        self._disconnected.add(address)

    def reconnect(self, address: int) -> None:
        self._disconnected.discard(address)

    def nack_next(self, address: int, count: int = 1) -> None:
        """The next ``count`` transfers to ``address`` fail (a glitch)."""
        self._nack_once[address] = self._nack_once.get(address, 0) + count

    def _device(self, address: int) -> SimI2CDevice:
        for hook in self.hooks:
            hook()
        self.counters.transactions += 1
        self.counters.per_address[address] = self.counters.per_address.get(address, 0) + 1
        device = self.devices.get(address)
        for mux in self.muxes:
            behind = mux.route(address)
            if behind is not None:
                if device is not None:
                    raise OSError(errno.EIO, f"two devices answer at 0x{address:02x} (one behind a mux)")
                device = behind
        if address in self._disconnected or device is None:
            raise OSError(errno.EREMOTEIO, f"no ACK from I2C address 0x{address:02x}")
        pending = self._nack_once.get(address, 0)
        if pending:
            self._nack_once[address] = pending - 1
            raise OSError(errno.EREMOTEIO, f"NACK from I2C address 0x{address:02x} (injected)")
        return device

    # --- raw transfers used by both faces ---------------------------------
    def write(self, address: int, data: bytes) -> None:
        device = self._device(address)
        self.counters.bytes_written += len(data)
        device.on_write(bytes(data))

    def read(self, address: int, length: int) -> bytes:
        device = self._device(address)
        self.counters.bytes_read += length
        return device.on_read(length)

    def write_then_read(self, address: int, data: bytes, length: int) -> bytes:
        """One combined transfer (repeated start): counted once."""
        device = self._device(address)
        self.counters.bytes_written += len(data)
        self.counters.bytes_read += length
        device.on_write(bytes(data))
        return device.on_read(length)

    # --- faces ------------------------------------------------------------
    def busio(self) -> SimBusioI2C:
        return SimBusioI2C(self)

    def smbus(self) -> SimSMBus:
        return SimSMBus(self)


class SimBusioI2C:
    """The busio.I2C shape the Adafruit drivers use, over a :class:`SimBus`."""

    def __init__(self, bus: SimBus) -> None:
        self.bus = bus
        self._locked = False

    def try_lock(self) -> bool:
        if self._locked:
            return False
        self._locked = True
        return True

    def unlock(self) -> None:
        self._locked = False

    def writeto(self, address: int, buffer, *, start: int = 0, end: int | None = None) -> None:
        self.bus.write(address, bytes(buffer[start:end]))

    def readfrom_into(self, address: int, buffer, *, start: int = 0, end: int | None = None) -> None:
        end = len(buffer) if end is None else end
        buffer[start:end] = self.bus.read(address, end - start)

    def writeto_then_readfrom(
        self,
        address: int,
        buffer_out,
        buffer_in,
        *,
        out_start: int = 0,
        out_end: int | None = None,
        in_start: int = 0,
        in_end: int | None = None,
    ) -> None:
        in_end = len(buffer_in) if in_end is None else in_end
        data = self.bus.write_then_read(address, bytes(buffer_out[out_start:out_end]), in_end - in_start)
        buffer_in[in_start:in_end] = data

    def scan(self) -> list[int]:
        return sorted(a for a in self.bus.devices if a not in self.bus._disconnected)

    def deinit(self) -> None:
        pass


class SimSMBus:
    """The smbus2.SMBus calls rig uses, over a :class:`SimBus`."""

    def __init__(self, bus: SimBus) -> None:
        self.bus = bus

    def write_i2c_block_data(self, i2c_addr: int, register: int, data, force=None) -> None:
        self.bus.write(i2c_addr, bytes([register, *data]))

    def read_i2c_block_data(self, i2c_addr: int, register: int, length: int, force=None) -> list[int]:
        return list(self.bus.write_then_read(i2c_addr, bytes([register]), length))

    def write_byte(self, i2c_addr: int, value: int, force=None) -> None:
        self.bus.write(i2c_addr, bytes([value]))

    def write_byte_data(self, i2c_addr: int, register: int, value: int, force=None) -> None:
        self.bus.write(i2c_addr, bytes([register, value]))

    def read_byte_data(self, i2c_addr: int, register: int, force=None) -> int:
        return self.bus.write_then_read(i2c_addr, bytes([register]), 1)[0]

    def i2c_rdwr(self, *messages: i2c_msg) -> None:
        """Write/read messages; a write followed by a read is one combined transfer."""
        index = 0
        while index < len(messages):
            message = messages[index]
            is_read = bool(message.flags & I2C_M_RD)
            following = messages[index + 1] if index + 1 < len(messages) else None
            if not is_read and following is not None and following.flags & I2C_M_RD:
                data = self.bus.write_then_read(message.addr, bytes(message), following.len)
                ctypes.memmove(following.buf, data, following.len)
                index += 2
                continue
            if is_read:
                data = self.bus.read(message.addr, message.len)
                ctypes.memmove(message.buf, data, message.len)
            else:
                self.bus.write(message.addr, bytes(message))
            index += 1

    def close(self) -> None:
        pass

    def __enter__(self) -> SimSMBus:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
