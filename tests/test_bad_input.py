"""Bad input through the CLI, in process: each case must be a clear error naming the file and the key or column,
exit 2, no traceback, nothing switched on and nothing half-written.

``rig.cli.main`` runs in this process (fast); its stderr and stdout come from capsys. A file that a loader would
block on (a FIFO) is guarded by an alarm: a hang becomes an internal error (exit 4) and fails the case.
"""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path

import pytest
from support.handlers import handlers_restored

from rig.cli import main
from rig.wiring import shipped

PROFILE = 'maker = "Acme"\nmodel = "Belt"\nunit = "1"\n[[modes]]\nname = "red"\n[modes.claims]\n' \
          'red_peak_nm = 660.0\nirradiance_mw_cm2 = 30.0\n'
SEQUENCE = ('[[phases]]\nkind = "dark"\nduration_s = 3.0\ninterval_s = 1.0\n[[phases]]\nkind = "on"\n'
            '[[phases]]\nkind = "measure"\nduration_s = 10.0\ninterval_s = 1.0\n[[phases]]\nkind = "off"\n')
COUNTS_HEADER = "F1,F2,F3,F4,F5,F6,F7,F8,Clear,NIR,gain_x,t_int_ms"
COUNTS_ROW = "10,20,30,40,50,60,9000,7000,20000,3000,4,50"


class Hang(Exception):
    pass


def cli(argv: list[str], capsys) -> tuple[int, str, str]:
    """``rig ARGV`` in process: exit code, stdout, stderr (a call blocked for 20 s is stopped as a hang)."""
    def alarm(_signum, _frame):
        raise Hang("blocked for 20 s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(20)
    try:
        with handlers_restored():
            try:
                code = main([str(a) for a in argv])
            except SystemExit as exit_:  # argparse
                code = exit_.code
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    out, err = capsys.readouterr()
    return code, out, err


def assert_refused(code: int, err: str, *names: str) -> None:
    assert "Traceback" not in err and "internal error" not in err, err
    assert code == 2, err
    for name in names:
        assert name in err, f"{name!r} not named in: {err}"


# --- a bad file given as any TOML ---------------------------------------------------------------------------------

BAD_KINDS = ["binary", "non-UTF-8", "directory", "FIFO", "/dev/zero", "empty", "TOML syntax"]


def bad_file(tmp_path: Path, kind: str) -> Path:
    path = tmp_path / "bad.toml"
    if kind == "binary":
        path.write_bytes(bytes(range(256)) * 4)
    elif kind == "non-UTF-8":
        path.write_bytes('name = "caf\xe9"\n'.encode("latin-1"))
    elif kind == "directory":
        path.mkdir()
    elif kind == "FIFO":
        os.mkfifo(path)
    elif kind == "/dev/zero":
        return Path("/dev/zero")
    elif kind == "empty":
        path.write_text("")
    elif kind == "TOML syntax":
        path.write_text("model = Belt\n")
    return path


ROLES = {"profile": "--wrap", "sequence": "--sequence", "bench": "--bench", "sim-wrap": "--sim-wrap",
         "calibration": "--calibration"}


@pytest.mark.parametrize("kind", BAD_KINDS)
@pytest.mark.parametrize("role", ROLES)
def test_a_bad_file_as_any_toml_is_refused_before_the_bench_opens(tmp_path, capsys, role, kind):
    bad = bad_file(tmp_path, kind)
    out = tmp_path / "results"
    if role in ("bench", "sim-wrap") and kind == "empty":  # every key has a default: a valid (empty) file
        from rig.config import load_bench_config
        from rig.sim.wrap import load_wrap_spec

        assert (load_bench_config if role == "bench" else load_wrap_spec)(bad) is not None
        return
    code, _, err = cli(["run", "--sim", "--quiet", ROLES[role], bad, "--out", out], capsys)
    if role == "profile" and kind == "empty":  # an empty profile is valid TOML: the missing key is named
        assert_refused(code, err, str(bad), "model")
    elif role == "sequence" and kind == "empty":
        assert_refused(code, err, str(bad), "phases")
    else:
        assert_refused(code, err, str(bad))
    assert not out.exists()  # nothing created, nothing switched on


@pytest.mark.parametrize("command", [["check", "--sim"], ["read", "--sim", "--count", "1"],  # rig off: it warns and
                                     ["calibrate", "dark", "--sim"], ["analyze", "counts.csv"]])  # drives the pin:
# tests/test_off_cli.py
def test_a_bad_bench_config_is_named_by_every_command(tmp_path, capsys, monkeypatch, command):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "counts.csv").write_text(f"{COUNTS_HEADER}\n{COUNTS_ROW}\n")
    (tmp_path / "bench.toml").write_text("[switch]\npower_pin = 40\n")
    code, _, err = cli([*command, "--bench", "bench.toml"], capsys)
    assert_refused(code, err, "bench.toml", "switch.power_pin")


