"""The batched estimate (many readings fitted together) against stated spectra and against one reading at a time.

Counts come from the emulated AS7341 as in test_spectrum.py: a unit drawn from the production spread, never
the estimator's own table, behind T = 0.01. The refinement's own tests use noise-free counts made through the
typical table, so the line that made them is the exact answer.
"""

from __future__ import annotations

import numpy as np
import pytest

from rig.chips import DEFAULT_CHIP
from rig.sim.sensor_unit import SensorSpread, SensorUnit
from rig.spectrum import analyze_counts, estimate, estimate_many
from rig.spectrum.refine import refine
from rig.spectrum.responsivity import gain_ratio
from rig.spectrum.shapes import line_shapes
from tests.test_spectrum import CAL, TABLE, read, within

# (peak nm, FWHM nm, mW/cm2 at the surface) per line; [] is the wrap switched off
STATED = [
    [(660.0, 20.0, 30.0)],
    [(660.0, 20.0, 20.0), (850.0, 30.0, 25.0)],
    [(630.0, 18.0, 8.0), (850.0, 30.0, 40.0)],
    [(850.0, 30.0, 40.0)],
    [(940.0, 40.0, 30.0)],
    [(610.0, 17.0, 3.0)],
    [],
]


def readings(unit: SensorUnit) -> list:
    return [read(lines, seed=n, unit=unit) for n, lines in enumerate(STATED)]


def test_a_batch_gives_each_reading_what_it_gives_alone_and_the_stated_light():
    # Seven wraps (one switched off) plus a reading the sensor flagged saturated, read by one production unit and
    # estimated together. Each row must be what that reading gives alone (the batch is an implementation, not a
    # different estimate), and the stated lines must lie within the stated U.
    unit = SensorUnit.draw("batch", 3, SensorSpread())
    taken = readings(unit)
    counts = [r.counts for r in taken] + [taken[0].counts]
    gains = [r.gain_x for r in taken] + [taken[0].gain_x]
    t_int = [r.t_int_ms for r in taken] + [taken[0].t_int_ms]
    saturated = [r.saturated for r in taken] + [True]
    together = estimate_many(counts, gains, t_int, CAL, saturated)
    alone = [estimate(c, g, t, CAL, s) for c, g, t, s in zip(counts, gains, t_int, saturated, strict=True)]
    for batch, single in zip(together, alone, strict=True):
        for key, value in single.as_dict().items():
            expected = value if value is None or key == "flags" else pytest.approx(value, rel=1e-5, abs=1e-4)
            assert batch.as_dict()[key] == expected, key
    assert together[-1].flags == ["saturated"] and together[-1].irradiance_mw_cm2 is None
    assert "too_weak" in together[6].flags
    for result, lines in zip(together[:6], STATED[:6], strict=True):
        total = sum(e for _p, _w, e in lines)
        assert within(result.irradiance_mw_cm2, total, result.irradiance_u_mw_cm2)
        red = [p for p, _w, _e in lines if p < 740]
        if red:
            assert within(result.red_peak_nm, red[0], result.red_peak_u_nm)


def test_a_counts_table_is_estimated_in_batches_with_repeated_rows_once(monkeypatch):
    # 2500 rows: five stated wraps, each reading repeated 500 times (a held reading). Every row gets the estimate of
    # its reading and each distinct reading is fitted once: two per chunk here, so progress hears the rows those
    # two readings cover (1000), then 2000, then all 2500.
    unit = SensorUnit.draw("batch", 4, SensorSpread())
    taken = readings(unit)[:5]
    rows = [{**{c: str(v) for c, v in zip(("F1", "F2", "F3", "F4", "F5", "F6", "F7", "F8", "Clear", "NIR"),
                                           r.counts, strict=True)}, "gain_x": str(r.gain_x),
             "t_int_ms": str(r.t_int_ms)} for r in taken] * 500
    fitted: list[int] = []
    import rig.spectrum.table as table

    def counting(counts, *args, **kwargs):
        fitted.append(len(counts))
        return estimate_many(counts, *args, **kwargs)

    monkeypatch.setattr(table, "estimate_many", counting)
    seen: list[int] = []
    out = analyze_counts(rows, CAL, progress=seen.append, progress_every=2, workers=1)
    assert fitted == [2, 2, 1] and seen == [1000, 2000, 2500]
    for n, row in enumerate(out[:5]):
        alone = estimate(taken[n].counts, taken[n].gain_x, taken[n].t_int_ms, CAL).as_dict()
        assert row["irradiance_mw_cm2"] == pytest.approx(alone["irradiance_mw_cm2"], rel=1e-6)
        assert out[n + 2000]["irradiance_mw_cm2"] == row["irradiance_mw_cm2"]


def _line_counts(lines: list[tuple[float, float, float]], table=TABLE) -> np.ndarray:
    """Noise-free basic counts of Gaussian lines (peak, FWHM, uW/cm2 at the sensor) through the typical table (or
    ``table``)."""
    return sum(a * table.line_response(p, w) for p, w, a in lines)


