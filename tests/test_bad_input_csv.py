"""Counts CSVs at their edges (``rig analyze`` input, the irradiance and spectral calibrations' reference readings),
all read by the one reader (rig/spectrum/counts_csv.py): each mistake exit 2 naming the file, the line or column
and what was expected; nothing written, the input kept."""

from __future__ import annotations

import os

import pytest
from test_bad_input import COUNTS_HEADER, COUNTS_ROW, assert_refused, cli

ROW_T = COUNTS_ROW[: COUNTS_ROW.rindex(",")]  # the row without its t_int_ms


def counts(*rows: str, header: str = COUNTS_HEADER) -> str:
    return header + "\n" + "".join(row + "\n" for row in rows)


# The AS7341's integration time is (ATIME + 1)(ASTEP + 1) x 2.78 us, ATIME 0..255, ASTEP 0..65534: 2.78 us .. 46.6 s.
COUNTS_EDGES = {
    # 1e9 ms gave irradiance 0.0 +/- 0.0 with no flag; 1e-9 ms gave 2.5e12 mW/cm2
    "t_int 1e9 ms": (counts(f"{ROW_T},1e9"), "line 2, column 't_int_ms'", "46639.9 ms"),
    "t_int 1e-9 ms": (counts(f"{ROW_T},1e-9"), "line 2, column 't_int_ms'", "0.00278"),
    "t_int just over the longest": (counts(f"{ROW_T},46800"), "column 't_int_ms'", "(ATIME+1)(ASTEP+1)"),
    "counts above 16 bits": (counts(COUNTS_ROW.replace("9000", "70000")), "column 'F7'", "0..65535"),
    "a duplicate F1 column": (counts(f"{COUNTS_ROW},5", header=COUNTS_HEADER + ",F1"), "'F1' appears twice", ""),
    "a 128 KiB cell": (counts(COUNTS_ROW, COUNTS_ROW.replace("9000", "9" * (128 * 1024 + 10))),
                       "line 3", "128 KiB"),
    "atime without astep": (counts(f"{COUNTS_ROW},29", header=COUNTS_HEADER + ",atime"), "'astep'", "together"),
    "atime 300": (counts(f"{COUNTS_ROW},300,599", header=COUNTS_HEADER + ",atime,astep"), "column 'atime'",
                  "0..255"),
    "astep 1.5": (counts(f"{COUNTS_ROW},29,1.5", header=COUNTS_HEADER + ",atime,astep"), "column 'astep'",
                  "integer"),
    "a NUL byte": (counts(COUNTS_ROW, COUNTS_ROW.replace("9000", "90\x0000")), "line 3", ""),
    "gain 1e9": (counts(COUNTS_ROW.replace(",4,50", ",1e9,50")), "column 'gain_x'", "one of 0.5, 1, 2"),
}


@pytest.mark.parametrize("case", COUNTS_EDGES)
def test_rig_analyze_refuses_a_counts_csv_at_its_edge(tmp_path, capsys, case):
    content, named, expected = COUNTS_EDGES[case]
    path = tmp_path / "counts.csv"
    path.write_text(content)
    code, _, err = cli(["analyze", path, "--out", tmp_path / "out.csv"], capsys)
    assert_refused(code, err, str(path), named, expected)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["counts.csv"]  # no output, no temp file
    assert path.read_text() == content


def test_the_shortest_and_longest_integration_times_are_accepted(tmp_path, capsys):
    # ATIME = ASTEP = 0: 2.78 us (written rounded, 0.003 ms); ATIME 255, ASTEP 65534: 46 639.9 ms
    path = tmp_path / "counts.csv"
    path.write_text(counts(f"{ROW_T},0.003", f"{ROW_T},46639.9"))
    code, _, err = cli(["analyze", path, "--out", tmp_path / "out.csv"], capsys)
    assert code == 0, err
    assert len((tmp_path / "out.csv").read_text().splitlines()) == 3