# --- bad values in TOML files -------------------------------------------------------------------------------------

VALUE_CASES = {
    "sequence gain 3": ("sequence", SEQUENCE + "[sensor]\ngain_x = 3\n", "sensor.gain_x"),
    "sequence atime 300": ("sequence", SEQUENCE + "[sensor]\natime = 300\n", "sensor.atime"),
    "bench transmission inf": ("bench", "[jig]\ntransmission = inf\n", "jig.transmission"),
    "bench transmission nan": ("bench", "[jig]\ntransmission = nan\n", "jig.transmission"),
    "bench divider nan": ("bench", "[thermal]\ndivider_r_ohm = nan\n", "thermal.divider_r_ohm"),
    "sim-wrap irradiance nan": ("sim-wrap", "[[strings]]\nname = 'red'\npeak_nm = 660.0\nfwhm_nm = 20.0\n"
                                "irradiance_mw_cm2 = nan\n[[modes]]\nname = 'red'\nstrings = ['red']\n",
                                "strings[0].irradiance_mw_cm2"),
    "sim-wrap auto-off inf": ("sim-wrap", "auto_off_s = inf\n", "auto_off_s"),
    "claims tolerance inf": ("profile", PROFILE + "irradiance_tolerance_pct = inf\n",
                             "modes[0].claims.irradiance_tolerance_pct"),
    "claims irradiance nan": ("profile", PROFILE.replace("30.0", "nan"), "modes[0].claims.irradiance_mw_cm2"),
    "claims peak inf": ("profile", PROFILE.replace("660.0", "inf"), "modes[0].claims.red_peak_nm"),
}


@pytest.mark.parametrize("case", VALUE_CASES)
def test_impossible_values_are_refused_naming_the_key(tmp_path, capsys, case):
    role, text, key = VALUE_CASES[case]
    path = tmp_path / f"{role}.toml"
    path.write_text(text)
    out = tmp_path / "results"
    code, _, err = cli(["run", "--sim", "--quiet", ROLES[role], path, "--out", out], capsys)
    assert_refused(code, err, str(path), key)
    assert not out.exists()


# --- rich markup in names -----------------------------------------------------------------------------------------

def test_markup_in_names_is_printed_as_text_after_a_run_and_in_compare(tmp_path, capsys):
    (tmp_path / "p.toml").write_text(PROFILE.replace('"Belt"', '"Belt [/]"').replace('"Acme"', '"[bold]Acme[/b"'))
    (tmp_path / "s.toml").write_text(SEQUENCE.replace('kind = "dark"', 'name = "[red]dark"\nkind = "dark"'))
    out = tmp_path / "results"
    code, stdout, err = cli(["run", "--sim", "--quiet", "--wrap", tmp_path / "p.toml", "--sequence",
                             tmp_path / "s.toml", "--out", out], capsys)
    assert code in (0, 1) and "Traceback" not in err, err  # a MarkupError would be exit 4 with a traceback
    assert "[bold]Acme[/b Belt [/]" in stdout
    code, stdout, err = cli(["compare", out, "--by", "wrap"], capsys)
    assert code == 0 and "Traceback" not in err, err
    assert "[bold]Acme[/b Belt [/]" in stdout  # the wrap's name, as written


# --- damaged runs in analyze / report / compare -------------------------------------------------------------------

@pytest.fixture(scope="module")
def good_run(tmp_path_factory) -> Path:
    from rig.config import load_bench_config
    from rig.profile import load_profile
    from rig.run import run_sequence
    from rig.sequence import load_sequence
    from rig.sim.backend import build_sim_bench
    from rig.spectrum.derive import make_deriver
    from rig.wiring import default_wrap_for

    base = tmp_path_factory.mktemp("good")
    (base / "p.toml").write_text(PROFILE)
    (base / "s.toml").write_text(SEQUENCE)
    profile = load_profile(base / "p.toml")
    result = run_sequence(profile, load_sequence(base / "s.toml"),
                          lambda: build_sim_bench(load_bench_config(backend="sim"), default_wrap_for(profile)),
                          base / "results", derive=make_deriver())
    assert result.outcome == "COMPLETED"
    return result.run_dir


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2 + 7])  # cut in the middle of a row


def _drop_column(path: Path, column: str) -> None:
    import csv

    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, [c for c in rows[0] if c != column])
        writer.writeheader()
        for row in rows:
            row.pop(column)
            writer.writerow(row)


