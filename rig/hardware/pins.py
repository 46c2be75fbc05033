"""gpiozero's pin factory on this machine: which one loads, and what to do when none does.

On Raspberry Pi OS Bookworm the factory that works on every Pi (4, 5, Zero 2 W)
is lgpio; the venv gets it without a compiler when it is made with
``--system-site-packages`` and the distribution's ``python3-lgpio`` is
installed (see the README). lgpio writes its notification pipes
(``.lgd-nfy*``) into ``$LG_WD``, by default the current directory: rig points
it at a fixed private folder instead.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

FIX = ("no GPIO pin factory could be loaded. On Raspberry Pi OS Bookworm: "
       "sudo apt install python3-lgpio, then make the venv with the system's packages: "
       "rm -rf .venv && make VENV_FLAGS=--system-site-packages test "
       "(or set GPIOZERO_PIN_FACTORY to a factory that is installed)")


def lgpio_workdir() -> Path:
    """A fixed writable folder for lgpio's working files (``$LG_WD``), made if needed."""
    base = Path(os.environ.get("XDG_RUNTIME_DIR") or Path.home() / ".cache")
    folder = base / "rig-lgpio"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def prepare_lgpio() -> None:
    """Send lgpio's ``.lgd-nfy*`` files to :func:`lgpio_workdir` unless ``LG_WD`` is already set."""
    if "LG_WD" not in os.environ:
        try:
            os.environ["LG_WD"] = str(lgpio_workdir())
        except OSError:
            pass


@dataclass(frozen=True)
class PinFactoryStatus:
    ok: bool
    name: str
    detail: str


def pin_factory_status() -> PinFactoryStatus:
    """Load gpiozero's default pin factory the way a device would; name it, or say how to get one."""
    prepare_lgpio()
    from gpiozero import Device
    from gpiozero.exc import BadPinFactory

    try:
        factory = Device.pin_factory or Device._default_pin_factory()
    except BadPinFactory as error:
        return PinFactoryStatus(False, "", f"{error}; {FIX}")
    except Exception as error:  # noqa: BLE001 - a factory that fails to start is reported, not raised
        return PinFactoryStatus(False, "", f"{type(error).__name__}: {error}; {FIX}")
    Device.pin_factory = factory
    return PinFactoryStatus(True, type(factory).__name__, "loaded")
