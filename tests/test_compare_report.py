"""Comparing runs and reporting them: verdicts the test states, mixing refused, HTML with loadable images,
a terminal table that stays one line per run, CSV names that survive a spreadsheet, runs that did not finish
kept out of group statistics."""

from __future__ import annotations

import base64
import csv
import io
import json
import re
import shutil
from pathlib import Path

import matplotlib.image
import pytest
from rich.console import Console

from rig.config import load_bench_config
from rig.errors import RigError
from rig.profile import Claims, ModeProfile, WrapProfile
from rig.reporting.compare import check_mixing, compare_table, set_examples_apart, trend
from rig.reporting.compare_view import terminal_table
from rig.reporting.report import build_report
from rig.results.load import load_runs
from rig.run import run_sequence
from rig.sequence import Phase, Sequence
from rig.sim.backend import build_sim_bench
from rig.sim.wrap import LedString, WrapMode, WrapSpec
from rig.spectrum.derive import make_deriver

SEQUENCE = Sequence(name="short", phases=[
    Phase("dark", 3.0, 1.0), Phase("on"), Phase("warmup", 10.0, 2.0), Phase("measure", 10.0, 1.0), Phase("off"),
]).validate()


def profile(unit: str, model: str = "Belt") -> WrapProfile:
    # the maker claims 660 nm at 40 mW/cm2 (+/- 20 %) for every unit
    claims = Claims(red_peak_nm=660.0, irradiance_mw_cm2=40.0)
    return WrapProfile(maker="Acme", model=model, unit=unit, modes=[ModeProfile("red", 0, claims)]).validate()


def wrap(peak_nm: float, mw_cm2: float) -> WrapSpec:
    return WrapSpec(strings=[LedString("red", peak_nm, 20.0, mw_cm2)], modes=[WrapMode("red", ["red"])],
                    droop_fraction=0.0)


def run(tmp: Path, unit: str, spec: WrapSpec, seed: int = 0, model: str = "Belt") -> Path:
    config = load_bench_config(backend="sim")
    result = run_sequence(profile(unit, model), SEQUENCE, lambda: build_sim_bench(config, spec, seed=seed), tmp,
                          derive=make_deriver())
    assert result.outcome == "COMPLETED", result.reason
    return result.run_dir


def edit_manifest(run_dir: Path, **changes) -> None:
    manifest = json.loads((run_dir / "run.json").read_text())
    manifest.update(changes)
    (run_dir / "run.json").write_text(json.dumps(manifest))


