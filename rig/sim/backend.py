"""Simulated hardware wired together: the same bench code, talking to emulated chips.

The spectral chip's emulator (the one ``[spectral] chip`` names: AS7341 or AS7343, a unit drawn
from that chip's production spread) and the ADS1115 emulator sit on an emulated I2C bus (busio face
for the Adafruit driver, smbus2 face for the ADC); the chip's own driver reads it; gpiozero runs on its
MockFactory with pins wired to the wrap model; the driver's own sleeps follow the simulated clock.
Chosen only explicitly (``--sim`` or ``backend = "sim"``).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
from gpiozero.pins.mock import MockFactory, MockPin

from rig.chips import spectral_chip
from rig.clock import SimClock
from rig.config import BenchConfig
from rig.hardware.bench import Bench, Position
from rig.hardware.switch import WrapSwitch
from rig.hardware.thermal import ThermalProbes
from rig.sim.ads1115 import ADS1115Emulator
from rig.sim.bus import SimBus, SimI2CDevice
from rig.sim.mux import TCA9548AEmulator
from rig.sim.optics import SpectralLine
from rig.sim.probes import NtcDividerSim
from rig.sim.wrap import WrapSpec, check_event_probes
from rig.sim.wrap_model import WrapModel


class JigLight:
    """The wrap seen by a sensor at ``position``: surface irradiance times the attenuator's true transmission."""

    def __init__(self, wrap: WrapModel, transmission: float, position: str | None = None) -> None:
        self.wrap = wrap
        self.transmission = transmission
        self.position = position  # moved by hand between positions in a hand-moved uniformity run

    def lines_between(self, t0_s: float, t1_s: float) -> list[SpectralLine]:
        return [SpectralLine(line.peak_nm, line.fwhm_nm, line.irradiance_uw_cm2 * self.transmission)
                for line in self.wrap.lines_between(t0_s, t1_s, self.position)]

    def weighted_between(self, starts_s: np.ndarray, ends_s: np.ndarray,
                         weight: Callable[[SpectralLine], float]) -> np.ndarray:
        """:func:`rig.sim.optics.weighted_between`, vectorised by the wrap model."""
        return self.transmission * self.wrap.weighted_between(starts_s, ends_s, weight, self.position)


SWITCH_LOG_ENV = "RIG_SIM_SWITCH_LOG"  # a file: every level change of the simulated power pin is appended to it


def switch_logger(clock: SimClock, active_high: bool) -> Callable[[bool], None]:
    """Appends ``<sim time> <pid> on|off`` to ``$RIG_SIM_SWITCH_LOG`` for every change of the power pin's level
    (the pin's own state, not the rig's bookkeeping): tests read the last line as the wrap's final power."""
    path = os.environ.get(SWITCH_LOG_ENV)

    def log(level: bool) -> None:
        if path:
            with open(path, "a", encoding="utf-8") as handle:
                handle.write(f"{clock.monotonic():.3f} {os.getpid()} {'on' if level == active_high else 'off'}\n")

    return log


class ObservedPin(MockPin):
    """A gpiozero mock pin that tells the wrap model when its level changes."""

    def __init__(self, factory, info, on_change=None) -> None:
        super().__init__(factory, info)
        self.on_change = on_change

    def _change_state(self, value: bool) -> bool:
        changed = super()._change_state(value)
        if changed and self.on_change is not None:
            self.on_change(value)
        return changed


class FaultSchedule:
    """Applies the sim wrap's scheduled hardware faults when simulated time reaches them."""

    def __init__(self, events, clock: SimClock, bus: SimBus, sensor_chip, ads1115, probes, config: BenchConfig) -> None:
        self.pending = sorted(events, key=lambda e: e.at_s)
        self.clock, self.bus, self.sensor_chip, self.ads1115, self.probes = clock, bus, sensor_chip, ads1115, probes
        self.addresses = {"sensor": config.spectral.address, "adc": config.thermal.address}

    def __call__(self) -> None:
        now = self.clock.monotonic()
        while self.pending and self.pending[0].at_s <= now:
            self._apply(self.pending.pop(0))

    def _apply(self, event) -> None:
        device, _, action = event.kind.partition("_")
        if device == "probe":
            self.probes.set_fault(event.probe, None if action == "ok" else action)
        elif action == "nack":
            self.bus.nack_next(self.addresses[device], event.count)
        elif action == "disconnect":
            self.bus.disconnect(self.addresses[device])
        elif event.kind == "sensor_frozen":
            self.sensor_chip.frozen = True
        elif event.kind == "adc_stuck":
            self.ads1115.stuck_code = self.ads1115.registers[0]


@dataclass
class SimHardware:
    """Handles on every simulated part, for tests, demos and fault injection."""

    clock: SimClock
    bus: SimBus
    wrap: WrapModel
    light: JigLight
    sensor_chip: SimI2CDevice  # the main spectral chip's emulator (AS7341Emulator or AS7343Emulator)
    ads1115: ADS1115Emulator
    probes: NtcDividerSim
    pin_factory: MockFactory


