"""The one reader of counts CSVs (``rig analyze`` input, calibration reference CSVs, ``rig calibrate verify``).

A counts CSV has one column per channel of its chip, named as the chip names them (``F1 .. F8, Clear, NIR`` for
the AS7341; ``F1, F2, FZ, ... NIR, VIS`` for the AS7343), plus ``gain_x`` and ``t_int_ms`` (and optionally
``saturated``). The columns name the chip (:func:`chip_of_columns`); an optional ``chip`` column says it outright.
Every value is checked against that chip (counts within its full scale, gains it has) with an error naming the
file, the line and the column. No pandas here: ``rig analyze`` (pandas) checks its frame with the same chip.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

from rig.chips import CHIPS, SpectralChip
from rig.errors import RigError
from rig.results.schema import truthy

SETTINGS = ("gain_x", "t_int_ms")


def expected_columns(chip: SpectralChip) -> tuple[str, ...]:
    return (*chip.channels, *SETTINGS)


def chip_of_columns(columns, path: Path | str, rows: list[dict[str, str]] | None = None,
                    expected: SpectralChip | None = None) -> SpectralChip:
    """The chip whose channels a CSV's header names (a ``chip`` column, when present in ``rows``, decides); a
    RigError naming the file and each chip's columns when none fits, or when it is not ``expected``."""
    columns = [str(c).strip() for c in columns]
    named = {(row.get("chip") or "").strip().lower() for row in rows or () if (row.get("chip") or "").strip()}
    if len(named) > 1:
        raise RigError(f"{path}: column 'chip': one chip per file expected (got {', '.join(sorted(named))})")
    if named:
        name = named.pop()
        if name not in CHIPS:
            raise RigError(f"{path}: column 'chip': expected one of {', '.join(CHIPS)} (got {name!r})")
        chip = CHIPS[name]
        missing = [c for c in expected_columns(chip) if c not in columns]
        if missing:
            raise RigError(f"{path}: missing column(s) {', '.join(missing)}; "
                           f"expected {', '.join(expected_columns(chip))}")
    else:
        fits = [chip for chip in CHIPS.values() if all(c in columns for c in expected_columns(chip))]
        if not fits:
            options = "; or ".join(f"{', '.join(expected_columns(chip))} ({chip.name})" for chip in CHIPS.values())
            nearest = min(CHIPS.values(), key=lambda chip: sum(c not in columns for c in expected_columns(chip)))
            missing = [c for c in expected_columns(nearest) if c not in columns]
            raise RigError(f"{path}: missing column(s) {', '.join(missing)}; expected {options}")
        if len(fits) > 1:
            raise RigError(f"{path}: the columns fit {', '.join(c.name for c in fits)}: add a 'chip' column")
        chip = fits[0]
    if expected is not None and chip.name != expected.name:
        raise RigError(f"{path}: the counts are an {chip.name.upper()}'s ({', '.join(chip.channels)}); this needs an "
                       f"{expected.name.upper()}'s ({', '.join(expected.channels)})")
    return chip


def csv_rows(path: Path | str) -> tuple[Path, list[dict[str, str]]]:
    """A user-named CSV file's rows as dicts (a regular file only: no FIFO or device); errors name the file."""
    from rig.input_files import regular_file

    path = regular_file(Path(path), "CSV file")
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            return path, list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise RigError(f"{path}: cannot read as a CSV file ({error})") from error


def number(row: dict, column: str, low: float, high: float, path: Path, line: int) -> float:
    """A finite number in [low, high] from ``row[column]``; a RigError naming file, line and column."""
    try:
        value = float(row[column])
    except (TypeError, ValueError):
        value = math.nan
    if not (math.isfinite(value) and low <= value <= high):
        raise RigError(f"{path}: line {line}, column '{column}': expected a number in [{low:g}, {high:g}] "
                       f"(got {row[column]!r})")
    return value


@dataclass(frozen=True)
class CountsRow:
    """One reading of a counts CSV: raw counts (the chip's channel order), gain, integration time, saturation."""

    counts: tuple[float, ...]
    gain_x: float
    t_int_ms: float
    saturated: bool


def counts_row(row: dict, chip: SpectralChip, path: Path, line: int) -> CountsRow:
    """One row's reading, every value checked against ``chip``."""
    counts = tuple(number(row, c, 0, chip.timing.counts_max, path, line) for c in chip.channels)
    gain_x = number(row, "gain_x", min(chip.gain_codes_x), max(chip.gain_codes_x), path, line)
    if gain_x not in chip.gain_codes_x:
        raise RigError(f"{path}: line {line}, column 'gain_x': expected one of the {chip.name}'s gains "
                       f"{', '.join(f'{g:g}' for g in chip.gain_codes_x)} (got {gain_x:g})")
    t_int_ms = number(row, "t_int_ms", 0.001, 200_000, path, line)
    return CountsRow(counts, gain_x, t_int_ms, truthy(row.get("saturated")))


def read_counts(path: Path | str, expected: SpectralChip | None = None
                ) -> tuple[Path, SpectralChip, list[dict[str, str]], list[CountsRow]]:
    """A counts CSV: its path (checked), its chip (from the columns; must be ``expected`` when given), its raw rows
    (for any further columns) and each row's checked reading."""
    path, rows = csv_rows(path)
    if not rows:
        raise RigError(f"{path}: no readings (expected a header and at least one row)")
    chip = chip_of_columns(rows[0].keys(), path, rows, expected)
    return path, chip, rows, [counts_row(row, chip, path, line) for line, row in enumerate(rows, start=2)]