@pytest.fixture(scope="module")
def three_runs(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("results")
    run(base, "honest", wrap(660.0, 40.0))            # does what it claims
    run(base, "weak", wrap(660.0, 20.0))              # half the claimed irradiance
    run(base, "relabelled", wrap(630.0, 40.0))        # a 630 nm string sold as 660 nm
    return base


def copy_runs(three_runs: Path, target: Path) -> Path:
    shutil.copytree(three_runs, target)
    return target


def test_compare_gives_the_stated_verdicts(three_runs):
    table = compare_table(load_runs([three_runs])).set_index("unit")
    # uncalibrated production units: an honest wrap's intervals may straddle a limit (MARGINAL), never FAIL
    assert table.loc["honest", "irradiance_mw_cm2_verdict"] in ("PASS", "MARGINAL")
    assert table.loc["honest", "red_peak_nm_verdict"] in ("PASS", "MARGINAL")
    assert table.loc["honest", "irradiance_mw_cm2"] == pytest.approx(40.0, rel=0.15)
    assert table.loc["honest", "verdict"] in ("PASS", "MARGINAL")
    assert table.loc["weak", "irradiance_mw_cm2_verdict"] == "FAIL"
    assert table.loc["weak", "irradiance_mw_cm2"] == pytest.approx(20.0, rel=0.1)
    assert table.loc["weak", "verdict"] == "FAIL"  # overall: the worst claim
    assert table.loc["relabelled", "red_peak_nm_verdict"] == "FAIL"
    assert table.loc["relabelled", "red_peak_nm"] == pytest.approx(630.0, abs=3.0)
    # the claimed band is there beside the measurement: 40 mW/cm2 +/- 20 %
    assert (table.irradiance_mw_cm2_low.tolist(), table.irradiance_mw_cm2_high.tolist()) == ([32.0] * 3, [48.0] * 3)
    grouped = compare_table(load_runs([three_runs]), by="wrap")
    assert grouped.runs.tolist() == [3]
    assert grouped.irradiance_mw_cm2_fail.tolist() == [1]
    assert grouped.irradiance_mw_cm2_pass.tolist()[0] + grouped.get("irradiance_mw_cm2_marginal", [0])[0] == 2


def test_csv_column_names_are_stable_and_carry_units(three_runs, tmp_path):
    from rig.reporting.compare_command import run_compare

    out = tmp_path / "table.csv"
    run_compare([str(three_runs)], csv=str(out))
    header = next(csv.reader(out.open()))
    # names a spreadsheet or pandas user can type: no spaces, "/", "±"
    assert all(re.fullmatch(r"[a-z0-9_]+", name) for name in header), header
    # every measured claim column ends in its unit, and has its uncertainty and band beside it
    for name in ("red_peak_nm", "irradiance_mw_cm2"):
        assert {name, f"{name}_u", f"{name}_low", f"{name}_high", f"{name}_claimed", f"{name}_verdict"} <= set(header)


def test_old_summaries_without_claim_id_get_the_same_ids_as_new_ones(three_runs, tmp_path):
    runs = copy_runs(three_runs, tmp_path / "runs")
    first = sorted(runs.glob("[!.]*"))[0]
    rows = list(csv.DictReader((first / "summary.csv").open()))
    ids = {"irradiance at contact": "irradiance_mw_cm2", "red peak wavelength": "red_peak_nm",
           "max surface temperature": "surface_max_c"}
    with (first / "summary.csv").open("w", newline="") as handle:  # new style: claim_id beside a new label
        writer = csv.DictWriter(handle, ["claim_id", *rows[0]])
        writer.writeheader()
        for row in rows:
            writer.writerow({**row, "claim_id": ids[row["claim"]], "claim": row["claim"].upper()})
    summaries = load_runs([runs]).summaries
    # the relabelled new run and the two old runs line up on the same three ids
    assert set(summaries.claim_id) == set(ids.values())
    assert summaries.groupby("claim_id").run_id.nunique().tolist() == [3, 3, 3]


EXTRA_CLAIMS = [  # every other claim a profile can make, so the table has all eleven
    ["nir_peak_nm", "NIR peak wavelength", "nm", 850, "±20 nm", 830, 870, 851.3, 11.0, "PASS", ""],
    ["dose_j_cm2", "dose per session", "J/cm2", 45, "±20 %", 36, 54, 45.3, 7.4, "PASS", ""],
    ["session_s", "session length / auto-off", "s", 900, "±30 s", 870, 930, 902.5, 5, "PASS", ""],
    ["pulse_hz", "pulse frequency", "Hz", 10, "±5 %", 9.5, 10.5, 10.01, 0.02, "PASS", ""],
    ["duty_pct", "duty cycle", "%", 50, "±5 points", 45, 55, 49.7, 1.2, "PASS", ""],
    ["flicker_pct", "flicker (percent, IEEE 1789)", "%", 5, "at most", "", 5, 99.1, 0.4, "FAIL", ""],
    ["uniformity_ratio", "uniformity (min/max irradiance)", "ratio", 0.7, "at least", 0.7, "", 0.81, 0.03, "PASS",
     ""],
    ["uniformity_cv_pct", "uniformity (CV of irradiance)", "%", 10, "at most", "", 10, 6.2, 0.8, "PASS", ""],
]


def eleven_claim_runs(three_runs: Path, tmp_path: Path) -> Path:
    runs = copy_runs(three_runs, tmp_path / "runs")
    for index, folder in enumerate(sorted(runs.glob("[!.]*"))):  # long ids and a wrap whose name is markup
        edit_manifest(folder, run_id=f"20260101-000000_acme-a-very-long-wrap-name-indeed-{index}")
        width = len((folder / "summary.csv").read_text().splitlines()[0].split(","))
        with (folder / "summary.csv").open("a", newline="") as handle:
            csv.writer(handle).writerows(row + [""] * (width - len(row)) for row in EXTRA_CLAIMS)
    return runs


@pytest.mark.parametrize("width", [80, 120, 200])
def test_terminal_table_is_one_line_per_run_and_never_cuts_a_value(three_runs, tmp_path, width):
    runs = eleven_claim_runs(three_runs, tmp_path)
    loaded = load_runs(runs)
    table = compare_table(loaded)
    console = Console(width=width, record=True, color_system=None)
    console.print(terminal_table(table, "Belt [/] runs", width))
    text = console.export_text()
    assert "Belt [/] runs" in text  # escaped, printed literally
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= width
    assert "…" not in text.replace("…0", "").replace("…1", "").replace("…2", "")  # no value cut with an ellipsis
    rows = [line for line in lines if line.startswith(("01-01 00:00", "20260101"))]
    assert len(rows) == 3  # one line per run, not a run id folded over several lines
    assert "nan" not in text
    # every claim shown has its whole value and a verdict mark; the others are named as left out
    shown = len(re.findall(r"\d [✓~✗]", rows[0]))
    assert shown >= (4 if width == 80 else 8)
    for row in rows:  # the first values, whole
        unit = next(u for u in ("honest", "weak", "relabelled") if f" {u} " in row)
        run_id = loaded.runs.run_id[loaded.runs.unit == unit].iloc[0]
        mine = loaded.summaries[loaded.summaries.run_id == run_id]
        for identifier in ("red_peak_nm", "irradiance_mw_cm2"):
            value = mine.measured[mine.claim_id == identifier].iloc[0]
            assert f" {value:.3g}" in row.replace("±", " "), (identifier, row)
    if shown < 11:
        assert "left out to fit:" in text.replace("\n", " ")
    else:
        assert "left out to fit:" not in text.replace("\n", " ") or "± U left out" in text


def test_short_run_names_stay_apart():
    from rig.reporting.compare_view import short_run_names

    assert short_run_names(["20261203-093322_a", "20261203-094400_b"]) == ["12-03 09:33", "12-03 09:44"]
    assert short_run_names(["20261203-093322_a", "20261203-093340_b"]) == ["12-03 09:33:22", "12-03 09:33:40"]
    assert short_run_names(["20261203-093322_a", "20251203-093322_b"]) == ["2026-12-03 09:33:22",
                                                                           "2025-12-03 09:33:22"]
    same = short_run_names(["20261203-093322_x-1", "20261203-093322_x-2"])
    assert len(set(same)) == 2 and all(name.startswith("12-03 09:33 …") for name in same)
    assert short_run_names(["my-run"]) == ["my-run"]


def test_mixing_simulated_and_real_runs_is_refused(three_runs, tmp_path):
    real = tmp_path / "real-run"
    shutil.copytree(next(three_runs.glob("[!.]*")), real)
    edit_manifest(real, backend="real", run_id="real-run")
    loaded = load_runs([three_runs, real])
    with pytest.raises(RigError, match="simulated and real"):
        check_mixing(loaded, allow_mixed=False)
    check_mixing(loaded, allow_mixed=True)


def test_the_example_run_is_set_apart_from_the_users_runs(three_runs, tmp_path):
    runs = copy_runs(three_runs, tmp_path / "results")
    shutil.copytree(Path(__file__).parents[1] / "results" / "example", runs / "example")
    (runs / "README.md").write_text("not a run")
    loaded = load_runs([f"{runs}/*"])
    assert any("README.md" in note and "skipped" in note for note in loaded.skipped)
    assert loaded.runs.example.sum() == 1
    kept, notes = set_examples_apart(loaded)
    assert len(kept.runs) == 3 and not kept.runs.example.any() and "example" in notes[0]
    alone, notes = set_examples_apart(load_runs([runs / "example"]))  # named alone: looked at
    assert len(alone.runs) == 1 and notes == []
    with pytest.raises(RigError, match="no-such-folder"):
        load_runs([tmp_path / "no-such-folder"])


def test_a_run_cut_short_loads_and_is_marked_incomplete(three_runs, tmp_path):
    crashed = tmp_path / "crashed"
    shutil.copytree(next(three_runs.glob("[!.]*")), crashed)
    (crashed / "summary.csv").unlink()
    edit_manifest(crashed, outcome="RUNNING", run_id="crashed")
    lines = (crashed / "samples.csv").read_text().splitlines()
    (crashed / "samples.csv").write_text("\n".join(lines[:8]) + "\n" + lines[8][:10])  # a torn last line
    loaded = load_runs([crashed])
    assert loaded.runs.complete.tolist() == [False]
    assert "incomplete" in loaded.runs.banners.iloc[0]
    assert len(loaded.samples()) >= 7


def test_an_aborted_run_stays_out_of_group_statistics_unless_asked(three_runs, tmp_path):
    runs = copy_runs(three_runs, tmp_path / "runs")
    weak = next(p for p in runs.glob("[!.]*") if "weak" in json.loads((p / "run.json").read_text())["run_id"])
    edit_manifest(weak, outcome="ABORTED", reason="over-temperature")  # its summary is still there
    loaded = load_runs([runs])
    grouped = compare_table(loaded, by="wrap")
    # two finished runs, both at the claimed 40 mW/cm2 (one is the 630 nm one): no FAIL from the aborted one
    assert grouped.runs.tolist() == [2] and grouped.runs_left_out.tolist() == [1]
    assert grouped.irradiance_mw_cm2_fail.tolist() == [0]
    assert grouped.irradiance_mw_cm2.iloc[0] == pytest.approx(40.0, rel=0.1)
    everything = compare_table(loaded, by="wrap", include_incomplete=True)
    assert everything.runs.tolist() == [3] and everything.irradiance_mw_cm2_fail.tolist() == [1]
    per_run = compare_table(loaded).set_index("run_id")
    assert not per_run.loc[json.loads((weak / "run.json").read_text())["run_id"], "complete"]
    console = Console(width=120, record=True, color_system=None)
    console.print(terminal_table(compare_table(loaded), "runs"))
    assert "ABORTED" in console.export_text()


def test_trend_reports_change_per_month_keyed_on_claim_ids(three_runs, tmp_path):
    runs = copy_runs(three_runs, tmp_path / "runs")
    folders = sorted(runs.glob("[!.]*"))
    for month, folder in enumerate(folders, start=1):  # one unit measured monthly
        edit_manifest(folder, start_time=f"2026-{month:02d}-01T10:00:00+00:00",
                      profile={"as_used": {"maker": "Acme", "model": "Belt", "unit": "SN-1"}})
    loaded = load_runs([runs])
    frame = trend(loaded).set_index("claim_id")
    values = loaded.summaries[loaded.summaries.claim_id == "irradiance_mw_cm2"].measured.tolist()
    assert frame.loc["irradiance_mw_cm2", "runs"] == 3
    assert frame.loc["irradiance_mw_cm2", "last_value"] in values
    assert {"red_peak_nm", "irradiance_mw_cm2"} <= set(frame.index)


def test_trend_change_per_month_is_the_stated_slope(three_runs, tmp_path):
    """One unit measured on days 0, 30 and 60 at 20.0, 19.0, 18.0 mW/cm2: the LEDs lose 1.0 mW/cm2 (5 % of the
    first) per 30 days."""
    runs = copy_runs(three_runs, tmp_path / "runs")
    stated = {"2026-01-01": 20.0, "2026-01-31": 19.0, "2026-03-02": 18.0}
    for (day, value), folder in zip(stated.items(), sorted(runs.glob("[!.]*")), strict=True):
        edit_manifest(folder, start_time=f"{day}T10:00:00+00:00",
                      profile={"as_used": {"maker": "Acme", "model": "Belt", "unit": "SN-1"}})
        path = folder / "summary.csv"
        rows = list(csv.DictReader(path.open()))
        for row in rows:
            if row["claim"] == "irradiance at contact":
                row["measured"] = str(value)
        with path.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    row = trend(load_runs([runs])).set_index("claim_id").loc["irradiance_mw_cm2"]
    assert (row.first_value, row.last_value) == (20.0, 18.0)
    assert row.change_per_month == pytest.approx(-1.0, abs=1e-9)
    assert row.change_per_month_pct == pytest.approx(-5.0, abs=1e-9)


def test_html_report_has_the_verdict_table_banners_and_images_that_load(three_runs, tmp_path):
    runs = sorted(three_runs.glob("[!.]*"))
    report = build_report(runs[0], runs[1:], tmp_path / "report")
    text = report.read_text()
    assert "<h2>Verdicts</h2>" in text and "irradiance at contact" in text and ">PASS<" in text
    assert "Compared runs" in text and "k = 2" in text
    # simulated and uncalibrated (no calibration file): both say so before any number
    assert text.index("SIMULATED") < text.index("<h2>Verdicts</h2>")
    assert text.index("UNCALIBRATED") < text.index("<h2>Verdicts</h2>")
    assert "uncalibrated: indicative only" in text  # beside the irradiance verdict in the table
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', text)
    assert len(images) == 3
    for encoded in images:
        pixels = matplotlib.image.imread(io.BytesIO(base64.b64decode(encoded)), format="png")
        assert pixels.shape[0] > 100 and pixels.shape[1] > 100
    assert not re.search(r'src="(?!data:)', text)  # self-contained: no external files


def test_compare_page_is_one_file_with_banners_table_and_plot(three_runs, tmp_path):
    from rig.reporting.compare_command import run_compare

    page = tmp_path / "compare.html"
    run_compare([str(three_runs)], by="unit", html=str(page))
    text = page.read_text()
    assert "SIMULATED" in text and "claim 32–48" in text
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', text)
    assert len(images) == 1 and not re.search(r'src="(?!data:)', text)
    pixels = matplotlib.image.imread(io.BytesIO(base64.b64decode(images[0])), format="png")
    assert pixels.shape[0] > 300


def test_compare_page_draws_in_a_headless_browser(three_runs, tmp_path):
    """The page's embedded plot loads and draws in a real browser (skipped without chromium)."""
    import subprocess

    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if not browser:
        pytest.skip("no chromium (apt-get install chromium)")
    from rig.reporting.compare_command import run_compare

    page = tmp_path / "compare.html"
    run_compare([str(three_runs)], html=str(page))
    text_only = tmp_path / "text-only.html"
    text_only.write_text(re.sub(r"<img [^>]*>", "", page.read_text()))

    def ink(path: Path) -> tuple[float, float]:
        """(share of inked pixels, share of the claim bands' green)."""
        shot = tmp_path / f"{path.stem}.png"
        subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                        "--disable-background-networking", "--disable-component-update", "--disable-sync",
                        f"--user-data-dir={tmp_path / 'profile'}",
                        f"--screenshot={shot}", "--window-size=1000,2000", path.as_uri()],
                       check=True, capture_output=True, timeout=120)
        pixels = matplotlib.image.imread(shot)[..., :3]
        green = (pixels[..., 1] > pixels[..., 0] + 0.05) & (pixels[..., 1] > pixels[..., 2] + 0.05)
        return float((pixels.min(axis=2) < 0.95).mean()), float(green.mean())

    (page_ink, page_green), (text_ink, text_green) = ink(page), ink(text_only)
    assert page_ink > 1.1 * text_ink and page_green > 0.002 and page_green > 3 * text_green