@pytest.mark.parametrize("kind", ["FIFO", "folder", "the input itself"])
def test_an_out_that_is_not_a_regular_new_file_is_refused_without_blocking(tmp_path, capsys, kind):
    source = tmp_path / "counts.csv"
    source.write_text(counts(COUNTS_ROW))
    out = tmp_path / "out.csv"
    if kind == "FIFO":
        os.mkfifo(out)  # used to hang: the writer waits for a reader that never comes
    elif kind == "folder":
        out.mkdir()
    else:
        out = source
    code, _, err = cli(["analyze", source, "--out", out], capsys)
    assert_refused(code, err, str(out), "--out")
    assert source.read_text() == counts(COUNTS_ROW)


def test_a_failed_analysis_leaves_no_half_file_and_keeps_the_old_output(tmp_path, capsys, monkeypatch):
    import rig.reanalyze

    source, out = tmp_path / "counts.csv", tmp_path / "out.csv"
    source.write_text(counts(*[COUNTS_ROW.replace("10,", f"{10 + n},", 1) for n in range(6)]))
    out.write_text("the previous analysis\n")
    calls = []

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:  # the second chunk: the first is already in the temp file
            raise OSError(28, "No space left on device")
        return estimate_table(*args, **kwargs)

    estimate_table = rig.reanalyze.estimate_table
    monkeypatch.setattr(rig.reanalyze, "estimate_table", failing)
    monkeypatch.setattr(rig.reanalyze, "READ_CHUNK_ROWS", 3)
    monkeypatch.setattr(rig.reanalyze.analyze_counts_file, "__defaults__", (None, 3, None))
    code, _, err = cli(["analyze", source, "--out", out], capsys)
    assert_refused(code, err, str(out), "No space left on device")
    assert out.read_text() == "the previous analysis\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["counts.csv", "out.csv"]


REFERENCE_EDGES = {
    "irradiance 1e9": (["irradiance", "--reference-nm", "660"], ",reference_mw_cm2", ",1e9", "reference_mw_cm2",
                       "0..1000 mW/cm2"),
    "wavelength 5000": (["irradiance"], ",reference_mw_cm2,reference_nm", ",40,5000", "reference_nm",
                        "300..1100 nm"),
    "default wavelength 5000": (["irradiance", "--reference-nm", "5000"], ",reference_mw_cm2", ",40",
                                "reference_nm", "300..1100 nm"),
    "t_int 1e9 (irradiance)": (["irradiance", "--reference-nm", "660"], ",reference_mw_cm2", ",40", "t_int_ms",
                               "46639.9 ms"),
    "duplicate F1 (spectral)": (["spectral"], ",reference_peak_nm,F1", ",660,5", "'F1' appears twice", ""),
    "t_int 1e-9 (spectral)": (["spectral"], ",reference_peak_nm", ",660", "t_int_ms", "0.00278"),
    "irradiance 1e9 (spectral)": (["spectral"], ",reference_peak_nm,reference_mw_cm2", ",660,1e9",
                                  "reference_mw_cm2", "1000"),
}


@pytest.mark.parametrize("case", REFERENCE_EDGES)
def test_a_calibration_reference_csv_out_of_range_is_refused(tmp_path, capsys, case):
    command, extra_header, extra_cells, named, expected = REFERENCE_EDGES[case]
    row = COUNTS_ROW
    if "t_int 1e9" in case:
        row = f"{ROW_T},1e9"
    elif "t_int 1e-9" in case:
        row = f"{ROW_T},1e-9"
    path = tmp_path / "readings.csv"
    path.write_text(counts(row + extra_cells, header=COUNTS_HEADER + extra_header))
    code, _, err = cli(["calibrate", *command, path, "--transmission", "0.01", "--out", tmp_path / "cal.toml"],
                       capsys)
    assert_refused(code, err, str(path), named, expected)
    assert not (tmp_path / "cal.toml").exists()


def test_a_counts_csv_saved_by_a_spreadsheet_is_read(tmp_path, capsys):
    # Excel's "CSV UTF-8": a byte-order mark before the header, CRLF line ends, a blank line at the end
    path = tmp_path / "counts.csv"
    path.write_bytes(b"\xef\xbb\xbf" + counts(COUNTS_ROW, COUNTS_ROW).replace("\n", "\r\n").encode() + b"\r\n")
    code, _, err = cli(["analyze", path, "--out", tmp_path / "out.csv"], capsys)
    assert code == 0, err
    lines = (tmp_path / "out.csv").read_text().splitlines()
    assert lines[0].startswith("F1,F2,") and len(lines) == 3
