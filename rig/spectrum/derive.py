"""Glue between samples and the spectral estimate: the calibration in use and a per-row deriver."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rig.chips import DEFAULT_CHIP, SpectralChip
from rig.results.schema import truthy
from rig.spectrum.estimator import estimate_many
from rig.spectrum.line_plan import LinePlan, claimed_lines, line_columns, plan_lines
from rig.spectrum.model import Calibration, ModelUncertainty
from rig.spectrum.responsivity import Responsivity


def nominal_calibration(transmission: float, chip: SpectralChip | None = None) -> Calibration:
    """Datasheet-nominal calibration (uncalibrated) of ``chip`` (default: the default chip): its shipped
    responsivity table, scale 1."""
    return Calibration(Responsivity.load(chip=chip), transmission=transmission)


def line_plan(calibration: Calibration | None, lines: Sequence = (), chip: SpectralChip | None = None
              ) -> LinePlan | None:
    """The fitted lines for a mode's claimed lines (:class:`~rig.profile.LineClaim`) on this calibration's
    sensor; None when the mode claims no lines (the default red + NIR estimate)."""
    if not lines:
        return None
    if calibration is None:
        table = Responsivity.load(chip=chip)
        return plan_lines(claimed_lines(lines), table, ModelUncertainty.of(table.chip))
    return plan_lines(claimed_lines(lines), calibration.responsivity, calibration.model_u)


class Deriver:
    """Adds peaks and irradiance to sample rows (dark baseline subtracted); ``columns`` are the ones it adds.

    Call it on one row (a run, sample by sample) or :meth:`many` on a list of rows (a re-analysis: the
    readings are fitted together, several times faster)."""

    def __init__(self, calibration: Calibration | None, plan: LinePlan | None, chip: SpectralChip | None = None):
        self.calibration, self.plan = calibration, plan
        self.chip = calibration.chip if calibration is not None else chip or DEFAULT_CHIP  # the readings' chip
        self.columns = [*line_columns(plan), "calibration_id"]
        self._nominal: dict[float, Calibration] = {}
        self._with_dark: dict[tuple[int, tuple[float, ...]], Calibration] = {}

    def __call__(self, row: dict[str, Any], dark_counts: dict[str, float]) -> dict[str, Any]:
        return self.many([row], dark_counts)[0]

    def many(self, rows: Sequence[dict[str, Any]], dark_counts: dict[str, float]) -> list[dict[str, Any]]:
        """The added values of each row, in order."""
        groups: dict[int, tuple[Calibration, list[int]]] = {}
        for n, row in enumerate(rows):
            base = self._base(row, dark_counts)
            groups.setdefault(id(base), (base, []))[1].append(n)
        out: list[dict[str, Any]] = [{} for _ in rows]
        for base, members in groups.values():
            chosen = [rows[n] for n in members]
            results = estimate_many([[row[c] for c in base.chip.channels] for row in chosen],
                                    [float(row["gain_x"]) for row in chosen],
                                    [float(row["t_int_ms"]) for row in chosen], base,
                                    [truthy(row.get("saturated")) for row in chosen], plan=self.plan)
            for n, result in zip(members, results, strict=True):
                out[n] = {**result.as_dict(calibrated=base.calibrated), "calibration_id": base.id}
        return out

    def _base(self, row: dict[str, Any], dark_counts: dict[str, float]) -> Calibration:
        """The calibration for this row: the given one, or the datasheet-nominal one at the row's own attenuator;
        with the run's dark baseline when it has one (it beats the calibration's)."""
        base = self.calibration
        if base is None:
            transmission = float(row["transmission"])
            base = self._nominal.get(transmission) or self._nominal.setdefault(
                transmission, nominal_calibration(transmission, self.chip))
        if not dark_counts:
            return base
        dark = tuple(dark_counts.get(c, 0.0) for c in base.chip.channels)
        key = (id(base), dark)  # one copy per calibration and baseline, so rows that share them are fitted together
        if key not in self._with_dark:
            self._with_dark[key] = base.with_dark(dark)
        return self._with_dark[key]


def make_deriver(calibration: Calibration | None = None, lines: Sequence = (), chip: SpectralChip | None = None
                 ) -> Deriver:
    """A :class:`Deriver`: adds peaks and irradiance to sample rows, dark baseline subtracted.

    Without a calibration, the datasheet-nominal one is used with the row's own
    attenuator transmission. Dark counts: the run's dark baseline when it has
    one, else the calibration's. ``lines``: the mode's claimed lines (the estimate
    fits them; their columns are in ``.columns``). ``chip``: the readings' chip when there is no calibration
    (default: the default chip); a calibration brings its own.
    """
    return Deriver(calibration, line_plan(calibration, lines, chip), chip)
