"""The bench: one object owning the spectral sensor, the thermal probes and the wrap switch.

``with Bench(...) as bench:`` guarantees the wrap is switched off on the way out,
whatever happened inside (normal end, exception, Ctrl-C).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rig.bench.retry import RetryCounter, with_retries
from rig.clock import Clock
from rig.config import BenchConfig

if TYPE_CHECKING:
    from rig.bench.spectral import SpectralReading, SpectralSensor
    from rig.bench.switch import WrapSwitch
    from rig.bench.thermal import ProbeReading, ThermalProbes


@dataclass
class Position:
    """A sensor position for uniformity: ``select()`` switches the mux to it, or asks for the sensor to be moved."""

    name: str
    x_mm: float
    y_mm: float
    sensor: Any
    select: Callable[[], None]
    by_hand: bool = False


class Bench:
    """Sensors and switch of one bench; a context manager whose exit leaves the wrap off.

    ``backend`` is ``"real"`` or ``"sim"``; ``sim`` holds the simulated hardware
    (the wrap model, emulated chips) when there is one, for demos and tests.
    """

    def __init__(
        self,
        config: BenchConfig,
        clock: Clock,
        spectral: SpectralSensor,
        thermal: ThermalProbes,
        switch: WrapSwitch,
        backend: str,
        sim: Any = None,
        on_close: list[Callable[[], None]] | None = None,
    ) -> None:
        self.config = config
        self.clock = clock
        self.spectral = spectral
        self.thermal = thermal
        self.switch = switch
        self.backend = backend
        self.sim = sim
        self._on_close = list(on_close or [])
        self.closed = False
        self.retries = RetryCounter()
        self.positions: list[Position] = []
        self.main_select: Callable[[], None] | None = None  # e.g. the mux channel of the main sensor
        self.prompt: Callable[[str], None] = lambda message: input(f"{message}, then press Enter: ")

    def read_spectrum(self) -> SpectralReading:
        """A full spectral reading; transient I2C errors are retried with back-off, then a SensorFault."""
        where = f"AS7341 at 0x{self.config.spectral.address:02x} on I2C bus {self.config.i2c_bus}"
        if self.main_select is not None:
            self.main_select()
        return with_retries(self.spectral.read, self.clock, where, self.retries)

    def read_at(self, position: Position) -> SpectralReading:
        """A reading at one uniformity position (mux channel selected, or the sensor moved there first)."""
        where = f"AS7341 at position '{position.name}' on I2C bus {self.config.i2c_bus}"

        def read() -> SpectralReading:
            position.select()
            return position.sensor.read()

        return with_retries(read, self.clock, where, self.retries)

    def read_temperatures(self) -> dict[str, ProbeReading]:
        """Every probe; transient I2C errors are retried with back-off, then a SensorFault."""
        where = f"ADS1115 at 0x{self.config.thermal.address:02x} on I2C bus {self.config.i2c_bus}"
        return with_retries(self.thermal.read, self.clock, where, self.retries)

    def close(self) -> None:
        """Wrap off first, then release everything else. Safe to call twice."""
        if self.closed:
            return
        self.closed = True
        try:
            self.switch.close()
        finally:
            for action in reversed(self._on_close):
                action()

    def __enter__(self) -> Bench:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
