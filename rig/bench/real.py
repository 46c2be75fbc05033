"""The real bench on a Raspberry Pi: /dev/i2c-N through smbus2, GPIO through gpiozero's default pin factory.

A chip that does not answer is a :class:`~rig.errors.HardwareNotFound` naming
the bus and address; there is no fallback to simulation.
"""

from __future__ import annotations

from pathlib import Path

from rig.bench.bench import Bench
from rig.clock import RealClock
from rig.config import BenchConfig
from rig.errors import HardwareNotFound


def build_real_bench(config: BenchConfig) -> Bench:
    """Open the bench named by ``config`` on this machine's I2C bus and GPIO."""
    from smbus2 import SMBus

    from rig.bench.i2c import SMBusI2C
    from rig.bench.spectral import SpectralSensor
    from rig.bench.switch import WrapSwitch
    from rig.bench.thermal import ThermalProbes

    device = Path(f"/dev/i2c-{config.i2c_bus}")
    if not device.exists():
        raise HardwareNotFound(
            f"no I2C bus {device}: enable I2C (sudo raspi-config nonint do_i2c 0) or set i2c_bus in the bench "
            f"config ({config.source}); use --sim to run on simulated hardware")
    clock = RealClock()
    try:
        bus = SMBus(config.i2c_bus)
    except OSError as error:
        raise HardwareNotFound(f"cannot open {device}: {error} (is the user in the 'i2c' group?)") from error
    switch = WrapSwitch(config.switch, clock)
    try:
        try:
            spectral = SpectralSensor(SMBusI2C(bus), config.spectral, clock,
                                      attenuator=config.jig.attenuator, transmission=config.jig.transmission)
        except (OSError, ValueError, RuntimeError) as error:
            raise HardwareNotFound(
                f"no AS7341 at address 0x{config.spectral.address:02x} on {device}: {error}") from error
        thermal = ThermalProbes(bus, config.thermal, clock)
        try:
            thermal.read()
        except Exception as error:
            raise HardwareNotFound(
                f"no ADS1115 answering at address 0x{config.thermal.address:02x} on {device}: {error}") from error
    except BaseException:
        switch.close()
        bus.close()
        raise
    return Bench(config, clock, spectral, thermal, switch, backend="real", on_close=[bus.close])
