"""The spectral-sensor seam: each supported chip is a :class:`SpectralChip` value naming its facts, driver,
emulator and table.

Adding a chip (a TSL2591, an AS7343 variant) is four files: its declarations and its value
(``rig/chips/<chip>.py``, ending in ``CHIP = SpectralChip(...)``), a driver in :mod:`rig.hardware`, an emulator
in :mod:`rig.sim`, a responsivity table in ``rig/data`` (made by a script in ``calibration/``), plus its entry
in :data:`CHIPS`. The bench config's ``[spectral] chip`` picks it; every layer then receives the value.
"""

from __future__ import annotations

from pathlib import Path

from rig.chips import as7341, as7343
from rig.chips.model import ChannelSpec, Identity, ProductionSpread, Role, SpectralChip, Timing
from rig.errors import RigError

__all__ = ["CHIPS", "DEFAULT_CHIP", "ChannelSpec", "Identity", "ProductionSpread", "Role", "SpectralChip", "Timing",
           "chip_of_columns", "expected_columns", "spectral_chip"]

CHIPS: dict[str, SpectralChip] = {chip.name: chip for chip in (as7341.CHIP, as7343.CHIP)}
DEFAULT_CHIP: SpectralChip = as7341.CHIP  # a bench config without [spectral] chip, a file that names none


def spectral_chip(name: str) -> SpectralChip:
    try:
        return CHIPS[name]
    except KeyError:
        raise ValueError(f"unknown spectral chip {name!r}; known: {', '.join(CHIPS)}") from None


SETTINGS = ("gain_x", "t_int_ms")  # the columns a counts CSV has beside its chip's channels


def expected_columns(chip: SpectralChip) -> tuple[str, ...]:
    """The columns a counts CSV of ``chip`` must have."""
    return (*chip.channels, *SETTINGS)


def chip_of_columns(columns, path: Path | str, named: str | None = None,
                    expected: SpectralChip | None = None) -> SpectralChip:
    """The chip whose channels a CSV's header names (``named``, a ``chip`` column's value, decides when given); a
    RigError naming the file and each chip's columns when none fits, or when it is not ``expected``."""
    columns = [str(c).strip() for c in columns]
    if named:
        name = named.strip().lower()
        if name not in CHIPS:
            raise RigError(f"{path}: column 'chip': expected one of {', '.join(CHIPS)} (got {named!r})")
        chip = CHIPS[name]
        missing = [c for c in expected_columns(chip) if c not in columns]
        if missing:
            raise RigError(f"{path}: missing column(s) {', '.join(map(repr, missing))}; "
                           f"expected {', '.join(expected_columns(chip))}")
    else:
        fits = [chip for chip in CHIPS.values() if all(c in columns for c in expected_columns(chip))]
        if expected is not None and expected in fits:
            fits = [expected]
        if not fits:
            wanted = [expected] if expected is not None else list(CHIPS.values())
            options = "; or ".join(f"{', '.join(expected_columns(chip))} ({chip.name})" for chip in wanted)
            nearest = min(wanted, key=lambda chip: sum(c not in columns for c in expected_columns(chip)))
            missing = [c for c in expected_columns(nearest) if c not in columns]
            raise RigError(f"{path}: missing column(s) {', '.join(map(repr, missing))}; expected {options}")
        if len(fits) > 1:
            raise RigError(f"{path}: the columns fit {', '.join(c.name for c in fits)}: add a 'chip' column")
        chip = fits[0]
    if expected is not None and chip.name != expected.name:
        raise RigError(f"{path}: the counts are an {chip.name.upper()}'s ({', '.join(chip.channels)}); this needs an "
                       f"{expected.name.upper()}'s ({', '.join(expected.channels)})")
    return chip