README = Path(__file__).parents[1] / "README.md"


def readme_section(title: str) -> str:
    text = README.read_text()
    start = text.index(f"## {title}\n")
    return text[start:text.index("\n## ", start + 1)]


@pytest.mark.parametrize("section", ["Comparing runs", "Reports"])
def test_every_readme_command_of_compare_and_report_runs(section, three_runs, tmp_path, monkeypatch, capsys):
    """The README's commands, as written, against a results/ folder holding runs, the example and its README."""
    import shlex

    from rig.cli import main

    results = copy_runs(three_runs, tmp_path / "results")
    shutil.copytree(README.parent / "results" / "example", results / "example")
    shutil.copy(README.parent / "results" / "README.md", results / "README.md")
    monkeypatch.chdir(tmp_path)
    run_name = sorted(p.name for p in results.glob("2026*"))[0]
    text = readme_section(section)
    commands = [line.strip().split("  #")[0] for line in text.splitlines() if line.strip().startswith(".venv/bin/rig")]
    assert commands
    for command in commands:
        command = re.sub(r"\s*\[[^\]]*\]", "", command.replace("<run>", run_name))  # optional parts left out
        argv = [arg for word in shlex.split(command)[1:] for arg in (sorted(map(str, Path().glob(word)))
                                                                      if "*" in word else [word])]
        assert main(argv) == 0, command
        assert "Traceback" not in capsys.readouterr().err
    for block in re.findall(r"```python\n(.*?)```", text, re.S):
        exec(compile(block, "README.md", "exec"), {})  # noqa: S102


