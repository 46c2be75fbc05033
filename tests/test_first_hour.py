"""The first hour: `rig demo` catches a lying wrap, `rig init` starts from nothing, and every command rig prints
(--help examples, the demo's and init's closing lines) is one rig accepts as printed."""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path

import pytest
from conftest import rig_cli

from rig.cli import build_parser

REPO = Path(__file__).resolve().parents[1]


def _subparsers(parser):
    import argparse

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield name, sub
                yield from _subparsers(sub)


def _help_examples() -> list[tuple[str, str]]:
    found = []
    for name, sub in _subparsers(build_parser()):
        epilog = sub.epilog or ""
        block = epilog.split("examples:", 1)[1].split("\n\n", 1)[0] if "examples:" in epilog else ""
        for line in block.splitlines():
            if line.strip():
                found.append((name, line.strip().split("  #", 1)[0].strip()))
    return found


@pytest.mark.parametrize("name, example", _help_examples())
def test_every_help_example_is_runnable_as_printed(name, example):
    words = shlex.split(example)
    # the program word is the one that runs in this shell: `rig` on PATH, else this venv's script
    assert words[0] == "rig" or Path(words[0]).name == "rig" and Path(words[0]).exists(), example
    try:
        build_parser().parse_args(words[1:])
    except SystemExit as exit_:
        pytest.fail(f"--help example `{example}` of {name} is refused by the parser (exit {exit_.code})")


def test_help_lists_only_the_exit_codes_a_command_can_return():
    def codes(argv):
        text = rig_cli([*argv, "--help"]).stdout
        return set(re.findall(r"(?m)^  ([0-4])  ", text.split("exit codes:", 1)[1]))

    assert codes(["run"]) == {"0", "1", "2", "3", "4"}
    assert "1" not in codes(["compare"]) and "1" not in codes(["report"]) and "1" not in codes(["calibrate", "dark"])
    assert "1" in codes(["analyze"])


def test_version_flags():
    for flag in ("-V", "--version"):
        done = rig_cli([flag])
        assert done.returncode == 0 and done.stdout.startswith("rig ")


@pytest.fixture(scope="module")
def one_run(tmp_path_factory):
    """One uncalibrated simulated run of the shipped example: (what `rig run` printed, its results folder)."""
    results = tmp_path_factory.mktemp("one") / "results"
    return rig_cli(["run", "--sim", "--quiet", "--out", results]), results


def test_notes_go_to_stderr_and_results_to_stdout(one_run):
    done, _ = one_run
    assert "no calibration file" in done.stderr and "no calibration file" not in done.stdout
    assert "outcome" in done.stdout


def test_verdict_notes_are_never_one_word_per_line():
    from rich.console import Console

    from rig.claims.verdict import ClaimCheck, Verdict
    from rig.cli.common import verdict_table

    note = "integrated over 900 s switched on"
    checks = [ClaimCheck(claim_id="dose_j_cm2", claim="dose per session", unit="J/cm2", claimed=45.0,
                         tolerance="±20 %", low=36.0, high=54.0, measured=46.0, uncertainty=7.0,
                         verdict=Verdict.PASS, note=note)]
    for width in (80, 100, 160):
        console = Console(width=width, record=True, force_terminal=False)
        console.print(verdict_table(checks, "t"))
        text = console.export_text()
        assert note in text.replace("\n", " ") and max(len(line) for line in text.splitlines()) <= width
        assert note in text, f"the note is cut or folded at {width} columns:\n{text}"


def test_load_runs_takes_a_folder_as_str_or_path(one_run):
    from rig.results.load import load_runs

    _, results = one_run
    for given in (str(results), results):
        assert len(load_runs(given).runs) == 1


