"""Every mode of a wrap in one run (`rig run --mode all`): each mode judged on its own light, against the truth
each test states; a dead mode fails alone; an interrupted run keeps the modes it finished."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
from conftest import rig_cli
from support.multimode import STEADY, mode_sequence, red_nir_profile, red_nir_wrap, run_all_modes
from support.texts import phase, profile_mode, wrap_mode, write_run_files

RIG = [sys.executable, "-m", "rig.cli"]

# The truth: a red string (660 nm, 30 mW/cm2) and a NIR string (850 nm, 30 mW/cm2); mode 'red' lights the red
# string, 'nir' the NIR string, 'pulse10' the red string pulsed at 10 Hz with a 50 % duty (15 mW/cm2 on average).
SIM_WRAP = red_nir_wrap("three-mode wrap", 30.0, 30.0, **STEADY) + wrap_mode("pulse10", ["red"], pulse_hz=10.0,
                                                                           duty=0.5)

PROFILE = red_nir_profile("Tri", "M1", 30.0, 30.0) + profile_mode("pulse10", 2, pulse_hz=10.0, duty_pct=50.0,
                                                                 duty_tolerance_pct=10.0)

SEQUENCE = mode_sequence("three modes", phase("pulse", duration_s=2.0, modes=["pulse10"]))


def _files(tmp_path: Path) -> list[str]:
    return write_run_files(tmp_path, PROFILE, SEQUENCE, SIM_WRAP)


def _run(tmp_path: Path, sim_wrap: str = SIM_WRAP, *extra: str):
    result, run_dir = run_all_modes(tmp_path, tmp_path / "results", PROFILE, SEQUENCE, sim_wrap, *extra)
    return result, run_dir, json.loads((run_dir / "run.json").read_text()), pd.read_csv(run_dir / "summary.csv")


def _measured(summary: pd.DataFrame, mode: str, claim_id: str) -> pd.Series:
    rows = summary[(summary["mode"] == mode) & (summary["claim_id"] == claim_id)]
    assert len(rows) == 1, (mode, claim_id, summary)
    return rows.iloc[0]


def test_three_modes_judged_in_one_run_each_on_its_own_light(tmp_path):
    result, run_dir, manifest, summary = _run(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert [m["name"] for m in manifest["modes"]] == ["red", "nir", "pulse10"]
    assert all(m["outcome"] == "COMPLETED" and not m["notes"] for m in manifest["modes"])
    assert set(summary["mode"]) == {"red", "nir", "pulse10"}
    assert "FAIL" not in set(summary["verdict"])
    red = _measured(summary, "red", "red_peak_nm")
    assert abs(red.measured - 660.0) < 8.0 and red.verdict in ("PASS", "MARGINAL")
    nir = _measured(summary, "nir", "nir_peak_nm")
    assert abs(nir.measured - 850.0) <= 30.0
    for mode in ("red", "nir"):  # 30 mW/cm2 each, uncalibrated
        assert abs(_measured(summary, mode, "irradiance_mw_cm2").measured - 30.0) < 0.3 * 30.0
    pulse = _measured(summary, "pulse10", "pulse_hz")
    assert abs(pulse.measured - 10.0) < 0.5 and pulse.verdict == "PASS"
    samples = pd.read_csv(run_dir / "samples.csv")
    order = list(dict.fromkeys(samples["mode"].dropna()))
    assert order == ["red", "nir", "pulse10"]
    for mode in order:  # each mode starts with its own dark baseline, wrap off
        first = samples[samples["mode"] == mode].iloc[0]
        assert first["phase_kind"] == "dark" and first["wrap_on"] == 0
    # the 'red' mode sees no NIR light and 'nir' no red: each judged on its own light, not the previous mode's
    red_measure = samples[(samples["mode"] == "red") & (samples["phase_kind"] == "measure")]
    nir_measure = samples[(samples["mode"] == "nir") & (samples["phase_kind"] == "measure")]
    assert red_measure["nir_irradiance_mw_cm2"].median() < 0.2 * red_measure["red_irradiance_mw_cm2"].median()
    assert nir_measure["red_irradiance_mw_cm2"].median() < 0.2 * nir_measure["nir_irradiance_mw_cm2"].median()
    assert "pulse" not in set(samples[samples["mode"] != "pulse10"]["phase_kind"])
    assert any("cool-down before mode 'nir'" in e for e in manifest["events"])
    assert manifest["verdict"] in ("PASS", "MARGINAL") and manifest["outcome"] == "COMPLETED"
    assert "wrap verdict" in result.stdout and "mode 'pulse10'" in result.stdout


def test_a_mode_whose_strings_are_dead_fails_alone(tmp_path):
    dead = SIM_WRAP + '[faults]\ndead_strings = ["nir"]\n'
    result, _, manifest, summary = _run(tmp_path, dead)
    assert result.returncode == 1  # a claim FAILed
    failed_modes = set(summary[summary["verdict"] == "FAIL"]["mode"])
    assert failed_modes == {"nir"}
    nir = next(m for m in manifest["modes"] if m["name"] == "nir")
    assert any("did not start" in note for note in nir["notes"])
    assert manifest["verdict"] == "FAIL"


def test_an_interrupted_multimode_run_keeps_the_modes_it_finished(tmp_path):
    process = subprocess.Popen([*RIG, "run", "--sim", "--quiet", "--mode", "all", "--sim-pace", "40", "--out",
                                str(tmp_path / "results"), *_files(tmp_path)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        runs = list((tmp_path / "results").glob("*/samples.csv"))
        if runs and ",nir," in runs[0].read_text():
            break
        time.sleep(0.05)
    else:
        process.kill()
        raise AssertionError("the run never reached mode 'nir'")
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=60)
    assert process.returncode == 3
    run_dir = runs[0].parent
    manifest = json.loads((run_dir / "run.json").read_text())
    assert manifest["outcome"] == "ABORTED" and manifest["wrap_left_on"] is False
    assert [(m["name"], m["outcome"]) for m in manifest["modes"]] == [
        ("red", "COMPLETED"), ("nir", "ABORTED"), ("pulse10", "NOT RUN")]
    summary = pd.read_csv(run_dir / "summary.csv")
    red = _measured(summary, "red", "red_peak_nm")
    assert red.verdict in ("PASS", "MARGINAL") and abs(red.measured - 660.0) < 8.0  # kept, judged
    assert set(summary[summary["mode"] == "pulse10"]["verdict"]) == {"NOT MEASURED"}


def test_a_phase_for_an_unknown_mode_is_refused_naming_the_file(tmp_path):
    args = _files(tmp_path)
    (tmp_path / "s.toml").write_text(SEQUENCE.replace('modes = ["pulse10"]', 'modes = ["pulse40"]'))
    result = rig_cli(["run", "--sim", "--quiet", "--out", tmp_path / "results", *args], cwd=tmp_path)
    assert result.returncode == 2 and "s.toml" in result.stderr and "pulse40" in result.stderr


def test_a_bad_phase_names_its_mode(tmp_path):
    (tmp_path / "s.toml").write_text(SEQUENCE.replace("duration_s = 2.0\nmodes", "duration_s = 60.0\nmodes"))
    from rig.errors import ConfigError
    from rig.sequence import load_sequence

    try:
        load_sequence(tmp_path / "s.toml")
    except ConfigError as error:
        assert "phases[4]" in str(error) and "mode 'pulse10'" in str(error)
    else:
        raise AssertionError("a 60 s pulse capture was accepted")


def test_the_shipped_multiline_example_tests_both_modes(tmp_path):
    (tmp_path / "short.toml").write_text(SEQUENCE.replace('modes = ["pulse10"]\n', "").replace(
        'kind = "pulse"\nduration_s = 2.0\n', 'kind = "measure"\nduration_s = 2.0\n'))
    result = rig_cli(["run", "--sim", "--quiet", "--out", tmp_path / "results", "--wrap",
                      Path(__file__).parents[1] / "rig/data/example_multiline_profile.toml", "--sequence",
                      tmp_path / "short.toml"], cwd=tmp_path)
    assert result.returncode in (0, 1), result.stderr
    summary = pd.read_csv(next((tmp_path / "results").glob("*/summary.csv")))
    assert set(summary["mode"]) == {"red+nir", "red+far-red"}
