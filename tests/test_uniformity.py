"""Uniformity across the wrap: four sensors behind the emulated TCA9548A, or one sensor moved by hand."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from conftest import rig_cli

PROFILE = """
maker = "Grid"
model = "Pad"
[[modes]]
name = "red"
[modes.claims]
red_peak_nm = 660.0
min_uniformity_ratio = 0.7
"""

SEQUENCE = """
[[phases]]
kind = "dark"
duration_s = 3.0
interval_s = 1.0
[[phases]]
kind = "on"
[[phases]]
kind = "measure"
duration_s = 10.0
interval_s = 1.0
[[phases]]
kind = "uniformity"
duration_s = 5.0
interval_s = 1.0
[[phases]]
kind = "off"
"""

# two LED strings: the left one lights positions a and b, the right one c and d (15 % crosstalk each way)
WRAP = """
droop_fraction = 0.0
[[strings]]
name = "left"
peak_nm = 660.0
fwhm_nm = 20.0
irradiance_mw_cm2 = 30.0
[[strings]]
name = "right"
peak_nm = 660.0
fwhm_nm = 20.0
irradiance_mw_cm2 = 30.0
[[modes]]
name = "red"
strings = ["left", "right"]
[[positions]]
name = "a"
weights = {{ left = 1.0, right = 0.15 }}
[[positions]]
name = "b"
weights = {{ left = 1.0, right = 0.15 }}
[[positions]]
name = "c"
weights = {{ left = 0.15, right = 1.0 }}
[[positions]]
name = "d"
weights = {{ left = 0.15, right = 1.0 }}
[faults]
dead_strings = [{dead}]
"""


def bench_toml(muxed: bool) -> str:
    lines = ['backend = "sim"']
    for index, (name, x) in enumerate(zip("abcd", (0, 50, 100, 150), strict=True)):
        lines += ["[[positions]]", f'name = "{name}"', f"x_mm = {x}.0"]
        if muxed:
            lines.append(f"mux_channel = {index}")
    return "\n".join(lines) + "\n"


def run(tmp_path, muxed: bool, dead: str = ""):
    (tmp_path / "p.toml").write_text(PROFILE)
    (tmp_path / "s.toml").write_text(SEQUENCE)
    (tmp_path / "w.toml").write_text(WRAP.format(dead=dead))
    (tmp_path / "bench.toml").write_text(bench_toml(muxed))
    done = rig_cli(["run", "--quiet", "--bench", "bench.toml", "--wrap",
                           "p.toml", "--sequence", "s.toml", "--sim-wrap", "w.toml", "--out", "results"], cwd=tmp_path)
    (run_dir,) = list((tmp_path / "results").glob("[!.]*"))
    return done, run_dir


@pytest.mark.parametrize("muxed", [True, False], ids=["four sensors behind the mux", "one sensor moved by hand"])
def test_uniform_wrap_passes_end_to_end(tmp_path, muxed):
    done, run_dir = run(tmp_path, muxed)
    assert done.returncode == 0, done.stdout + done.stderr
    samples = pd.read_csv(run_dir / "samples.csv", keep_default_na=False)
    at_positions = samples[samples.phase == "uniformity"]
    assert sorted(set(at_positions.position)) == ["a", "b", "c", "d"]
    # every position sees 30 + 0.15 x 30 = 34.5 mW/cm2
    means = at_positions.groupby("position").irradiance_mw_cm2.mean()
    # each position's sensor is its own (uncalibrated) production unit: sensitivities differ by ~10 % per channel
    assert means.to_numpy() == pytest.approx([34.5] * 4, rel=0.12)
    summary = pd.read_csv(run_dir / "summary.csv").set_index("claim")
    assert summary.loc["uniformity (min/max irradiance)", "verdict"] == "PASS"
    uniformity = json.loads((run_dir / "run.json").read_text())["facts"]["uniformity"]
    # cv includes the four uncalibrated units' sensitivity differences (a real mux bench calibrates each sensor)
    assert len(uniformity["positions"]) == 4 and uniformity["cv_pct"] < (3.0 if not muxed else 8.0)


def test_dead_string_shows_in_uniformity_and_fails_the_stated_limit(tmp_path):
    # the right string is dead: c and d get only the left string's 15 % crosstalk, 4.5 of 30 mW/cm2
    done, run_dir = run(tmp_path, muxed=True, dead='"right"')
    assert done.returncode == 1
    uniformity = json.loads((run_dir / "run.json").read_text())["facts"]["uniformity"]
    assert uniformity["min_max_ratio"] == pytest.approx(4.5 / 30.0, abs=0.03)
    summary = pd.read_csv(run_dir / "summary.csv").set_index("claim")
    assert summary.loc["uniformity (min/max irradiance)", "verdict"] == "FAIL"
    from rig.report import build_report

    html = build_report(run_dir).read_text()
    assert 'id="positions"' in html and "uniformity (min/max irradiance)" in html
