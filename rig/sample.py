"""One sample of the bench: a spectral reading, the probe temperatures and the switch state, as a flat row.

This is the sampling hot path on the Pi: plain dicts, no pandas.
"""

from __future__ import annotations

from typing import Any

from rig.bench.bench import Bench


def take_sample(bench: Bench, t0_s: float = 0.0, position=None) -> dict[str, Any]:
    """Read every sensor once; ``t_s`` is seconds since ``t0_s`` on the bench clock.

    With a uniformity ``position`` the spectral reading is taken there (mux channel or moved sensor).
    """
    retries_before = bench.retries.retries
    reading = bench.read_spectrum() if position is None else bench.read_at(position)
    temperatures = bench.read_temperatures()
    row: dict[str, Any] = {"t_s": round(reading.t_s - t0_s, 4), "wrap_on": bench.switch.is_on}
    row.update(reading.as_dict())
    for name, probe in temperatures.items():
        row[f"{name}_c"] = None if probe.temp_c is None else round(probe.temp_c, 2)
        row[f"{name}_v"] = round(probe.volts, 5)
        row[f"{name}_ohm"] = None if probe.resistance_ohm is None else round(probe.resistance_ohm, 1)
        row[f"{name}_fault"] = probe.fault or ""
    row["i2c_retries"] = bench.retries.retries - retries_before
    row["position"] = "" if position is None else position.name
    return row