def test_bad_input_is_a_clear_error_with_exit_2(three_runs, tmp_path, capsys):
    from rig.cli import main

    assert main(["compare", str(tmp_path / "nothing-here")]) == 2
    assert "nothing-here: no such file or folder" in capsys.readouterr().err
    (tmp_path / "notes.txt").write_text("not a run")
    assert main(["compare", str(tmp_path / "notes.txt")]) == 2  # skipped, and then nothing is left
    err = capsys.readouterr()
    assert "no runs found" in err.err and "Traceback" not in err.err
    assert main(["report", str(tmp_path)]) == 2
    assert "not a run folder (no run.json)" in capsys.readouterr().err
    broken = tmp_path / "broken"
    shutil.copytree(next(three_runs.glob("[!.]*")), broken)
    (broken / "run.json").write_text("{ not json")
    assert main(["report", str(broken)]) == 2
    assert f"{broken / 'run.json'}: expected the run's JSON manifest" in capsys.readouterr().err


def test_the_demo_table_says_simulated_and_points_to_rig_report(tmp_path, capsys):
    from rig.cli import main

    status = main(["run", "--sim", "--quiet", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    run_dir = next(tmp_path.glob("[!.]*"))
    assert status in (0, 1)
    assert "(SIMULATED)" in out and "SIMULATED: made on simulated hardware" in out
    assert "UNCALIBRATED" in out  # no calibration file given
    assert f"rig report {run_dir}" in out.replace("\n", "")
