"""The bench: one object owning the spectral sensor, the thermal probes and the wrap switch.

``with Bench(...) as bench:`` guarantees the wrap is switched off on the way out,
whatever happened inside (normal end, exception, Ctrl-C). The same class serves
the real and the simulated bench (:mod:`rig.wiring` builds either); nothing here
knows about the simulator.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rig.chips import SpectralChip, spectral_chip
from rig.clock import Clock
from rig.config import BenchConfig
from rig.errors import FlickerUnavailable
from rig.hardware.retry import RetryCounter, with_retries

if TYPE_CHECKING:
    from rig.hardware.reader import SpectralReading
    from rig.hardware.spectral import SpectralSensor
    from rig.hardware.switch import WrapSwitch
    from rig.hardware.thermal import ProbeReading, ThermalProbes


@dataclass
class Position:
    """A sensor position for uniformity: ``select()`` switches the mux to it; a ``by_hand`` position is reached by
    the operator moving the one sensor (:meth:`Bench.move_sensor`)."""

    name: str
    x_mm: float
    y_mm: float
    sensor: Any
    select: Callable[[], None]
    by_hand: bool = False


def _whole(method):
    """A bus transaction runs to its end before a stop signal acts (:meth:`rig.run.signals.SignalGate.held`):
    an exception raised half-way through (an I2C bus lock still taken, a register half-written) would hang or
    mislead the shut-down's light check."""

    @functools.wraps(method)
    def whole(self, *args, **kwargs):
        from rig.run.signals import current_gate

        with current_gate().held():
            return method(self, *args, **kwargs)

    return whole


class Bench:
    """Sensors and switch of one bench; a context manager whose exit leaves the wrap off.

    ``chip`` is the spectral chip the bench config names (``[spectral] chip``): the value every layer reads
    channel names, roles, gains and timing from (the sensor must be that chip's driver);
    ``backend`` is ``"real"`` or ``"sim"`` (recorded with every result);
    ``probe_bus`` is an smbus2-shaped handle for ``rig check``'s identity reads;
    ``pin_factory`` names gpiozero's pin factory in use; ``operator`` moves the
    sensor between hand-moved uniformity positions (a prompt on the real bench).
    """

    def __init__(
        self,
        config: BenchConfig,
        clock: Clock,
        spectral: SpectralSensor,
        thermal: ThermalProbes,
        switch: WrapSwitch,
        backend: str,
        on_close: list[Callable[[], None]] | None = None,
        probe_bus: Any = None,
    ) -> None:
        self.config = config
        self.chip: SpectralChip = spectral_chip(config.spectral.chip)
        sensor_chip = getattr(spectral, "chip", self.chip)
        if sensor_chip is not self.chip:
            raise ValueError(f"the bench config names the {self.chip.name} but its sensor is an {sensor_chip.name} "
                             f"driver ({type(spectral).__name__})")
        self.clock = clock
        self.spectral = spectral
        self.thermal = thermal
        self.switch = switch
        self.backend = backend
        self.probe_bus = probe_bus
        self._on_close = list(on_close or [])
        self.closed = False
        self.retries = RetryCounter()
        self.positions: list[Position] = []
        self.main_select: Callable[[], None] | None = None  # e.g. the mux channel of the main sensor
        self.operator: Callable[[Position | None], None] = _ask_operator

    @property
    def pin_factory(self) -> str:
        return self.switch.pin_factory_name

    def move_sensor(self, position: Position | None) -> None:
        """Have the sensor moved to a hand-moved ``position``, or back to its measuring place (None)."""
        self.operator(position)

    @_whole
    def detect_pulsing(self, clear_basic_per_ms: float | None, trace_s: float | None = None,
                       keep: list | None = None):
        """Pulse/PWM/ripple of the light at the main sensor: short-aperture bursts at several rates plus a ~2 kHz
        trace (:func:`rig.pulse.detect.detect_pulsing`), then the spectral integration locked to whole periods so
        every reading sees the duty-cycle mean. Transient I2C errors are retried. Returns the
        :class:`~rig.pulse.PulseResult` and the locked integration time (ms) or None."""
        from rig.pulse.detect import MIN_TRACE_S, detect_pulsing, lock_integration

        where = (f"{self.chip.name.upper()} flicker capture at 0x{self.config.spectral.address:02x} on I2C bus "
                 f"{self.config.i2c_bus}")
        if self.flicker_unavailable:
            raise FlickerUnavailable(self.flicker_unavailable)

        def run():
            if self.main_select is not None:
                self.main_select()
            return detect_pulsing(self.spectral, clear_basic_per_ms, trace_s or MIN_TRACE_S, keep=keep)

        result = with_retries(run, self.clock, where, self.retries)
        return result, lock_integration(self.spectral, result)

    @property
    def flicker_unavailable(self) -> str | None:
        """Why this bench cannot run the pulse check (the flicker capture), or None when it can."""
        if getattr(self.spectral, "flicker_capture", False):
            return None
        return (f"the flicker capture is not available on the {self.chip.name.upper()} (rig's reader for it has "
                "no flicker-FIFO capture): pulse frequency, duty and percent flicker NOT MEASURED, and readings are "
                "not locked to a pulse period")

    def describe(self) -> dict[str, Any]:
        """Extra facts for ``run.json`` after the bench closed (the simulator adds its wrap's true state)."""
        return {}

    @_whole
    def read_spectrum(self) -> SpectralReading:
        """A full spectral reading; transient I2C errors are retried with back-off, then a SensorFault."""
        where = f"{self.chip.name.upper()} at 0x{self.config.spectral.address:02x} on I2C bus {self.config.i2c_bus}"
        if self.main_select is not None:
            self.main_select()
        return with_retries(self.spectral.read, self.clock, where, self.retries)

    @_whole
    def read_at(self, position: Position) -> SpectralReading:
        """A reading at one uniformity position (mux channel selected, or the sensor moved there first)."""
        where = f"{self.chip.name.upper()} at position '{position.name}' on I2C bus {self.config.i2c_bus}"

        def read() -> SpectralReading:
            position.select()
            return position.sensor.read()

        return with_retries(read, self.clock, where, self.retries)

    @_whole
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


def _ask_operator(position: Position | None) -> None:
    """On the real bench a person moves the sensor: ask, and wait for Enter."""
    if position is None:
        message = "Put the sensor back at its measuring position"
    else:
        message = f"Move the sensor to position '{position.name}' ({position.x_mm:g}, {position.y_mm:g} mm)"
    input(f"{message}, then press Enter: ")
