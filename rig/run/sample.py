"""One sample of the bench: a spectral reading, the probe temperatures and the switch state, as a flat row.

This is the sampling hot path on the Pi: plain dicts, no pandas. The columns are
declared in :mod:`rig.results.schema`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rig.chips.model import Role, SpectralChip


def clear_basic(clear_counts: float, gain_x: float, t_int_ms: float, chip: SpectralChip) -> float:
    """The broadband channel (AS7341 Clear, AS7343 VIS) in basic counts (counts per ``chip``'s gain ratio per ms):
    a gain-independent measure of output."""
    return float(clear_counts) / (chip.gain_ratio(gain_x) * t_int_ms)


def broadband_basic(reading, chip: SpectralChip) -> float:
    """A spectral reading's broadband channel, found by its role in ``chip``, in basic counts (the level the
    safety checks compare: lit after switch-on, dark after switch-off)."""
    counts = reading.counts[chip.index_of(Role.BROADBAND)]
    return clear_basic(counts, reading.gain_x, reading.t_int_ms, chip)


def temperature_columns(temperatures: Mapping[str, Any]) -> dict[str, Any]:
    """``<probe>_c``, ``_v``, ``_ohm``, ``_fault`` for every probe reading."""
    row: dict[str, Any] = {}
    for name, probe in temperatures.items():
        row[f"{name}_c"] = None if probe.temp_c is None else round(probe.temp_c, 2)
        row[f"{name}_v"] = round(probe.volts, 5)
        row[f"{name}_ohm"] = None if probe.resistance_ohm is None else round(probe.resistance_ohm, 1)
        row[f"{name}_fault"] = probe.fault or ""
    return row


def take_sample(bench, t0_s: float = 0.0, position=None) -> dict[str, Any]:
    """Read every sensor once; ``t_s`` is seconds since ``t0_s`` on the bench clock.

    With a uniformity ``position`` the spectral reading is taken there (mux channel or moved sensor).
    """
    retries_before = bench.retries.retries
    reading = bench.read_spectrum() if position is None else bench.read_at(position)
    temperatures = bench.read_temperatures()
    row: dict[str, Any] = {"t_s": round(reading.t_s - t0_s, 4), "wrap_on": bench.switch.is_on}
    row.update(reading.as_dict())
    # the column keeps its name on every chip: the broadband channel (by role) in basic counts
    row["clear_basic"] = round(broadband_basic(reading, bench.chip), 4)
    row.update(temperature_columns(temperatures))
    row["i2c_retries"] = bench.retries.retries - retries_before
    row["position"] = "" if position is None else position.name
    return row
