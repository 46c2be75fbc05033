"""`rig analyze`: a counts CSV from elsewhere, and a run folder re-analysed."""

from __future__ import annotations

import sys

import pandas as pd
import pytest
from conftest import rig_cli

from rig.clock import SimClock
from rig.config import SpectralConfig
from rig.hardware.spectral import SpectralSensor
from rig.sim.as7341 import AS7341Emulator, install_sim_clock
from rig.sim.bus import SimBus
from rig.sim.optics import FixedLight, SpectralLine

RIG = [sys.executable, "-m", "rig.cli"]


def test_counts_csv_gets_peaks_and_irradiance(tmp_path):
    # three readings of a 645 nm LED at 0.2 mW/cm2 at the sensor (no attenuator: transmission 1)
    clock, bus = SimClock(), SimBus()
    bus.attach(0x39, AS7341Emulator(clock, FixedLight([SpectralLine(645.0, 20.0, 200.0)]), seed=5))
    with install_sim_clock(clock):
        sensor = SpectralSensor(bus.busio(), SpectralConfig(), clock, "none", 1.0)
        rows = [sensor.read().as_dict() for _ in range(3)]
    counts = tmp_path / "counts.csv"
    pd.DataFrame(rows)[["F1", "F2", "F3", "F4", "F5", "F6", "F7", "F8", "Clear", "NIR", "gain_x", "t_int_ms"]] \
        .to_csv(counts, index=False)
    out = tmp_path / "out.csv"
    result = rig_cli(["analyze", str(counts), "--out", str(out)])
    assert result.returncode == 0, result.stderr
    analysed = pd.read_csv(out)
    assert len(analysed) == 3
    assert ((analysed.red_peak_nm - 645.0).abs() <= analysed.red_peak_u_nm).all()
    # 200 uW/cm2 = 0.2 mW/cm2 (dark counts of ~1.5 are not subtracted here: negligible at this level)
    assert ((analysed.irradiance_mw_cm2 - 0.2).abs() <= analysed.irradiance_u_mw_cm2).all()
    assert analysed["flags"].str.contains("uncalibrated").all()


def test_counts_csv_missing_a_column_names_it(tmp_path):
    counts = tmp_path / "counts.csv"
    counts.write_text("F1,F2,F3,F4,F5,F6,F7,F8,Clear,gain_x,t_int_ms\n1,1,1,1,1,1,1,1,1,64,50\n")
    result = rig_cli(["analyze", str(counts)])
    assert result.returncode == 2 and "NIR" in result.stderr and str(counts) in result.stderr


@pytest.mark.parametrize("bad", ["abc"])
def test_counts_csv_with_a_non_number_names_line_and_column(tmp_path, bad):
    counts = tmp_path / "counts.csv"
    counts.write_text(f"F1,F2,F3,F4,F5,F6,F7,F8,Clear,NIR,gain_x,t_int_ms\n1,1,1,1,1,1,1,1,1,1,64,50\n"
                      f"1,1,1,1,1,1,{bad},1,1,1,64,50\n")
    result = rig_cli(["analyze", str(counts)])
    assert result.returncode == 2 and "line 3, column 'F7'" in result.stderr


def test_run_folder_reanalysis_reproduces_the_verdicts_without_touching_the_run(tmp_path):
    from support.faultsuite import SEQUENCE  # a short sequence with every phase kind a verdict needs

    (tmp_path / "short.toml").write_text(SEQUENCE)
    run = rig_cli(["run", "--sim", "--quiet", "--sequence", "short.toml", "--out", str(tmp_path / "results")],
                  cwd=tmp_path)
    assert run.returncode in (0, 1), run.stderr
    (run_dir,) = list((tmp_path / "results").glob("[!.]*"))
    original = (run_dir / "samples.csv").read_bytes()
    out = tmp_path / "again"
    from importlib.resources import files

    profile = str(files("rig") / "data" / "example_profile.toml")
    result = rig_cli(["analyze", str(run_dir), "--wrap", profile, "--out", str(out)])
    assert result.returncode in (0, 1), result.stderr
    before = pd.read_csv(run_dir / "summary.csv").set_index("claim")
    after = pd.read_csv(out / "summary.csv").set_index("claim")
    assert list(after.verdict) == list(before.verdict)
    assert after.measured.to_numpy() == pytest.approx(before.measured.to_numpy(), rel=1e-3, nan_ok=True)
    assert (run_dir / "samples.csv").read_bytes() == original


def test_long_analyses_report_progress_chunk_by_chunk(tmp_path, monkeypatch):
    # a long counts CSV is estimated in chunks of distinct readings, each reported (rows done, rows in all) for the
    # progress bar: five readings (F1 differs), two per chunk
    import rig.reanalyze
    from rig.spectrum.derive import nominal_calibration

    monkeypatch.setattr(rig.reanalyze, "CHUNK_ROWS", 2)
    path = tmp_path / "counts.csv"
    path.write_text("F1,F2,F3,F4,F5,F6,F7,F8,Clear,NIR,gain_x,t_int_ms\n"
                    + "".join(f"{40 + n},60,90,150,260,700,9000,6500,21000,2600,4,50\n" for n in range(5)))
    seen = []
    result = rig.reanalyze.analyze_counts_file(path, tmp_path / "out.csv", nominal_calibration(0.01),
                                               lambda *done: seen.append(done))
    assert seen == [(2, 5), (4, 5), (5, 5)] and result.rows == 5


def test_a_counts_csv_analysed_in_chunks_and_processes_gives_the_same_file_as_in_one_go(tmp_path):
    # seven readings of a 660 nm LED at rising levels, two of them repeated (identical rows are estimated once per
    # chunk): read three rows at a time on two worker processes, the file must be the one read whole in one process
    import rig.reanalyze
    from rig.spectrum.derive import nominal_calibration

    path = tmp_path / "counts.csv"
    base = (40, 60, 90, 150, 260, 700, 9000, 6500, 21000, 2600)  # every channel scales with the LED's level
    rows = [",".join(str(round(c * (1 + 0.06 * n))) for c in base) + ",4,50" for n in range(5)]
    path.write_text("F1,F2,F3,F4,F5,F6,F7,F8,Clear,NIR,gain_x,t_int_ms\n" + "\n".join([*rows, rows[1], rows[3]])
                    + "\n")
    calibration = nominal_calibration(0.01)
    whole = rig.reanalyze.analyze_counts_file(path, tmp_path / "whole.csv", calibration, workers=1)
    chunked = rig.reanalyze.analyze_counts_file(path, tmp_path / "chunked.csv", calibration, read_rows=3,
                                                workers=2)
    assert whole.rows == chunked.rows == 7 and chunked.workers == 2
    assert (tmp_path / "chunked.csv").read_bytes() == (tmp_path / "whole.csv").read_bytes()
    analysed = pd.read_csv(tmp_path / "whole.csv")
    assert list(analysed.F7) == [9000, 9540, 10080, 10620, 11160, 9540, 10620]  # every row, in input order
    assert (analysed.irradiance_mw_cm2.iloc[:5].diff().dropna() > 0).all()  # more counts everywhere: more light
    assert analysed.irradiance_mw_cm2.iloc[5] == analysed.irradiance_mw_cm2.iloc[1]
    assert not list(tmp_path.glob(".*.part"))  # no temp file left
