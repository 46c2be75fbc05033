"""The spectral-sensor seam: each supported chip is a registry entry naming its facts, driver, emulator and table.

Adding a chip (an AS7343, a TSL2591) is four files: its declarations here
(``rig/chips/<chip>.py``), a driver in :mod:`rig.hardware`, an emulator in
:mod:`rig.sim`, a responsivity table in ``rig/data`` (from ``calibration/``),
plus its entry in :data:`CHIPS`. The bench config's ``[spectral] chip`` picks it.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module

from rig.chips import as7341


@dataclass(frozen=True)
class SpectralChip:
    """What the rest of rig needs to know about a spectral chip, and where its code lives."""

    name: str
    channels: tuple[str, ...]
    gain_codes_x: tuple[float, ...]
    gain_ratio_vs_64x: tuple[float, ...]
    default_address: int
    responsivity_file: str
    driver: str  # "module:Class" of the driver (hardware)
    emulator: str  # "module:Class" of the register-level emulator (simulator)

    def load(self, which: str):
        """The driver or emulator class (imported only when asked: the Pi never imports the simulator)."""
        module, _, name = getattr(self, which).partition(":")
        return getattr(import_module(module), name)


CHIPS: dict[str, SpectralChip] = {
    as7341.NAME: SpectralChip(as7341.NAME, as7341.CHANNELS, as7341.GAIN_CODES_X, as7341.GAIN_RATIO_VS_64X,
                              as7341.ADDRESS, as7341.RESPONSIVITY_FILE, "rig.hardware.spectral:SpectralSensor",
                              "rig.sim.as7341:AS7341Emulator"),
}


def spectral_chip(name: str) -> SpectralChip:
    try:
        return CHIPS[name]
    except KeyError:
        raise ValueError(f"unknown spectral chip {name!r}; known: {', '.join(CHIPS)}") from None
