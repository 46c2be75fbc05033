"""The one reader of counts CSVs (``rig analyze`` input, a run's ``samples.csv``, the irradiance and spectral
calibrations' reference readings, ``rig calibrate verify``).

A counts CSV has one column per channel of its chip, named as the chip names them (``F1 .. F8, Clear, NIR`` for
the AS7341; ``FZ, FY, FXL, ... VIS`` for the AS7343), plus ``gain_x`` and ``t_int_ms`` [, ``saturated``,
``atime``, ``astep``, ``full_scale``, ...]. The columns name the chip (:func:`chip_of_columns`); an optional
``chip`` column says it outright.

Read with the csv module a chunk of rows at a time (a million-row file never sits in memory), every cell checked
against what that chip can produce; a mistake is a :class:`RigError` naming the file, the line, the column and
what was expected:

- raw counts: numbers 0..the chip's full scale (65535, 16-bit ADCs);
- ``gain_x``: one of the chip's nominal gains;
- ``t_int_ms``: an integration time the chip can be set to, (ATIME + 1) x (ASTEP + 1) x step;
- ``atime`` / ``astep`` (optional, both or none): integers within the chip's ranges; ``full_scale`` (optional);
- the header: no column twice; every row as long as the header; no cell over ``FIELD_LIMIT_BYTES``.

No pandas: light enough for the Pi.
"""

from __future__ import annotations

import contextlib
import csv
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rig.chips import SETTINGS, SpectralChip, chip_of_columns
from rig.errors import RigError

T_INT_SLACK = 0.002  # files round t_int_ms (to 3 decimals, 0.00278 ms -> 0.003): 0.2 % either side allowed
FIELD_LIMIT_BYTES = csv.field_size_limit()  # the csv module's limit of one cell, 128 KiB (a count: a few bytes)
REFERENCE_MW_CM2 = (0.0, 1000.0)  # a reference irradiance: > 0, at most 10x the sun (LED wraps give 10-200)
REFERENCE_NM = (300.0, 1100.0)  # a reference wavelength within the sensor's response
READ_CHUNK_ROWS = 20_000  # rows parsed and checked together (a few MB)


def _bounds(chip: SpectralChip, column: str) -> tuple[float, float, str] | None:
    """(low, high, expected) for the numeric columns checked here; None: not a numeric column of the chip."""
    timing = chip.timing
    full = float(timing.counts_max)
    if column in chip.channels:
        return 0.0, full, f"raw counts 0..{timing.counts_max} (the {chip.name.upper()}'s full scale)"
    if column == "t_int_ms":
        low = timing.step_us / 1000.0
        high = timing.integration_time_ms(timing.atime_max, timing.astep_max)
        return low * (1 - T_INT_SLACK), high * (1 + T_INT_SLACK), (
            f"an integration time the chip can have, (ATIME+1)(ASTEP+1) x {timing.step_us:g} us: "
            f"{low:.5f}..{high:.1f} ms")
    if column == "atime":
        return 0.0, float(timing.atime_max), f"an integer 0..{timing.atime_max} (ATIME)"
    if column == "astep":
        return 0.0, float(timing.astep_max), f"an integer 0..{timing.astep_max} (ASTEP)"
    if column == "full_scale":
        return 1.0, full, f"a full scale 1..{timing.counts_max} counts"
    return None


@dataclass
class CountsChunk:
    """Checked rows of a counts CSV: their line numbers, their cells as read (header order) and the numeric
    columns as float arrays (NaN: an optional cell left blank)."""

    lines: list[int]
    cells: list[list[str]]
    numbers: dict[str, np.ndarray]
    saturated: list[str]