def _set_cell(path: Path, column: str, value: str) -> None:
    import csv

    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    rows[-1][column] = value
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


DAMAGES = {
    "missing": lambda p: p.unlink(),
    "empty": lambda p: p.write_bytes(b""),
    "garbage": lambda p: p.write_bytes(bytes(range(256)) * 8),
    "truncated": _truncate,
    "header only": lambda p: p.write_text(p.read_text().splitlines()[0] + "\n"),
    "a FIFO": lambda p: (p.unlink(), os.mkfifo(p)),
    "/dev/zero": lambda p: (p.unlink(), p.symlink_to("/dev/zero")),
}
RUN_JSON_DAMAGES = {
    "missing": lambda p: p.unlink(),
    "empty": lambda p: p.write_bytes(b""),
    "garbage": lambda p: p.write_bytes(bytes(range(256)) * 8),
    "truncated": _truncate,
    "a list": lambda p: p.write_text("[1, 2]"),
    "profile not a table": lambda p: p.write_text(p.read_text().replace('"as_used": {', '"as_used": 3, "x": {', 1)),
    "a FIFO": lambda p: (p.unlink(), os.mkfifo(p)),
}
CASES = [("run.json", name) for name in RUN_JSON_DAMAGES] + \
        [(file, name) for file in ("samples.csv", "summary.csv") for name in DAMAGES] + \
        [("samples.csv", "column F8 missing"), ("samples.csv", "F8 not a number"),
         ("summary.csv", "column verdict missing")]
EXTRA = {"column F8 missing": lambda p: _drop_column(p, "F8"), "F8 not a number": lambda p: _set_cell(p, "F8", "x"),
         "column verdict missing": lambda p: _drop_column(p, "verdict")}


def damaged_copy(good_run: Path, tmp_path: Path, file: str, damage: str) -> Path:
    run_dir = tmp_path / "runs" / good_run.name
    shutil.copytree(good_run, run_dir)
    action = {**(RUN_JSON_DAMAGES if file == "run.json" else DAMAGES), **EXTRA}[damage]
    action(run_dir / file)
    return run_dir


# What each command must do with each damage: "refused" = exit 2 naming the file; "ok" = exit 0 (a crashed run
# legitimately has no summary.csv or a short samples.csv and is shown as incomplete)
REPORT_OK = {("summary.csv", "missing"), ("summary.csv", "header only"),  # a run cut short: no claims judged
             ("samples.csv", "missing"), ("samples.csv", "empty"),  # the bench never opened
             ("samples.csv", "header only")}  # stopped before the first sample
COMPARE_OK = {("summary.csv", "missing"), ("summary.csv", "header only"), ("samples.csv", "missing"),
              ("samples.csv", "empty"), ("samples.csv", "garbage"), ("samples.csv", "truncated"),
              ("samples.csv", "header only"), ("samples.csv", "column F8 missing"),
              ("samples.csv", "F8 not a number"), ("samples.csv", "a FIFO"),
              ("samples.csv", "/dev/zero")}  # compare reads run.json and summary.csv only


@pytest.mark.parametrize(("file", "damage"), CASES, ids=[f"{f} {d}" for f, d in CASES])
@pytest.mark.parametrize("command", ["analyze", "report", "compare"])
def test_a_damaged_run_is_named_not_a_traceback(good_run, tmp_path, capsys, command, file, damage):
    run_dir = damaged_copy(good_run, tmp_path, file, damage)
    (tmp_path / "p.toml").write_text(PROFILE)
    before = sorted(p.name for p in run_dir.iterdir())
    if command == "analyze":
        argv = ["analyze", run_dir, "--wrap", tmp_path / "p.toml", "--out", tmp_path / "re"]
        ok = file == "summary.csv"  # recomputed from samples.csv, never read
    elif command == "report":
        argv = ["report", run_dir, "--out", tmp_path / "report"]
        ok = (file, damage) in REPORT_OK
    else:
        argv = ["compare", run_dir]
        ok = (file, damage) in COMPARE_OK
    code, _, err = cli(argv, capsys)
    if ok:
        assert code in (0, 1) and "Traceback" not in err, err
    else:
        assert_refused(code, err, file)
    assert sorted(p.name for p in run_dir.iterdir()) == before  # the run's own files are never touched


# --- counts CSVs --------------------------------------------------------------------------------------------------

