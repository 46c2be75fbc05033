"""The real bench on a Raspberry Pi: /dev/i2c-N through smbus2, GPIO through gpiozero's default pin factory.

``smbus``, ``pin_factory`` and ``clock`` can be handed in (tests give it the
simulator's emulated bus face, gpiozero's MockFactory and a simulated clock, so
this exact code path, mux selection included, runs without a Pi).

A chip that does not answer, or a pin factory that does not load, is a
:class:`~rig.errors.HardwareNotFound` naming what is missing and how to fix it;
there is no fallback to simulation. With ``[[positions]]`` behind a TCA9548A
mux, one spectral sensor (the chip ``[spectral] chip`` names, through that chip's
own driver) per mux channel is opened (the first is the main sensor); with
hand-moved positions the one sensor is moved by the operator when prompted.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from rig.clock import Clock, RealClock
from rig.config import BenchConfig
from rig.errors import HardwareNotFound
from rig.hardware.bench import Bench, Position


def build_real_bench(config: BenchConfig, *, smbus: Any = None, pin_factory: Any = None,
                     clock: Clock | None = None) -> Bench:
    """Open the bench named by ``config`` on this machine's I2C bus and GPIO.

    ``smbus``: an open smbus2.SMBus-shaped bus (default: ``/dev/i2c-N`` from the config); ``pin_factory``: a
    gpiozero pin factory (default: gpiozero's, checked by :func:`~rig.hardware.pins.pin_factory_status`);
    ``clock``: default the wall clock.
    """
    from rig.chips import spectral_chip
    from rig.hardware.i2c import SMBusI2C
    from rig.hardware.switch import WrapSwitch
    from rig.hardware.thermal import ThermalProbes

    device = Path(f"/dev/i2c-{config.i2c_bus}")
    clock = clock or RealClock()
    bus = smbus if smbus is not None else _open_bus(config, device)
    if pin_factory is None:
        from rig.hardware.pins import pin_factory_status

        pins = pin_factory_status()
        if not pins.ok:
            bus.close()
            raise HardwareNotFound(pins.detail)
    try:
        switch = WrapSwitch(config.switch, clock, pin_factory=pin_factory)
    except BaseException:
        bus.close()
        raise
    positions: list[Position] = []
    try:
        i2c = SMBusI2C(bus)
        chip = spectral_chip(config.spectral.chip)
        driver = chip.load("driver")  # that chip's driver: a wrong chip fails its ID check, never falls back

        def open_sensor(where: str):
            try:
                return driver(i2c, replace(config.spectral), clock, attenuator=config.jig.attenuator,
                                      transmission=config.jig.transmission)
            except (OSError, ValueError, RuntimeError) as error:
                raise HardwareNotFound(
                    f"no {chip.name.upper()} at address 0x{config.spectral.address:02x} {where} on {device}: {error} "
                    f"([spectral] chip = \"{chip.name}\": is that the chip on the board?)") from error

        for position in config.positions:
            if position.mux_channel is None:
                positions.append(Position(position.name, position.x_mm, position.y_mm, None, lambda: None,
                                          by_hand=True))
                continue

            def select(channel: int = position.mux_channel) -> None:
                bus.write_byte(config.mux_address, 1 << channel)

            try:
                select()
            except OSError as error:
                raise HardwareNotFound(f"no TCA9548A mux at 0x{config.mux_address:02x} on {device}: {error}") \
                    from error
            sensor = open_sensor(f"behind mux channel {position.mux_channel} ('{position.name}')")
            positions.append(Position(position.name, position.x_mm, position.y_mm, sensor, select))
        muxed = bool(positions) and not positions[0].by_hand
        if muxed:
            positions[0].select()
            spectral = positions[0].sensor
        else:
            spectral = open_sensor("")
            for position in positions:
                position.sensor = spectral
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
    bench = Bench(config, clock, spectral, thermal, switch, backend="real", on_close=[bus.close], probe_bus=bus)
    bench.positions = positions
    bench.main_select = positions[0].select if muxed else None
    return bench


def _open_bus(config: BenchConfig, device: Path) -> Any:
    """``/dev/i2c-N`` through smbus2, or a HardwareNotFound saying how to enable it."""
    from smbus2 import SMBus

    if not device.exists():
        raise HardwareNotFound(
            f"no I2C bus {device}: enable I2C (sudo raspi-config nonint do_i2c 0) or set i2c_bus in the bench "
            f"config ({config.source}); use --sim to run on simulated hardware")
    try:
        return SMBus(config.i2c_bus)
    except OSError as error:
        raise HardwareNotFound(f"cannot open {device}: {error} (is the user in the 'i2c' group?)") from error
