"""Damaged run folders in `rig report` and `rig compare`: a value no run writes (an unknown verdict, a judged claim
without a measured value, an infinite reading, no phase column) is named (file, line, column), never a traceback;
compare leaves a damaged run out with a warning naming it and compares the rest; folders holding one run (copies:
one run_id) count once, named on stderr."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
from test_bad_input import _drop_column, assert_refused, cli, good_run  # noqa: F401  (good_run: a fixture)


def _edit_summary(path: Path, row: int, column: str, value: str) -> None:
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    rows[row][column] = value
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def _set_samples(path: Path, column: str, value: str) -> None:
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    rows[3][column] = value
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def _judged_row(path: Path) -> int:
    with path.open(newline="") as handle:
        return next(n for n, row in enumerate(csv.DictReader(handle)) if row["verdict"] != "NOT MEASURED")


DAMAGES = {  # damage -> (what to do to the run folder, what the error names)
    "verdict MAYBE": (lambda d: _edit_summary(d / "summary.csv", 0, "verdict", "MAYBE"),
                      ["summary.csv", "line 2, column 'verdict'", "PASS, MARGINAL, FAIL, NOT MEASURED", "MAYBE"]),
    "verdict with markup": (lambda d: _edit_summary(d / "summary.csv", 0, "verdict", "[/]"),
                            ["summary.csv", "column 'verdict'"]),
    "judged claim measured nan": (lambda d: _edit_summary(d / "summary.csv", _judged_row(d / "summary.csv"),
                                                          "measured", "nan"),
                                  ["summary.csv", "column 'measured'", "measured value"]),
    "band end infinite": (lambda d: _edit_summary(d / "summary.csv", 0, "high", "inf"),
                          ["summary.csv", "column 'high'", "finite"]),
    "no band": (lambda d: (_edit_summary(d / "summary.csv", 0, "high", ""),
                           _edit_summary(d / "summary.csv", 0, "low", "")), ["summary.csv", "'low' / 'high'"]),
    "negative uncertainty": (lambda d: _edit_summary(d / "summary.csv", 0, "uncertainty", "-3"),
                             ["summary.csv", "column 'uncertainty'", ">= 0"]),
}
REPORT_ONLY = {  # samples.csv is read by report (compare reads run.json and summary.csv only)
    "no phase column": (lambda d: _drop_column(d / "samples.csv", "phase"), ["samples.csv", "'phase'"]),
    "irradiance infinite": (lambda d: _set_samples(d / "samples.csv", "irradiance_mw_cm2", "inf"),
                            ["samples.csv", "line 5, column 'irradiance_mw_cm2'", "finite"]),
    "surface temperature -inf": (lambda d: _set_samples(d / "samples.csv", "surface_c", "-inf"),
                                 ["samples.csv", "column 'surface_c'"]),
    "F7 infinite": (lambda d: _set_samples(d / "samples.csv", "F7", "inf"), ["samples.csv", "column 'F7'"]),
}


def damaged(good_run: Path, tmp_path: Path, damage) -> Path:  # noqa: F811
    run_dir = tmp_path / "runs" / good_run.name
    shutil.copytree(good_run, run_dir)
    damage(run_dir)
    return run_dir


@pytest.mark.parametrize("case", {**DAMAGES, **REPORT_ONLY})
def test_rig_report_names_a_value_no_run_writes(good_run, tmp_path, capsys, case):  # noqa: F811
    damage, named = {**DAMAGES, **REPORT_ONLY}[case]
    run_dir = damaged(good_run, tmp_path, damage)
    code, _, err = cli(["report", run_dir, "--out", tmp_path / "report"], capsys)
    assert_refused(code, err, *named)
    assert not (tmp_path / "report").exists()


@pytest.mark.parametrize("case", DAMAGES)
def test_rig_compare_of_one_damaged_run_names_it(good_run, tmp_path, capsys, case):  # noqa: F811
    damage, named = DAMAGES[case]
    run_dir = damaged(good_run, tmp_path, damage)
    code, _, err = cli(["compare", run_dir], capsys)
    assert_refused(code, err, *named)


def _copy_as(good_run: Path, target: Path, run_id: str) -> Path:  # noqa: F811
    shutil.copytree(good_run, target)
    manifest = json.loads((target / "run.json").read_text())
    manifest["run_id"] = run_id
    (target / "run.json").write_text(json.dumps(manifest))
    return target


@pytest.mark.parametrize("damage", ["run.json cut short", "run.json a list", "verdict MAYBE"])
def test_compare_leaves_a_damaged_run_out_naming_it_and_compares_the_rest(good_run, tmp_path, capsys,  # noqa: F811
                                                                          damage):
    runs = tmp_path / "runs"
    for name in ("a", "b", "c"):
        _copy_as(good_run, runs / name, f"run-{name}")
    bad = runs / "b"
    if damage == "run.json cut short":
        (bad / "run.json").write_text((bad / "run.json").read_text()[:200])
        named = bad / "run.json"
    elif damage == "run.json a list":
        (bad / "run.json").write_text("[1, 2]")
        named = bad / "run.json"
    else:
        _edit_summary(bad / "summary.csv", 0, "verdict", "MAYBE")
        named = bad / "summary.csv"
    code, out, err = cli(["compare", runs, "--csv", tmp_path / "table.csv"], capsys)
    assert code == 0 and "Traceback" not in err, err
    assert f"warning: {named}" in err and "left out" in err
    with (tmp_path / "table.csv").open(newline="") as handle:
        assert sorted(row["run_id"] for row in csv.DictReader(handle)) == ["run-a", "run-c"]


def test_copies_of_one_run_count_once_and_are_named(good_run, tmp_path, capsys):  # noqa: F811
    runs = tmp_path / "runs"
    for index in range(5):  # five folders, one run: a backup copied back beside the original
        _copy_as(good_run, runs / f"copy{index}", "the-same-run")
    _copy_as(good_run, runs / "other", "another-run")
    code, out, err = cli(["compare", runs, "--csv", tmp_path / "table.csv", "--by", "wrap"], capsys)
    assert code == 0, err
    assert "warning: 5 folders hold run 'the-same-run'" in err and str(runs / "copy0") in err
    assert str(runs / "copy4") in err and "counted once" in err
    with (tmp_path / "table.csv").open(newline="") as handle:
        (group,) = list(csv.DictReader(handle))
    assert group["runs"] == "2"  # the-same-run once, another-run once


@pytest.mark.parametrize("option", ["--csv", "--html"])
def test_compare_refuses_an_output_that_is_a_fifo_or_a_folder(good_run, tmp_path, capsys, option):  # noqa: F811
    import os

    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "folder").mkdir()
    for target in (tmp_path / "fifo", tmp_path / "folder"):
        code, _, err = cli(["compare", good_run, option, target], capsys)
        assert_refused(code, err, str(target), "regular file")
