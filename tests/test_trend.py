"""The trend's change per month against a stated slope: an LED wrap that loses 1.5 mW/cm2 every 30 days."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from rig.reporting.compare import trend
from rig.results.load import load_runs

SLOPE_PER_30_DAYS = -1.5  # mW/cm2, the stated ageing
START_MW_CM2 = 50.0
COLUMNS = ["claim_id", "claim", "unit", "claimed", "tolerance", "low", "high", "measured", "uncertainty",
           "verdict", "note"]


def _run(base: Path, index: int, when: datetime, irradiance: float) -> None:
    folder = base / f"run{index}"
    folder.mkdir(parents=True)
    manifest = {"run_id": f"run{index}", "start_time": when.isoformat(), "end_time": when.isoformat(),
                "outcome": "COMPLETED", "reason": "all phases ran", "backend": "real", "mode": "red",
                "calibration_id": "cal-1", "calibration": {"calibrated": True},
                "profile": {"as_used": {"maker": "Agey", "model": "Belt", "unit": "U7"}}}
    (folder / "run.json").write_text(json.dumps(manifest))
    with (folder / "summary.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        writer.writerow(["irradiance_mw_cm2", "irradiance at contact", "mW/cm2", 50, "±20 %", 40, 60, irradiance,
                         2.0, "PASS", ""])


def test_change_per_month_is_the_stated_slope(tmp_path):
    start = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    days = [0, 11, 30, 47, 90, 121]  # irregular, as runs are
    for index, day in enumerate(days):
        _run(tmp_path, index, start + timedelta(days=day), START_MW_CM2 + SLOPE_PER_30_DAYS * day / 30.0)
    table = trend(load_runs([tmp_path]))
    row = table[table.claim_id == "irradiance_mw_cm2"].iloc[0]
    assert row.runs == len(days) and row.unit == "U7"
    assert row.change_per_month == pytest.approx(SLOPE_PER_30_DAYS, abs=1e-9)
    assert row.change_per_month_pct == pytest.approx(SLOPE_PER_30_DAYS / START_MW_CM2 * 100.0, abs=1e-7)
    assert row.first_value == pytest.approx(START_MW_CM2)
    assert row.last_value == pytest.approx(START_MW_CM2 + SLOPE_PER_30_DAYS * days[-1] / 30.0)


def test_runs_within_one_day_give_no_change_per_month(tmp_path):
    start = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    for index, hours in enumerate([0, 3, 7]):
        _run(tmp_path, index, start + timedelta(hours=hours), START_MW_CM2 - index)
    row = trend(load_runs([tmp_path])).iloc[0]
    assert row.change_per_month != row.change_per_month  # NaN: too little time for a trend