def test_init_writes_three_files_rig_reads_and_keeps_what_is_there(tmp_path, monkeypatch):
    from rig.config import load_bench_config
    from rig.profile import load_profile
    from rig.sequence import load_sequence

    monkeypatch.setenv("RIG_BENCH", str(tmp_path / "etc" / "bench.toml"))
    done = rig_cli(["init", tmp_path / "mine"])
    assert done.returncode == 0, done.stderr
    bench, wrap, sequence = tmp_path / "etc" / "bench.toml", tmp_path / "mine" / "my-wrap.toml", \
        tmp_path / "mine" / "standard.toml"
    load_bench_config(bench), load_profile(wrap), load_sequence(sequence)
    assert all("#" in p.read_text() for p in (bench, wrap, sequence))  # commented, to edit
    commands = [line.split("  #", 1)[0].strip() for line in done.stdout.splitlines() if " run " in line
                or line.strip().endswith(" check") or " check " in line]
    assert len(commands) == 3, done.stdout
    for command in commands:
        build_parser().parse_args(shlex.split(command)[1:])
    # the simulated one runs as printed (results elsewhere)
    sim = shlex.split(next(c for c in commands if "--sim" in c))[1:]
    ran = rig_cli([*sim, "--quiet", "--out", tmp_path / "results"])
    assert ran.returncode in (0, 1), ran.stdout + ran.stderr
    # never overwrites without --force
    wrap.write_text(wrap.read_text() + "\n# mine\n")
    again = rig_cli(["init", tmp_path / "mine"])
    assert again.returncode == 0 and wrap.read_text().endswith("# mine\n") and "kept" in again.stderr
    forced = rig_cli(["init", tmp_path / "mine", "--force"])
    assert forced.returncode == 0 and not wrap.read_text().endswith("# mine\n")


def test_the_lying_wrap_is_what_its_file_says():
    """The lie the demo must catch, stated here: 630 nm LEDs where the profile claims 660 ± 10 nm, and 70 % of
    the honest wrap's light (35 of a claimed 50 mW/cm2, below the 40 mW/cm2 limit)."""
    honest = tomllib.loads((REPO / "rig/data/example_wrap.toml").read_text())
    lying = tomllib.loads((REPO / "rig/data/example_wrap_lying.toml").read_text())
    red = next(s for s in lying["strings"] if s["name"] == "red")
    assert red["peak_nm"] == 630.0
    total = sum(s["irradiance_mw_cm2"] for s in lying["strings"])
    assert total == pytest.approx(0.7 * sum(s["irradiance_mw_cm2"] for s in honest["strings"]))


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    done = rig_cli(["demo", "--out", out], cwd=REPO)
    assert done.returncode == 0, done.stdout + done.stderr
    return done, out


@pytest.mark.xdist_group("repo_cwd")  # rig run in the repository's folder: one sim-bench lock there, one worker
def test_demo_calibrates_and_catches_the_lie(demo):
    done, out = demo
    from rig.results.read import read_manifest, read_summary

    runs = sorted(path.parent for path in (next(out.iterdir()) / "results").glob("*/run.json"))
    assert len(runs) == 2  # one run per wrap (honest, lying), each testing both modes of the example profile
    by_wrap = {}
    for run in runs:
        manifest = read_manifest(run)
        assert manifest["calibration"]["calibrated"]
        wrap = "lying" if "lying" in str(manifest["sim_wrap"]) else "honest"
        by_wrap.setdefault(wrap, []).append(read_summary(run / "summary.csv"))
    for summary in by_wrap["honest"]:
        assert "FAIL" not in set(summary["verdict"])
    for summary in by_wrap["honest"] + by_wrap["lying"]:
        assert set(summary["mode"]) == {"red+nir", "red"}
    for summary in by_wrap["lying"]:
        for _, mode in summary.groupby("mode"):
            verdict = dict(zip(mode["claim_id"], mode["verdict"], strict=True))
            assert verdict["red_peak_nm"] == "FAIL"  # 630 nm against 650-670 nm, in every mode
    assert "honest wrap" in done.stdout and "lying wrap: FAIL" in done.stdout
    assert "red peak wavelength: measured 63" in done.stdout and "outside the claimed 650-670 nm" in done.stdout


@pytest.mark.xdist_group("repo_cwd")  # rig run in the repository's folder: one sim-bench lock there, one worker
def test_demo_ends_with_commands_that_run_as_printed(demo):
    done, _ = demo
    tail = done.stdout.split("look further", 1)[1]
    commands = [line.split("  #", 1)[0].strip() for line in tail.splitlines()[1:] if line.startswith("  ")
                and not line.strip().startswith("(")]
    assert len(commands) >= 3
    for command in commands:
        words = shlex.split(command)
        assert Path(REPO, words[0]).exists() or words[0] == "rig", command
        build_parser().parse_args(words[1:])
    report = shlex.split(next(c for c in commands if " report " in c and "--pdf" not in c))
    assert rig_cli(report[1:], cwd=REPO).returncode == 0


