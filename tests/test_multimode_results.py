"""The results of a run of several modes, read back: `rig report` (HTML and --pdf), `rig compare` (one line per
run and mode, older one-mode runs too) and `load_runs`, each against the truth of the simulated wrap stated here."""

from __future__ import annotations

import csv
import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
from conftest import rig_cli
from support.multimode import STEADY, mode_sequence, red_nir_profile, red_nir_wrap, run_all_modes

# The truth: a red string (660 nm, 30 mW/cm2) lit in mode 'red', a NIR string (850 nm, 20 mW/cm2) lit in mode
# 'nir'. The maker claims 30 and 20 mW/cm2 (+/- 40 %): both modes meet their irradiance claims.
HONEST_NIR_MW_CM2 = 20.0
WEAK_NIR_MW_CM2 = 6.0  # a wrap whose NIR mode gives 6 mW/cm2 against the claimed 12-28: FAILs in that mode only

SEQUENCE = mode_sequence("two modes")


def _run(folder: Path, unit: str, nir_mw_cm2: float, results: Path) -> Path:
    folder.mkdir(parents=True)
    done, run_dir = run_all_modes(folder, results, red_nir_profile("Duo", unit, 30.0, HONEST_NIR_MW_CM2), SEQUENCE,
                                  red_nir_wrap("two-mode wrap", 30.0, nir_mw_cm2, **STEADY))
    assert done.returncode in (0, 1), done.stdout + done.stderr
    return run_dir


