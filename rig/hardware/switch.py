"""Switching the wrap: a power pin (relay or MOSFET) and an optional optocoupler on its button.

gpiozero leaves a closed pin floating, and a floating MOSFET gate can leave a
load on: :meth:`WrapSwitch.close` drives the power pin off explicitly before
releasing it (the hardware also needs a gate pull-down; see the README).
"""

from __future__ import annotations

from gpiozero import DigitalOutputDevice
from gpiozero.pins import Factory

from rig.clock import Clock
from rig.config import SwitchConfig


def _whole():
    """A pin change runs to its end before a stop signal acts (gpiozero holds locks while it drives a pin)."""
    from rig.run.signals import current_gate

    return current_gate().held()


class WrapSwitch:
    """Power on/off and button presses for the wrap under test."""

    def __init__(self, config: SwitchConfig, clock: Clock, pin_factory: Factory | None = None) -> None:
        self.config = config
        self._clock = clock
        self._power = DigitalOutputDevice(
            config.power_pin, active_high=config.active_high, initial_value=False, pin_factory=pin_factory)
        self._last_on = False
        self._button: DigitalOutputDevice | None = None
        if config.button_pin is not None:
            try:
                self._button = DigitalOutputDevice(
                    config.button_pin, active_high=True, initial_value=False, pin_factory=pin_factory)
            except Exception:
                self._power.off()
                self._power.close()
                raise

    @property
    def pin_factory_name(self) -> str:
        """gpiozero's pin factory driving the pins (e.g. LGPIOFactory on a Pi 5, MockFactory in the simulator)."""
        return type(self._power.pin_factory).__name__

    @property
    def is_on(self) -> bool:
        """True while the power pin is driven on (after :meth:`close`: its last driven state)."""
        if self._power.closed:
            return self._last_on
        return bool(self._power.value)

    def on(self) -> None:
        with _whole():
            self._power.on()
            self._last_on = True

    def off(self) -> None:
        with _whole():
            self._power.off()
            self._last_on = bool(self._power.value)

    def read_back(self) -> bool | None:
        """The power pin's level as its output device reports it (not what we last asked for): True = on;
        None = it cannot be read (already released, or the read failed)."""
        try:
            if self._power.closed:
                return None
            return bool(self._power.value)
        except Exception:  # noqa: BLE001 - an unreadable pin is "unknown", never "off"
            return None

    def off_and_read_back(self) -> bool:
        """Drive the power pin off, read it back, and once more if it still reads on: True if it was read off."""
        for _attempt in range(2):
            try:
                self.off()
            except Exception:  # noqa: BLE001 - read back whatever the driver said; close() drives it again
                pass
            if self.read_back() is False:
                return True
        return False

    def press(self, duration_s: float | None = None) -> None:
        """Press the wrap's button through the optocoupler for ``duration_s`` (default from config)."""
        if self._button is None:
            raise RuntimeError("no button pin configured (switch.button_pin)")
        with _whole():  # a press is never left held down by a stop signal
            self._button.on()
            try:
                self._clock.sleep(self.config.button_press_s if duration_s is None else duration_s)
            finally:
                self._button.off()

    def close(self) -> None:
        """Switch off, then release the pins; the power pin is driven off even if the rest fails."""
        try:
            if not self._power.closed:
                self.off()
            if self._button is not None and not self._button.closed:
                self._button.off()
                self._button.close()
        finally:
            if not self._power.closed:
                self._power.close()


def force_off(config: SwitchConfig, pin_factory: Factory | None = None) -> str:
    """Drive the power pin (and button pin) inactive, whoever else holds the bench; say what was done."""
    from rig.hardware.pins import pin_factory_status

    if pin_factory is None:
        status = pin_factory_status()
        if not status.ok:
            from rig.errors import HardwareNotFound

            raise HardwareNotFound(status.detail)
    done = []
    for pin, active_high, what in ((config.power_pin, config.active_high, "power"),
                                   (config.button_pin, True, "button")):
        if pin is None:
            continue
        try:
            device = DigitalOutputDevice(pin, active_high=active_high, initial_value=False, pin_factory=pin_factory)
        except Exception as error:  # noqa: BLE001 - e.g. "GPIO busy": another process holds the line
            from rig.errors import HardwareNotFound

            raise HardwareNotFound(f"cannot drive GPIO{pin} ({type(error).__name__}: {error}): another process may "
                                   "hold it; stop that rig process (kill PID) and run 'rig off' again, or cut the "
                                   "wrap's power by hand") from error
        device.off()
        level = "low" if active_high else "high"
        done.append(f"{what} pin GPIO{pin} driven {level} (off)")
        device.close()
    return ("; ".join(done) + ". The wrap is off while the gate pull-down (or a normally-open relay) holds the "
            "released pin; check the wrap's light by eye.")