@pytest.mark.xdist_group("repo_cwd")  # rig run in the repository's folder: one sim-bench lock there, one worker
def test_the_certificate_is_one_page_with_the_verdicts_in_its_text(demo, tmp_path):
    """Rendered where poppler is installed (apt-get install poppler-utils); skipped cleanly elsewhere."""
    import shutil
    import subprocess

    from rig.reporting.certificate import write_certificate
    from rig.results.read import read_summary

    _, out = demo
    lying = next(p.parent for p in (next(out.iterdir()) / "results").glob("*/run.json")
                 if "lying" in p.read_text())
    pdf = write_certificate(lying, tmp_path / "certificate.pdf")
    assert pdf.read_bytes().startswith(b"%PDF")
    if not (shutil.which("pdftoppm") and shutil.which("pdftotext") and shutil.which("pdfinfo")):
        pytest.skip("poppler-utils not installed: the PDF is written but not rendered")
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert re.search(r"(?m)^Pages:\s+1$", info)
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout
    summary = read_summary(lying / "summary.csv")
    assert "FAIL" in text and "SIMULATED" in text and "Calibration traceability" in text
    for claim in summary.claim:
        assert claim in text
    assert "reference LED 630 nm" in text and "± 0.5 nm" in text  # the references and their u
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(pdf), str(tmp_path / "page")], check=True)
    assert len(list(tmp_path.glob("page*.png"))) == 1


OFFLINE = ("compare", "report", "analyze", "init")
BENCH = ("read", "check", "off", "calibrate")


def _runnable_here(words: list[str]) -> bool:
    """An example that needs no real bench and whose input files ship with the checkout."""
    kind = words[1]
    if kind in ("run", "demo"):  # run as written by the README test and the demo test
        return False
    if kind in BENCH and "--sim" not in words:
        return False
    inputs = [w for w in words[2:] if not w.startswith("-") and ("/" in w or "." in w) and not w.startswith("/tmp")]
    outputs = {words[i + 1] for i, w in enumerate(words[:-1]) if w in ("--out", "--csv", "--html", "--bench")}
    return kind in OFFLINE + BENCH and all((REPO / w).exists() for w in inputs if w not in outputs)


@pytest.mark.xdist_group("repo_cwd")  # rig run in the repository's folder: one sim-bench lock there, one worker
@pytest.mark.parametrize("name, example", [e for e in _help_examples() if _runnable_here(shlex.split(e[1]))])
def test_help_examples_that_need_no_bench_run_as_written(name, example, tmp_path, monkeypatch):
    words = [w.replace("/tmp/", f"{tmp_path}/") for w in shlex.split(example)]
    monkeypatch.delenv("RIG_BENCH", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))  # no user's bench; rig init writes here
    if words[1] == "init":
        words = [w if not w.startswith("my-bench") else str(tmp_path / w) for w in words]
        monkeypatch.chdir(tmp_path)
        done = rig_cli(words[1:], cwd=tmp_path)
    else:
        done = rig_cli(words[1:], cwd=REPO)
    assert done.returncode == 0, f"{example}:\n{done.stdout}\n{done.stderr}"


def test_the_certificate_stamps_what_a_reader_must_know(one_run, tmp_path):
    import json
    import shutil

    from rig.reporting.certificate import certificate_figure, stamps
    from rig.results.banners import read_manifest

    _, results = one_run
    run = next(p.parent for p in results.glob("*/run.json"))
    manifest = read_manifest(run)
    assert stamps(manifest, True) == ["SIMULATED", "UNCALIBRATED"]  # the simulator, no calibration file
    cut = tmp_path / "cut"
    shutil.copytree(run, cut)
    data = json.loads((cut / "run.json").read_text())
    data.update(outcome="ABORTED", reason="over-temperature")
    (cut / "run.json").write_text(json.dumps(data))
    figure = certificate_figure(cut)
    texts = [t.get_text() for t in figure.texts]
    assert "SIMULATED · UNCALIBRATED · DID NOT FINISH" in texts
    assert {"SIMULATED", "UNCALIBRATED", "DID NOT FINISH"} <= set(texts)  # across the page too
    overall = next(t for t in figure.texts if t.get_gid() == "overall")
    assert "DID NOT FINISH" in overall.get_text()
