"""Comparing runs and reporting them: verdicts the test states, mixing refused, HTML with loadable images."""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
from pathlib import Path

import matplotlib.image
import pytest

from rig.analysis import make_deriver
from rig.compare import check_mixing, compare_table, terminal_view, trend
from rig.config import load_bench_config
from rig.errors import RigError
from rig.load import load_runs
from rig.profile import Claims, ModeProfile, WrapProfile
from rig.report import build_report
from rig.run import run_sequence
from rig.sequence import Phase, Sequence
from rig.sim.backend import build_sim_bench
from rig.sim.wrap import LedString, WrapMode, WrapSpec

SEQUENCE = Sequence(name="short", phases=[
    Phase("dark", 3.0, 1.0), Phase("on"), Phase("warmup", 10.0, 2.0), Phase("measure", 10.0, 1.0), Phase("off"),
]).validate()


def profile(unit: str) -> WrapProfile:
    # the maker claims 660 nm at 40 mW/cm2 (+/- 20 %) for every unit
    claims = Claims(red_peak_nm=660.0, irradiance_mw_cm2=40.0)
    return WrapProfile(maker="Acme", model="Belt", unit=unit, modes=[ModeProfile("red", 0, claims)]).validate()


def wrap(peak_nm: float, mw_cm2: float) -> WrapSpec:
    return WrapSpec(strings=[LedString("red", peak_nm, 20.0, mw_cm2)], modes=[WrapMode("red", ["red"])],
                    droop_fraction=0.0)


def run(tmp: Path, unit: str, spec: WrapSpec, seed: int = 0) -> Path:
    config = load_bench_config(backend="sim")
    result = run_sequence(profile(unit), SEQUENCE, lambda: build_sim_bench(config, spec, seed=seed), tmp,
                          derive=make_deriver())
    assert result.outcome == "COMPLETED", result.reason
    return result.run_dir


@pytest.fixture(scope="module")
def three_runs(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("results")
    run(base, "honest", wrap(660.0, 40.0))            # does what it claims
    run(base, "weak", wrap(660.0, 24.0))              # 60 % of the claimed irradiance
    run(base, "relabelled", wrap(630.0, 40.0))        # a 630 nm string sold as 660 nm
    return base


def test_compare_gives_the_stated_verdicts(three_runs):
    table = compare_table(load_runs([three_runs])).set_index("unit")
    # uncalibrated production units: an honest wrap's intervals may straddle a limit (MARGINAL), never FAIL
    assert table.loc["honest", "irradiance at contact verdict"] in ("PASS", "MARGINAL")
    assert table.loc["honest", "red peak wavelength verdict"] in ("PASS", "MARGINAL")
    assert table.loc["honest", "irradiance at contact"] == pytest.approx(40.0, rel=0.15)
    assert table.loc["weak", "irradiance at contact verdict"] == "FAIL"
    assert table.loc["weak", "irradiance at contact"] == pytest.approx(24.0, rel=0.1)
    assert table.loc["relabelled", "red peak wavelength verdict"] == "FAIL"
    assert table.loc["relabelled", "red peak wavelength"] == pytest.approx(630.0, abs=3.0)
    grouped = compare_table(load_runs([three_runs]), by="wrap")
    assert grouped.runs.tolist() == [3]
    # the terminal view folds each claim into one cell: value ± u and the verdicts
    folded = terminal_view(grouped)
    cell = folded["irradiance at contact"].iloc[0]
    others = {"2 PASS", "2 MARGINAL"} if "1 PASS" not in cell else {"1 MARGINAL"}  # uncalibrated: PASS or MARGINAL
    assert "1 FAIL" in cell and any(o in cell for o in others)


def test_mixing_simulated_and_real_runs_is_refused(three_runs, tmp_path):
    real = tmp_path / "real-run"
    shutil.copytree(next(three_runs.glob("[!.]*")), real)
    manifest = json.loads((real / "run.json").read_text())
    manifest.update(backend="real", run_id="real-run")
    (real / "run.json").write_text(json.dumps(manifest))
    loaded = load_runs([three_runs, real])
    with pytest.raises(RigError, match="simulated and real"):
        check_mixing(loaded, allow_mixed=False)
    check_mixing(loaded, allow_mixed=True)


def test_a_run_cut_short_loads_and_is_marked_incomplete(three_runs, tmp_path):
    crashed = tmp_path / "crashed"
    shutil.copytree(next(three_runs.glob("[!.]*")), crashed)
    (crashed / "summary.csv").unlink()
    manifest = json.loads((crashed / "run.json").read_text())
    manifest.update(outcome="RUNNING", run_id="crashed")
    (crashed / "run.json").write_text(json.dumps(manifest))
    lines = (crashed / "samples.csv").read_text().splitlines()
    (crashed / "samples.csv").write_text("\n".join(lines[:8]) + "\n" + lines[8][:10])  # a torn last line
    loaded = load_runs([crashed])
    assert loaded.runs.complete.tolist() == [False]
    assert check_mixing(loaded, allow_mixed=False)[0].count("incomplete") == 1
    assert len(loaded.samples()) >= 7


def test_trend_reports_change_per_month(three_runs):
    frame = trend(load_runs([three_runs]))
    assert set(frame.claim) >= {"irradiance at contact", "red peak wavelength"}


def test_html_report_has_the_verdict_table_and_images_that_load(three_runs, tmp_path):
    runs = sorted(three_runs.glob("[!.]*"))
    report = build_report(runs[0], runs[1:], tmp_path / "report")
    text = report.read_text()
    assert "<h2>Verdicts</h2>" in text and "irradiance at contact" in text and ">PASS<" in text
    assert "Compared runs" in text
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', text)
    assert len(images) == 3
    for encoded in images:
        pixels = matplotlib.image.imread(io.BytesIO(base64.b64decode(encoded)), format="png")
        assert pixels.shape[0] > 100 and pixels.shape[1] > 100
    assert not re.search(r'src="(?!data:)', text)  # self-contained: no external files
