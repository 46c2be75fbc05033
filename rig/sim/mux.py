"""A register-level TCA9548A I2C multiplexer: one control byte, bit n connects downstream channel n.

Several AS7341 (all at 0x39) sit on different channels; the emulated bus routes a
transfer to the device on the selected channel. Two selected channels answering
at the same address garble the bus, as they would on the bench (OSError 5).
"""

from __future__ import annotations

import errno

from rig.sim.bus import SimI2CDevice


class TCA9548AEmulator(SimI2CDevice):
    """The mux; ``downstream[channel][address]`` are the chips behind it."""

    def __init__(self) -> None:
        super().__init__()
        self.selected = 0
        self.downstream: dict[int, dict[int, SimI2CDevice]] = {}
        self.selections = 0
        self.history: list[int] = []  # every control byte written, in order

    def attach(self, channel: int, address: int, device: SimI2CDevice) -> SimI2CDevice:
        if not 0 <= channel <= 7:
            raise ValueError(f"TCA9548A channel {channel}: expected 0..7")
        self.downstream.setdefault(channel, {})[address] = device
        return device

    def on_write(self, data: bytes) -> None:  # no register pointer: the byte is the channel mask
        if data:
            self.selected = data[-1]
            self.selections += 1
            self.history.append(self.selected)

    def on_read(self, length: int) -> bytes:
        return bytes([self.selected]) * length

    def route(self, address: int) -> SimI2CDevice | None:
        """The downstream device at ``address`` on the selected channels, if exactly one answers."""
        found = [chips[address] for channel, chips in self.downstream.items()
                 if self.selected >> channel & 1 and address in chips]
        if len(found) > 1:
            raise OSError(errno.EIO, f"two devices answer at 0x{address:02x} behind the TCA9548A (mask "
                                     f"0x{self.selected:02x})")
        return found[0] if found else None