class SimBench(Bench):
    """A :class:`Bench` on simulated hardware; ``hardware`` holds the emulated parts (for tests and demos)."""

    def __init__(self, *args, hardware: SimHardware, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.hardware = hardware

    def describe(self) -> dict:
        """The simulated wrap's true state when the bench closed (a welded relay keeps it lit)."""
        return {"sim_wrap_lit_at_end": self.hardware.wrap.is_lit(self.clock.monotonic())}


def build_sim_bench(config: BenchConfig, wrap_spec: WrapSpec | None = None, seed: int = 0,
                    transmission: float | None = None, clock: SimClock | None = None) -> Bench:
    """A :class:`Bench` on simulated hardware.

    ``transmission`` is the attenuator's *true* transmission (default: the
    config's nominal value); calibration is how a user finds out the difference.
    """
    clock = clock or SimClock()
    wrap = WrapModel(wrap_spec or WrapSpec())
    check_event_probes(wrap.spec, [p.name for p in config.thermal.probes])
    light = JigLight(wrap, config.jig.transmission if transmission is None else transmission)
    bus = SimBus(config.i2c_bus)
    spread = wrap.spec.sensor
    unit_id = spread.unit or config.spectral.sensor_id
    chip = spectral_chip(config.spectral.chip)
    emulator = chip.load("emulator")  # the chip's register-level emulator, its unit draw and its sim clock
    emulation = sys.modules[emulator.__module__]
    driver = chip.load("driver")  # the chip's own reader on its real Adafruit driver

    def unit(index: int = 0):  # each position's sensor is its own part, drawn from its chip's spread
        return emulation.unit_from_spread(unit_id if index == 0 else f"{unit_id}/{index}", seed, spread)

    sensor_chip = emulator(clock, light, seed=seed, unit=unit())
    muxed = [p for p in config.positions if p.mux_channel is not None]
    mux = None
    if muxed:  # every sensor behind the TCA9548A, one per position; the first is the main sensor
        mux = bus.attach(config.mux_address, TCA9548AEmulator())
        bus.muxes.append(mux)
        for index, position in enumerate(muxed):
            emulated = sensor_chip if index == 0 else emulator(
                clock, JigLight(wrap, light.transmission, position.name), seed=seed + 10 + index, unit=unit(index))
            emulated.light = JigLight(wrap, light.transmission, position.name) if index == 0 else emulated.light
            mux.attach(position.mux_channel, config.spectral.address, emulated)
    else:
        bus.attach(config.spectral.address, sensor_chip)
    skin = config.thermal.skin_probe  # the wrap model's "surface" is wherever the config puts the skin-side probe
    probes = NtcDividerSim(config.thermal, lambda name: wrap.temperature_c("surface" if name == skin else "ambient",
                                                                           clock.monotonic()))
    ads1115 = ADS1115Emulator(clock, probes, seed=seed + 1)
    bus.attach(config.thermal.address, ads1115)

    bus.hooks.append(FaultSchedule(wrap.spec.faults.events, clock, bus, sensor_chip, ads1115, probes, config))

    factory = MockFactory()
    log_switch = switch_logger(clock, config.switch.active_high)

    def power_changed(level: bool) -> None:
        log_switch(level)
        wrap.set_power(clock.monotonic(), level == config.switch.active_high)

    factory.pin(config.switch.power_pin, pin_class=ObservedPin, on_change=power_changed)
    if config.switch.button_pin is not None:
        factory.pin(config.switch.button_pin, pin_class=ObservedPin,
                    on_change=lambda level: level and wrap.press_button(clock.monotonic()))

    cleanup = contextlib.ExitStack()
    cleanup.enter_context(emulation.install_sim_clock(clock))
    with cleanup:  # undone only if construction fails; otherwise handed to the Bench
        switch = WrapSwitch(config.switch, clock, pin_factory=factory)
        cleanup.callback(switch.close)
        positions, main_select = _positions(config, bus, clock, driver)
        spectral = positions[0].sensor if muxed else driver(
            bus.busio(), config.spectral, clock, attenuator=config.jig.attenuator,
            transmission=config.jig.transmission)
        if not muxed:
            for position in positions:
                position.sensor = spectral
        thermal = ThermalProbes(bus.smbus(), config.thermal, clock)
        release = cleanup.pop_all()
    hardware = SimHardware(clock, bus, wrap, light, sensor_chip, ads1115, probes, factory)
    bench = SimBench(config, clock, spectral, thermal, switch, backend="sim", on_close=[release.close],
                     probe_bus=bus.smbus(), hardware=hardware)
    bench.positions, bench.main_select = positions, main_select

    def simulated_operator(position: Position | None) -> None:
        """Nobody is at the simulated bench: the sensor is moved to the position (or back) at once."""
        light.position = None if position is None else position.name

    bench.operator = simulated_operator
    return bench


def _positions(config: BenchConfig, bus: SimBus, clock: SimClock, driver):
    """Uniformity positions: a sensor per mux channel, or the one sensor moved (by the simulator) by hand."""
    smbus = bus.smbus()
    positions: list[Position] = []
    for position in config.positions:
        if position.mux_channel is not None:
            def select(channel: int = position.mux_channel) -> None:
                smbus.write_byte(config.mux_address, 1 << channel)
            select()
            sensor = driver(bus.busio(), replace(config.spectral), clock, attenuator=config.jig.attenuator,
                            transmission=config.jig.transmission)
            positions.append(Position(position.name, position.x_mm, position.y_mm, sensor, select))
        else:  # one sensor, moved by the (simulated) operator: nothing to select
            positions.append(Position(position.name, position.x_mm, position.y_mm, None, lambda: None, by_hand=True))
    main_select = positions[0].select if positions and not positions[0].by_hand else None
    return positions, main_select
