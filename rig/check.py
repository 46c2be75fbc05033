"""`rig check`: which of the expected I2C devices answer, with their IDs, and what to check if not.

Reads only and toggles nothing, except that a chip whose ID register sits in a second register bank (the
AS7343's) has its bank bit set for the read and restored after it. The spectral chip is the one the bench config
names (``[spectral] chip``): its own ID register and value (:attr:`rig.chips.SpectralChip.identity`).
Works on a real smbus2.SMBus or the simulator's smbus face.
"""

from __future__ import annotations

from dataclasses import dataclass

from rig.chips import spectral_chip
from rig.config import BenchConfig
from rig.hardware.thermal import CONFIG as ADS1115_CONFIG_REGISTER


@dataclass(frozen=True)
class DeviceStatus:
    """One expected device: did it answer, what it said, what to check."""

    name: str
    address: int
    present: bool
    detail: str


def probe_devices(bus, config: BenchConfig) -> list[DeviceStatus]:
    """Ask each expected chip for its identity (one register read each; a chip whose ID register sits in a second
    bank, the AS7343's, also sets and restores its bank bit)."""
    where = f"I2C bus {config.i2c_bus}"
    statuses = []
    address = config.spectral.address
    chip = spectral_chip(config.spectral.chip)
    name = f"{chip.name.upper()} spectral sensor"
    try:
        chip_id = chip.identity.read_id(bus, address)
        ok = chip.identity.matches(chip_id)
        detail = (f"ID 0x{chip_id:02x}" if ok else
                  f"ID 0x{chip_id:02x}, expected 0x{chip.identity.value:02x} ({chip.title}): another chip at this "
                  "address, or [spectral] chip names the wrong one?")
        statuses.append(DeviceStatus(name, address, ok, detail))
    except OSError as error:
        statuses.append(DeviceStatus(name, address, False,
                                     f"no answer on {where} ({error.strerror or error}): check SDA/SCL (GPIO2/3), "
                                     "3.3 V and GND to the breakout, and the address in [spectral]"))
    address = config.thermal.address
    try:
        high, low = bus.read_i2c_block_data(address, ADS1115_CONFIG_REGISTER, 2)
        statuses.append(DeviceStatus("ADS1115 ADC", address, True, f"config register 0x{high << 8 | low:04x}"))
    except OSError as error:
        statuses.append(DeviceStatus("ADS1115 ADC", address, False,
                                     f"no answer on {where} ({error.strerror or error}): check its ADDR pin "
                                     "(GND = 0x48), SDA/SCL, and VDD"))
    return statuses


def probe_real_bus(config: BenchConfig) -> list[DeviceStatus]:
    """Open the Pi's I2C bus named by the config and probe the expected chips (reads only)."""
    from smbus2 import SMBus

    from rig.errors import RigError

    try:
        with SMBus(config.i2c_bus) as raw_bus:
            return probe_devices(raw_bus, config)
    except (FileNotFoundError, PermissionError) as error:
        raise RigError(f"cannot open /dev/i2c-{config.i2c_bus}: {error.strerror}; enable I2C "
                       "(raspi-config) and add the user to the 'i2c' group") from error
