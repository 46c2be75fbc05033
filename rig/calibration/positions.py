"""Cross-calibration of the uniformity positions: every position's sensor on position 0's scale.

Behind a TCA9548A each position has its own AS7341, a unit of the production spread: uncalibrated, two units
read the same light several percent apart, which a uniformity statistic cannot tell from the wrap's own
unevenness. ``rig calibrate positions`` reads *the same source* at every position (a reference LED, or the wrap
itself, put over each sensor in turn) and stores per position the factor that brings its irradiance onto
position 0's scale, with its relative standard uncertainty: the readings' scatter at both positions and the
repeatability of putting the source in place (``placement_u_rel``, stated by the operator), for each.

The uniformity statistics (:func:`rig.claims.uniformity.summarize_positions`) multiply each position's mean by its
factor and add its uncertainty; a position without one (no cross-calibration) carries
``UNCALIBRATED_U_REL``, the spread of irradiance between production units. Position 0 and hand-moved
positions (the same sensor everywhere) have the factor 1 with no uncertainty.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rig.errors import RigError

UNCALIBRATED_U_REL = 0.10  # standard: two production units' irradiance of the same light (sensitivity sd 10 %)
PLACEMENT_U_REL = 0.01  # standard: the same source put over another sensor gives it this much more or less light


@dataclass(frozen=True)
class PositionScale:
    """One position's factor onto position 0's scale and its relative standard uncertainty."""

    name: str
    scale: float
    u_rel: float


@dataclass(frozen=True)
class PositionLevel:
    """The source's irradiance as one position's sensor reads it: mean of ``n`` readings and its standard error."""

    name: str
    mean_mw_cm2: float
    sem_mw_cm2: float
    n: int


def fit_scales(levels: Sequence[PositionLevel], placement_u_rel: float = PLACEMENT_U_REL) -> list[PositionScale]:
    """Each position's factor (position 0's reading / its own) with its u: both readings' standard errors and
    the placement repeatability at both positions."""
    first = levels[0]
    out = [PositionScale(first.name, 1.0, 0.0)]
    for level in levels[1:]:
        for seen in (first, level):
            if seen.mean_mw_cm2 <= 0:
                raise RigError(f"position '{seen.name}': no light from the source ({seen.mean_mw_cm2:.3g} mW/cm2); "
                               "is it on (--switch-on) and over that sensor?")
        u_rel = math.sqrt((first.sem_mw_cm2 / first.mean_mw_cm2) ** 2 + (level.sem_mw_cm2 / level.mean_mw_cm2) ** 2
                          + 2 * placement_u_rel**2)
        out.append(PositionScale(level.name, first.mean_mw_cm2 / level.mean_mw_cm2, u_rel))
    return out


def level_of(name: str, irradiance_mw_cm2: Sequence[float]) -> PositionLevel:
    values = list(irradiance_mw_cm2)
    sem = statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else 0.0
    return PositionLevel(name, statistics.fmean(values), sem, len(values))


def read_positions(bench, calibration, count: int, switch_on: bool, settle_s: float,
                   place: Callable[[Any], None]) -> list[PositionLevel]:
    """The source read ``count`` times at every sensor position of the bench with its own sensor, ``place``
    asking for the source to be put over each (a prompt on the real bench), under the run's guards."""
    from rig.run.guard import WrapGuard
    from rig.spectrum import estimate

    positions = [p for p in bench.positions if not p.by_hand]
    if len(positions) < 2:
        raise RigError("the bench config lists fewer than two [[positions]] with a mux_channel: each hand-moved "
                       "position uses the one sensor, there is nothing to cross-calibrate")
    guard = WrapGuard(bench)
    if switch_on:
        guard.on()
        guard.sleep(settle_s)
    levels = []
    try:
        for position in positions:
            place(position)
            values = []
            for _ in range(count):
                reading = bench.read_at(position)
                guard.note_reading(reading)
                e = estimate(reading.counts, reading.gain_x, reading.t_int_ms, calibration, reading.saturated)
                if e.irradiance_mw_cm2 is not None:
                    values.append(e.irradiance_mw_cm2)
            if not values:
                raise RigError(f"position '{position.name}': no unsaturated reading of the source")
            levels.append(level_of(position.name, values))
    finally:
        guard.off()
        if bench.main_select is not None:
            bench.main_select()
    return levels


def store(calibration_file, scales: Sequence[PositionScale]) -> None:
    """Put the factors in a :class:`~rig.calibration.file.CalibrationFile` (``position_*`` keys)."""
    calibration_file.position_names = [s.name for s in scales]
    calibration_file.position_scales = [round(s.scale, 6) for s in scales]
    calibration_file.position_scales_u_rel = [round(s.u_rel, 6) for s in scales]


def position_scales(path: str | Path | None) -> dict[str, PositionScale]:
    """The cross-calibration in the calibration file at ``path`` (empty without a file or without one)."""
    if not path:
        return {}
    from rig.calibration.file import load_calibration

    loaded = load_calibration(path)
    return {name: PositionScale(name, scale, u) for name, scale, u in
            zip(loaded.position_names, loaded.position_scales, loaded.position_scales_u_rel, strict=True)}


def scale_for(position, scales: dict[str, PositionScale], first_muxed: str | None) -> PositionScale:
    """A position's factor: the cross-calibration's, else 1 (position 0, or the one sensor moved by hand), else
    1 with ``UNCALIBRATED_U_REL``."""
    if position.name in scales:
        return scales[position.name]
    by_hand = getattr(position, "by_hand", getattr(position, "mux_channel", 0) is None)
    if by_hand or position.name == first_muxed:
        return PositionScale(position.name, 1.0, 0.0)
    return PositionScale(position.name, 1.0, UNCALIBRATED_U_REL)