class CountsCsv:
    """A counts CSV opened for reading: the header checked on opening, the rows a chunk at a time."""

    def __init__(self, path: str | Path, what: str = "counts CSV", expected: SpectralChip | None = None,
                 extra: Sequence[str] = ()) -> None:
        """Open and check the header; ``expected``: the chip the counts must be (else the columns decide);
        ``extra``: further columns required (a reference's ``reference_mw_cm2``)."""
        from rig.input_files import regular_file

        self.path = regular_file(path, what)
        self.what = what
        with self._reader() as reader:
            self.header = self._header(reader, extra)
            self.chip = chip_of_columns(self.header, self.path, self._named_chip(reader), expected)

    @contextlib.contextmanager
    def _reader(self) -> Iterator[Any]:
        """A csv reader of the file (its errors name the file)."""
        try:
            with self.path.open(newline="", encoding="utf-8-sig") as handle:  # a BOM (Excel) is not a column name
                yield csv.reader(handle)
        except OSError as error:
            raise RigError(f"{self.path}: cannot be read ({error.strerror or error})") from None

    def _named_chip(self, reader) -> str | None:
        """The first row's ``chip`` cell, if the file has that column (every row is checked to match later)."""
        if "chip" not in self.header:
            return None
        try:
            row = next(reader, None)
        except (csv.Error, UnicodeDecodeError) as error:
            raise self._unreadable(reader, error) from None
        at = self.header.index("chip")
        return row[at].strip() if row and len(row) > at and row[at].strip() else None

    def _header(self, reader, required: Sequence[str]) -> list[str]:
        try:
            header = next(reader, None)
        except (csv.Error, UnicodeDecodeError) as error:
            raise self._unreadable(reader, error) from None
        if not header or not any(cell.strip() for cell in header):
            raise RigError(f"{self.path}: empty file; expected a header with the chip's channels, "
                           f"{', '.join(SETTINGS)} and rows")
        header = [cell.strip() for cell in header]
        seen: set[str] = set()
        for column in header:
            if column in seen and column:  # (unnamed columns: a spreadsheet's trailing empty ones)
                raise RigError(f"{self.path}: column {column!r} appears twice in the header (which one holds the "
                               "readings?); expected each column once")
            seen.add(column)
        missing = [c for c in required if c not in seen]
        if missing:
            raise RigError(f"{self.path}: missing column(s) {', '.join(map(repr, missing))}; expected "
                           f"{', '.join(required)}")
        if ("atime" in seen) != ("astep" in seen):
            raise RigError(f"{self.path}: column {'astep' if 'atime' in seen else 'atime'!r} missing: atime and "
                           "astep go together (or leave both out)")
        return header

    def _unreadable(self, reader, error: Exception) -> RigError:
        line = max(getattr(reader, "line_num", 0), 1)
        if isinstance(error, UnicodeDecodeError):
            return RigError(f"{self.path}: not UTF-8 text (byte {error.start} of a block near line {line}): "
                            "expected a CSV text file")
        if "field larger than field limit" in str(error):
            return RigError(f"{self.path}: line {line}: a cell longer than {FIELD_LIMIT_BYTES // 1024} KiB (the CSV "
                            "cell size limit): expected a counts table of numbers")
        return RigError(f"{self.path}: line {line}: cannot read as CSV ({error})")

    def chunks(self, rows: int = READ_CHUNK_ROWS) -> Iterator[CountsChunk]:
        """The rows, ``rows`` at a time, each chunk checked; a header without rows is an error."""
        width = len(self.header)
        any_rows = False
        with self._reader() as reader:
            try:
                next(reader)
                lines: list[int] = []
                cells: list[list[str]] = []
                for row in reader:
                    if not row or (len(row) == 1 and not row[0].strip()):
                        continue  # a blank line
                    if len(row) != width:
                        raise RigError(f"{self.path}: line {reader.line_num}: {len(row)} cells, the header has "
                                       f"{width}")
                    lines.append(reader.line_num)
                    cells.append(row)
                    if len(cells) >= rows:
                        any_rows = True
                        yield self._checked(lines, cells)
                        lines, cells = [], []
            except (csv.Error, UnicodeDecodeError) as error:
                raise self._unreadable(reader, error) from None
        if cells:
            any_rows = True
            yield self._checked(lines, cells)
        if not any_rows:
            raise RigError(f"{self.path}: a header but no readings")

    def _checked(self, lines: list[int], cells: list[list[str]]) -> CountsChunk:
        numbers: dict[str, np.ndarray] = {}
        chip = self.chip
        for index, column in enumerate(self.header):
            if column == "chip":
                bad = [n for n, row in enumerate(cells) if row[index].strip().lower() not in ("", chip.name)]
                if bad:
                    raise RigError(f"{self.path}: line {lines[bad[0]]}, column 'chip': one chip per file expected "
                                   f"({chip.name}, got {cells[bad[0]][index].strip()[:40]!r})")
                continue
            bounds = _bounds(chip, column)
            if bounds is None and column != "gain_x":
                continue
            optional = column in ("atime", "astep", "full_scale")
            texts = [row[index].strip() for row in cells]
            values = _floats(texts)
            if column == "gain_x":
                bad = ~np.isin(values, chip.gain_codes_x)
                expected = f"one of {', '.join(f'{g:g}' for g in chip.gain_codes_x)} (the {chip.name.upper()}'s gains)"
            else:
                low, high, expected = bounds
                bad = ~((values >= low) & (values <= high))
                if column in ("atime", "astep"):
                    bad |= values != np.round(values)
                if optional:
                    bad &= np.array([bool(t) for t in texts])  # a blank optional cell: not given
            if bad.any():
                first = int(bad.argmax())
                raise RigError(f"{self.path}: line {lines[first]}, column '{column}': expected {expected} "
                               f"(got {texts[first][:40]!r})")
            numbers[column] = values
        saturated_at = self.header.index("saturated") if "saturated" in self.header else None
        saturated = [row[saturated_at] for row in cells] if saturated_at is not None else []
        return CountsChunk(lines, cells, numbers, saturated)


def _floats(texts: list[str]) -> np.ndarray:
    """Floats of cells; a cell that is not a number (or blank) is NaN (and fails every range check)."""
    try:
        return np.array(texts, dtype=object).astype(float)
    except ValueError:
        return np.array([_float(t) for t in texts], dtype=float)


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return math.nan


@dataclass(frozen=True)
class CountsRow:
    """One checked reading of a (small) counts CSV, with its line and every cell as read."""

    line: int
    counts: tuple[float, ...]
    gain_x: float
    t_int_ms: float
    saturated: bool
    cells: dict[str, str]


def read_counts_rows(path: str | Path, what: str = "CSV file", expected: SpectralChip | None = None,
                     extra: Sequence[str] = ()) -> tuple[Path, SpectralChip, list[CountsRow]]:
    """Every row of a counts CSV of reference readings (a calibration's: small), checked as :class:`CountsCsv`;
    its path, its chip (``expected`` when given) and the rows, counts in the chip's channel order."""
    from rig.results.schema import truthy

    table = CountsCsv(path, what, expected, extra)
    out = []
    for chunk in table.chunks():
        for n, (line, row) in enumerate(zip(chunk.lines, chunk.cells, strict=True)):
            cells = dict(zip(table.header, row, strict=True))
            out.append(CountsRow(line, tuple(float(chunk.numbers[c][n]) for c in table.chip.channels),
                                 float(chunk.numbers["gain_x"][n]), float(chunk.numbers["t_int_ms"][n]),
                                 truthy(cells.get("saturated")), cells))
    return table.path, table.chip, out