COUNTS_CASES = {
    "empty": ("", "empty"),
    "header only": (f"{COUNTS_HEADER}\n", "no readings"),
    "gain 0": (f"{COUNTS_HEADER}\n{COUNTS_ROW[:-5]},0,50\n", "gain_x"),
    "gain 3": (f"{COUNTS_HEADER}\n{COUNTS_ROW[:-5]},3,50\n", "gain_x"),
    "t_int 0": (f"{COUNTS_HEADER}\n{COUNTS_ROW[:-3]},0\n", "t_int_ms"),
    "t_int negative": (f"{COUNTS_HEADER}\n{COUNTS_ROW[:-3]},-5\n", "t_int_ms"),
    "t_int inf": (f"{COUNTS_HEADER}\n{COUNTS_ROW[:-3]},inf\n", "t_int_ms"),
    "F7 not a number": (f"{COUNTS_HEADER}\n{COUNTS_ROW.replace('9000', 'lots')}\n", "F7"),
    "F7 nan": (f"{COUNTS_HEADER}\n{COUNTS_ROW.replace('9000', 'nan')}\n", "F7"),
    "F7 negative": (f"{COUNTS_HEADER}\n{COUNTS_ROW.replace('9000', '-1')}\n", "F7"),
    "column NIR missing": (f"{COUNTS_HEADER.replace(',NIR', '')}\n{COUNTS_ROW.replace(',3000', '')}\n", "NIR"),
    "binary": (bytes(range(256)) * 8, "counts.csv"),
    "ragged row": (f"{COUNTS_HEADER}\n{COUNTS_ROW},1,2,3\n", "line 2"),
}


@pytest.mark.parametrize("case", COUNTS_CASES)
def test_a_bad_counts_csv_names_its_column(tmp_path, capsys, case):
    content, named = COUNTS_CASES[case]
    path = tmp_path / "counts.csv"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    code, _, err = cli(["analyze", path, "--out", tmp_path / "out.csv"], capsys)
    assert_refused(code, err, "counts.csv", named)
    assert not (tmp_path / "out.csv").exists()


@pytest.mark.parametrize("command", [
    ["analyze", "{csv}", "--out", "out.csv"],
    ["calibrate", "thermistor", "--probe", "surface", "--points-csv", "{csv}", "--out", "cal.toml"],
    ["calibrate", "irradiance", "{csv}", "--reference-nm", "660", "--transmission", "0.01", "--out", "cal.toml"],
    ["calibrate", "spectral", "{csv}", "--transmission", "0.01", "--out", "cal.toml"],
], ids=["analyze", "thermistor points", "irradiance readings", "spectral references"])
def test_a_csv_that_is_a_fifo_a_device_or_a_folder_is_refused_without_blocking(tmp_path, capsys, monkeypatch,
                                                                                 command):
    monkeypatch.chdir(tmp_path)
    os.mkfifo(tmp_path / "fifo.csv")
    (tmp_path / "folder.csv").mkdir()
    for path in (tmp_path / "fifo.csv", Path("/dev/zero"), tmp_path / "folder.csv"):
        code, _, err = cli([part.replace("{csv}", str(path)) for part in command], capsys)
        assert_refused(code, err, str(path))
        assert not (tmp_path / "cal.toml").exists() and not (tmp_path / "out.csv").exists()


# --- calibration inputs -------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("points", "named"), [
    (["0:0", "25:10000"], "0:0"),
    (["nan:10000", "25:10000"], "nan:10000"),
    (["25:inf", "50:3603"], "25:inf"),
    (["25:abc", "50:3603"], "25:abc"),
    (["25", "50:3603"], "'25'"),
    (["25:10000"], "point"),
])
def test_bad_thermistor_points_are_named(tmp_path, capsys, points, named):
    argv = ["calibrate", "thermistor", "--probe", "surface", "--out", tmp_path / "cal.toml"]
    for point in points:
        argv += ["--point", point]
    code, _, err = cli(argv, capsys)
    assert_refused(code, err, named)
    assert not (tmp_path / "cal.toml").exists()


@pytest.mark.parametrize(("content", "named"), [
    ("", "points.csv"),
    ("reference_c,resistance_ohm\n", "points.csv"),
    ("reference_c,resistance_ohm\n0,0\n25,10000\n", "resistance_ohm"),
    ("reference_c,resistance_ohm\nnan,32650\n25,10000\n", "reference_c"),
    ("temp,ohm\n0,32650\n25,10000\n", "reference_c"),
])
def test_a_bad_thermistor_points_csv_is_named(tmp_path, capsys, content, named):
    (tmp_path / "points.csv").write_text(content)
    code, _, err = cli(["calibrate", "thermistor", "--probe", "surface", "--points-csv", tmp_path / "points.csv",
                        "--out", tmp_path / "cal.toml"], capsys)
    assert_refused(code, err, named)
    assert not (tmp_path / "cal.toml").exists()