def _old_one_mode_copy(run: Path, to: Path) -> Path:
    """What a run made before `--mode all` looks like: one mode's rows, no mode column, run.json's mode."""
    shutil.copytree(run, to)
    with open(to / "summary.csv", newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r["mode"] == "red"]
    for row in rows:
        del row["mode"]
    with open(to / "summary.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    manifest = json.loads((to / "run.json").read_text())
    for key in ("modes", "verdict"):
        manifest.pop(key)
    manifest.update(mode="red", run_id="20261101-090000_modeco-duo-old")
    (to / "run.json").write_text(json.dumps(manifest))
    return to


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("modes")
    results = base / "results"
    honest = _run(base / "honest", "H1", HONEST_NIR_MW_CM2, results)
    weak = _run(base / "weak", "W1", WEAK_NIR_MW_CM2, results)
    old = _old_one_mode_copy(honest, base / "old" / "old-run")
    return {"honest": honest, "weak": weak, "old": old, "results": results, "base": base}


def _text(page: Path) -> str:
    text = re.sub(r"<img[^>]*>|<style>.*?</style>", " ", page.read_text(), flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", text))


def test_report_of_two_modes_gives_the_wrap_verdict_then_each_mode(runs, tmp_path):
    done = rig_cli(["report", runs["honest"], "--out", tmp_path / "report"])
    assert done.returncode == 0, done.stderr
    text = _text(tmp_path / "report" / "report.html")
    manifest = json.loads((runs["honest"] / "run.json").read_text())
    assert manifest["verdict"] in ("PASS", "MARGINAL")  # both modes meet their irradiance claims (truth above)
    overall = re.search(r"id=overall[^>]*>([A-Z ]+)<", (tmp_path / "report" / "report.html").read_text())
    assert overall and overall.group(1) == manifest["verdict"]
    red, nir = text.index("Mode 1: 'red'"), text.index("Mode 2: 'nir'")
    whole = text.index("The whole run")
    assert red < nir < whole
    red_part, nir_part = text[red:nir], text[nir:whole]
    assert "red peak wavelength" in red_part and "NIR peak" not in red_part
    assert "NIR peak wavelength" in nir_part and "red peak" not in nir_part
    assert "claimed 18–42 mW/cm2" in red_part and "claimed 12–28 mW/cm2" in nir_part  # each mode its own band
    assert "Measured behaviour, mode 'red'" in red_part and "Measured behaviour, mode 'nir'" in nir_part
    for mode in ("red", "nir"):
        assert (tmp_path / "report" / f"spectrum-{mode}.png").stat().st_size > 0
    assert "id=\"timeline\"" in (tmp_path / "report" / "report.html").read_text()


def test_the_timeline_marks_each_mode_and_judges_each_measure_phase_on_its_own_band(runs):
    from rig.reporting.plots import timeline_figure
    from rig.results.read import read_summary

    samples = pd.read_csv(runs["honest"] / "samples.csv")
    figure = timeline_figure(samples, read_summary(runs["honest"] / "summary.csv"), 48.0)
    top = figure.axes[0]
    starts = [line.get_xdata()[0] for line in top.get_lines() if line.get_gid() == "mode-start"]
    assert starts == [samples[samples["mode"] == m].t_s.iloc[0] for m in ("red", "nir")]
    labels = [t.get_text() for t in top.texts if t.get_gid() == "mode-label"]
    assert labels == [" mode 1: 'red'", " mode 2: 'nir'"]
    limits = sorted({round(float(y), 3) for c in top.collections if c.get_gid() == "claim-limit"
                     for y in c.get_segments()[0][:, 1]})
    assert limits == [12.0, 18.0, 28.0, 42.0]  # 30 and 20 mW/cm2 +/- 40 %, each over its own mode


def test_the_certificate_has_each_modes_verdicts(runs):
    from rig.reporting.certificate import certificate_figure

    texts = [t.get_text() for t in certificate_figure(runs["weak"]).texts]
    assert "mode" in texts and "red" in texts and "nir" in texts  # the mode column
    assert texts.count("NIR peak wavelength") == 1 and texts.count("irradiance at contact") == 2
    overall = next(t for t in certificate_figure(runs["weak"]).texts if t.get_gid() == "overall")
    assert overall.get_text().strip() == "FAIL"


def test_compare_has_a_line_per_run_and_mode_and_one_for_an_old_run(runs, tmp_path):
    out = tmp_path / "c.csv"
    done = rig_cli(["compare", runs["results"], runs["old"], "--csv", out])
    assert done.returncode == 0, done.stderr
    table = pd.read_csv(out)
    lines = list(zip(table.run_id, table["mode"], strict=True))
    honest, weak = runs["honest"].name, runs["weak"].name
    assert sorted(lines) == sorted([(honest, "red"), (honest, "nir"), (weak, "red"), (weak, "nir"),
                                    ("20261101-090000_modeco-duo-old", "red")])
    assert "20261101-090000_modeco-duo-old" in done.stdout or "11-01 09:00" in done.stdout
    body = [line for line in done.stdout.splitlines() if re.search(r"\b(red|nir)\b", line)
            and ("✓" in line or "~" in line or "✗" in line)]
    assert len(body) == 5


def test_compare_shows_fail_in_the_failing_modes_line_only(runs, tmp_path):
    out = tmp_path / "c.csv"
    done = rig_cli(["compare", runs["weak"], "--csv", out])
    table = pd.read_csv(out).set_index("mode")
    assert table.loc["nir", "verdict"] == "FAIL"  # 6 mW/cm2 against 12-28
    assert table.loc["nir", "irradiance_mw_cm2_verdict"] == "FAIL"
    assert table.loc["red", "verdict"] != "FAIL"
    lines = {m: next(line for line in done.stdout.splitlines() if re.search(rf"\s{m}\s", line))
             for m in ("red", "nir")}
    assert "FAIL" in lines["nir"] and "✗" in lines["nir"]
    assert "FAIL" not in lines["red"] and "✗" not in lines["red"]


def test_load_runs_gives_every_summary_row_its_mode(runs):
    from rig.results.load import load_runs

    loaded = load_runs([runs["honest"], runs["old"]])
    by_run = loaded.runs.set_index("run_id")
    assert by_run.loc[runs["honest"].name, "modes"] == ["red", "nir"]
    assert by_run.loc["20261101-090000_modeco-duo-old", "modes"] == ["red"]
    assert by_run.loc["20261101-090000_modeco-duo-old", "verdict"] in ("PASS", "MARGINAL")  # filled from its claims
    modes = loaded.summaries.groupby("run_id")["mode"].agg(lambda m: sorted(set(m)))
    assert modes[runs["honest"].name] == ["nir", "red"] and modes["20261101-090000_modeco-duo-old"] == ["red"]
    nir = loaded.summaries[(loaded.summaries["mode"] == "nir") & (loaded.summaries.claim_id == "irradiance_mw_cm2")]
    assert abs(float(nir.measured.iloc[0]) - HONEST_NIR_MW_CM2) < 0.3 * HONEST_NIR_MW_CM2  # uncalibrated
