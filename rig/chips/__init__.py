"""The spectral-sensor seam: each supported chip is a :class:`SpectralChip` value naming its facts, driver,
emulator and table.

Adding a chip (a TSL2591, an AS7343 variant) is four files: its declarations and its value
(``rig/chips/<chip>.py``, ending in ``CHIP = SpectralChip(...)``), a driver in :mod:`rig.hardware`, an emulator
in :mod:`rig.sim`, a responsivity table in ``rig/data`` (made by a script in ``calibration/``), plus its entry
in :data:`CHIPS`. The bench config's ``[spectral] chip`` picks it; every layer then receives the value.
"""

from __future__ import annotations

from rig.chips import as7341, as7343
from rig.chips.model import ChannelSpec, Identity, ProductionSpread, Role, SpectralChip, Timing

__all__ = ["CHIPS", "DEFAULT_CHIP", "ChannelSpec", "Identity", "ProductionSpread", "Role", "SpectralChip", "Timing",
           "spectral_chip"]

CHIPS: dict[str, SpectralChip] = {chip.name: chip for chip in (as7341.CHIP, as7343.CHIP)}
DEFAULT_CHIP: SpectralChip = as7341.CHIP  # a bench config without [spectral] chip, a file that names none


def spectral_chip(name: str) -> SpectralChip:
    try:
        return CHIPS[name]
    except KeyError:
        raise ValueError(f"unknown spectral chip {name!r}; known: {', '.join(CHIPS)}") from None
