"""Time of a whole-wrap test: the shipped standard sequence over a simulated 3-mode wrap (red, NIR, pulsed 10 Hz)."""

import json
import time
from importlib.resources import files
from pathlib import Path

from conftest import rig_cli
from support.multimode import red_nir_wrap
from support.texts import profile_mode, settings, wrap_mode

# red 660 nm and NIR 850 nm at 30 mW/cm2 each, a mode for each and 'pulse10' lighting both at 10 Hz, 50 % duty
SIM_WRAP = red_nir_wrap("three-mode wrap", 30.0, 30.0, auto_off_s=900.0) + wrap_mode(
    "pulse10", ["red", "nir"], pulse_hz=10.0, duty=0.5)

PROFILE = ("\n" + settings(maker="Bench", model="Tri")
           + profile_mode("red", red_peak_nm=660.0, irradiance_mw_cm2=30.0)
           + profile_mode("nir", 1, nir_peak_nm=850.0, irradiance_mw_cm2=30.0)
           + profile_mode("pulse10", 2, pulse_hz=10.0))


def test_a_three_mode_standard_test_takes_seconds(tmp_path: Path):
    (tmp_path / "w.toml").write_text(SIM_WRAP)
    (tmp_path / "p.toml").write_text(PROFILE)
    sequence = files("rig") / "data" / "example_sequence.toml"
    start = time.perf_counter()
    result = rig_cli(["run", "--sim", "--quiet", "--mode", "all", "--out", tmp_path / "results", "--wrap",
                      tmp_path / "p.toml", "--sim-wrap", tmp_path / "w.toml", "--sequence", sequence], cwd=tmp_path)
    wall_s = time.perf_counter() - start
    run_dir = next((tmp_path / "results").glob("*/run.json")).parent
    manifest = json.loads((run_dir / "run.json").read_text())
    simulated_s = max(float(line.split(",", 1)[0]) for line in
                      (run_dir / "samples.csv").read_text().splitlines()[1:])
    print(f"\n3-mode standard test (shipped sequence, {manifest['rows']} samples, {simulated_s / 60:.0f} simulated "
          f"minutes with the cool-downs between modes): {wall_s:.1f} s wall, {simulated_s / wall_s:,.0f}x real time")
    assert result.returncode in (0, 1), result.stderr
    assert [m["name"] for m in manifest["modes"]] == ["red", "nir", "pulse10"]
    assert all(m["outcome"] == "COMPLETED" for m in manifest["modes"])