@pytest.mark.parametrize(("content", "named"), [
    ("", "readings.csv"),
    (f"{COUNTS_HEADER}\n", "readings.csv"),
    (f"{COUNTS_HEADER},reference_mw_cm2\n{COUNTS_ROW},nan\n", "reference_mw_cm2"),
    (f"{COUNTS_HEADER},reference_mw_cm2\n{COUNTS_ROW[:-5]},3,50,40\n", "gain_x"),
])
def test_a_bad_irradiance_readings_csv_is_named(tmp_path, capsys, content, named):
    (tmp_path / "readings.csv").write_text(content)
    code, _, err = cli(["calibrate", "irradiance", tmp_path / "readings.csv", "--reference-nm", "660",
                        "--transmission", "0.01", "--out", tmp_path / "cal.toml"], capsys)
    assert_refused(code, err, named)
    assert not (tmp_path / "cal.toml").exists()


# --- unwritable outputs -------------------------------------------------------------------------------------------

def test_unwritable_outputs_are_named(good_run, tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    (tmp_path / "counts.csv").write_text(f"{COUNTS_HEADER}\n{COUNTS_ROW}\n")
    (tmp_path / "p.toml").write_text(PROFILE)
    cases = [
        ["analyze", tmp_path / "counts.csv", "--out", blocker / "out.csv"],
        ["analyze", good_run, "--wrap", tmp_path / "p.toml", "--out", blocker / "re"],
        ["compare", good_run, "--csv", blocker / "c.csv"],
        ["compare", good_run, "--html", blocker / "c.html"],
        ["report", good_run, "--out", blocker / "report"],
        ["calibrate", "thermistor", "--probe", "surface", "--point", "0:32650", "--point", "25:10000",
         "--out", blocker / "cal.toml"],
        ["run", "--sim", "--quiet", "--out", blocker / "results"],
    ]
    for argv in cases:
        code, _, err = cli(argv, capsys)
        assert_refused(code, err, str(blocker))


# --- a reader that goes away --------------------------------------------------------------------------------------

def test_compare_into_a_closed_pipe_exits_quietly(good_run, tmp_path):
    import subprocess
    import sys

    read, write = os.pipe()
    os.close(read)  # `| head` that has already gone: the first write is EPIPE
    done = subprocess.run([sys.executable, "-m", "rig.cli", "compare", str(good_run)], stdout=write,
                          stderr=subprocess.PIPE, text=True, timeout=120)
    os.close(write)
    assert done.returncode == 0 and "Traceback" not in done.stderr and "Exception ignored" not in done.stderr, \
        done.stderr


def test_the_shipped_examples_still_load():
    from rig.profile import load_profile
    from rig.sequence import load_sequence

    assert load_profile(shipped("example_profile.toml")).modes
    assert load_sequence(shipped("example_sequence.toml")).phases


def test_rig_run_into_a_closed_pipe_goes_on_says_so_and_exits_as_its_record_says(tmp_path):
    # issue 21: a closed stdout only loses the output; the run is measured whole and its record decides the exit
    import json
    import subprocess
    import sys

    read, write = os.pipe()
    os.close(read)
    done = subprocess.run([sys.executable, "-m", "rig.cli", "run", "--sim", "--out", str(tmp_path / "results")],
                          stdout=write, stderr=subprocess.PIPE, text=True, timeout=120, cwd=tmp_path)
    os.close(write)
    assert "standard output lost (Broken pipe)" in done.stderr and "Traceback" not in done.stderr
    (manifest,) = (tmp_path / "results").glob("[!.]*/run.json")
    record = json.loads(manifest.read_text())
    assert record["outcome"] == "COMPLETED" and not record["wrap_left_on"] and done.returncode in (0, 1)


def test_a_disk_full_while_saving_a_calibration_leaves_the_previous_file_whole(tmp_path, monkeypatch):
    import errno

    import rig.results.writer
    from rig.calibration.file import CalibrationFile, load_calibration, save_calibration
    from rig.errors import RigError

    path = save_calibration(CalibrationFile(id="cal-1", sensor_id="as7341-1", scale=1.25), tmp_path / "cal.toml")
    before = path.read_text()
    calibration = load_calibration(path)
    calibration.scale = 2.0  # a refit with one more point, to be saved over the old file

    def full(_descriptor):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(rig.results.writer.os, "fsync", full)
    with pytest.raises(RigError, match=r"cal.toml: No space left on device"):
        save_calibration(calibration, path)
    assert path.read_text() == before and [p.name for p in tmp_path.iterdir()] == ["cal.toml"]