def _one_line_model(theta: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    response, d_peak, d_fwhm = line_shapes(TABLE, theta[:, 1], theta[:, 2])
    amplitude = theta[:, :1]
    return amplitude * response, np.stack([response, amplitude * d_peak, amplitude * d_fwhm], axis=2)


def test_refinement_recovers_stated_lines_from_the_grid_start_and_stops_at_a_bound():
    # Three rows, each its own problem: 250 uW/cm2 at 652.3 nm / 21.7 nm from a start 2 nm and 2 nm off; 40 uW/cm2
    # at 701.0 nm / 26.0 nm from 695 nm / 16 nm; and a 36 nm wide line with the width bounded at 30 nm (the
    # fit must end on the bound, with the peak within 2 nm: a too-narrow line shifts a little on the curves).
    truths = [(652.3, 21.7, 250.0), (701.0, 26.0, 40.0), (640.0, 36.0, 100.0)]
    y = np.stack([_line_counts([t]) for t in truths])
    sw = 1.0 / (0.01 * y + 1e-3)
    start = np.array([[200.0, 650.3, 19.7], [30.0, 695.0, 16.0], [80.0, 645.0, 25.0]])
    lower, upper = np.array([0.0, 590.0, 15.0]), np.array([np.inf, 720.0, 30.0])
    fitted = refine(start, lower, upper, _one_line_model, y, sw)
    for row in range(2):
        peak, fwhm, amplitude = truths[row]
        assert fitted[row, 1] == pytest.approx(peak, abs=1e-3)
        assert fitted[row, 2] == pytest.approx(fwhm, abs=1e-3)
        assert fitted[row, 0] == pytest.approx(amplitude, rel=1e-5)
    assert fitted[2, 2] == 30.0 and fitted[2, 1] == pytest.approx(640.0, abs=2.0)


def _fixed_width_lines(theta: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lines of FWHM 20 nm; theta per row: (uW/cm2, peak nm) per line."""
    model, jac = 0.0, []
    for k in range(0, theta.shape[1], 2):
        part, d = _one_line_model(np.column_stack([theta[:, k], theta[:, k + 1], np.full(len(theta), 20.0)]), rows)
        model, jac = model + part, [*jac, d[:, :, :2]]
    return model, np.concatenate(jac, axis=2)


def test_refinement_moves_a_line_that_starts_at_zero():
    # 630 nm (60 uW/cm2) + 665 nm (120 uW/cm2), FWHM 20 nm each; the start has the 630 nm line at 0 and 15 nm away.
    # At 0 its peak has no effect on the counts, so a plain gradient step cannot move it: the fit must still bring
    # the line back and describe the counts far better than the best single line can.
    y = _line_counts([(630.0, 20.0, 60.0), (665.0, 20.0, 120.0)])[None, :]
    sw = 1.0 / (0.01 * y + 1e-3)
    start = np.array([[0.0, 615.0, 150.0, 660.0]])
    lower, upper = np.array([0.0, 600.0, 0.0, 645.0]), np.array([np.inf, 645.0, np.inf, 690.0])
    both = refine(start, lower, upper, _fixed_width_lines, y, sw)
    one = refine(start[:, 2:], lower[2:], upper[2:], _fixed_width_lines, y, sw)

    def cost(theta: np.ndarray) -> float:
        return float(np.sum(((_fixed_width_lines(theta, np.array([0]))[0] - y) * sw) ** 2))

    assert both[0, 0] > 10.0
    assert cost(both) < 0.01 * cost(one)


def test_basic_counts_scale_with_gain_and_time_in_a_batch():
    # One 660 nm line, 300 uW/cm2 at the sensor, read at three (gain, t_int) settings in one batch: raw counts =
    # basic x gain ratio x t_int (basic counts through the model's table, its out-of-band part at the production
    # average: CAL.table). All three rows must give the same irradiance (the per-row scale is applied).
    basic = _line_counts([(660.0, 20.0, 300.0)], CAL.table)
    settings = [(4, 50.0), (16, 100.0), (64, 25.0)]
    counts = [basic * gain_ratio(g) * t + 1.5 for g, t in settings]
    results = estimate_many(counts, [g for g, _ in settings], [t for _, t in settings], CAL)
    for result in results:
        assert result.red_irradiance_mw_cm2 == pytest.approx(300.0 / 1000 / CAL.transmission, rel=1e-3)
        assert result.red_peak_nm == pytest.approx(660.0, abs=0.05)


def test_a_batch_refuses_a_bad_integration_time_naming_the_row():
    with pytest.raises(ValueError, match=r"integration time must be > 0 ms, got 0.0 \(row 1\)"):
        estimate_many([[10.0] * 10, [10.0] * 10], [4, 4], [50.0, 0.0], CAL)


def test_a_deriver_fits_a_runs_rows_together_as_it_fits_them_one_by_one():
    # A run's rows as the re-analysis sees them: a 660 nm wrap at 30 mW/cm2 behind T = 0.01 and the same wrap behind
    # T = 0.05 (no calibration: each row's own attenuator), with the run's dark baseline. Fitted together, every row
    # gets what it gets alone, and the stated irradiance at the surface.
    from rig.spectrum.derive import make_deriver

    rows = []
    for transmission in (0.01, 0.05, 0.01):
        reading = read([(660.0, 20.0, 30.0)], seed=len(rows), transmission=transmission)
        rows.append({**dict(zip(DEFAULT_CHIP.channels, reading.counts, strict=True)), "gain_x": reading.gain_x,
                     "t_int_ms": reading.t_int_ms, "saturated": False, "transmission": transmission})
    dark = dict.fromkeys(DEFAULT_CHIP.channels, 1.5)
    derive = make_deriver()
    together = derive.many(rows, dark)
    for row, values in zip(rows, together, strict=True):
        alone = derive(row, dark)
        assert values == alone
        assert within(values["irradiance_mw_cm2"], 30.0, values["irradiance_u_mw_cm2"])
        assert values["flags"].endswith("uncalibrated")
