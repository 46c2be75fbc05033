"""Every `rig` command the README shows is a command rig accepts, and the simulated ones run as written.

The README is read at test time, so a renamed option or a command that drifts from the code fails here.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from rig.cli import build_parser

README = Path(__file__).resolve().parents[1] / "README.md"
COMMAND = re.compile(r"^\s*(?:\$\s*)?(?:\.venv/bin/)?rig (\S.*)$")
INLINE = re.compile(r"`(?:\.venv/bin/)?rig ([^`]+)`")


def readme_commands() -> list[str]:
    """`rig ...` commands in the README: lines of code blocks, table cells, and inline spans of a whole command
    (three or more words after `rig`; shorter spans name a command in prose)."""
    found, fenced = [], False
    for line in README.read_text(encoding="utf-8").splitlines():
        if line.strip().startswith("```"):
            fenced = not fenced
            continue
        if not (fenced or line.startswith("    ") or line.startswith("| `")):
            found += [m for m in INLINE.findall(line) if len(shlex.split(m)) >= 3 and "..." not in m]
            continue
        text = line.strip()
        if text.startswith("| `"):
            text = text[3:].split("`", 1)[0]
        text = text.split("  #", 1)[0].strip()
        match = COMMAND.match(text)
        if match and "..." not in text and "[" not in text:
            found.append(match.group(1))
    return found


COMMANDS = readme_commands()


def test_the_readme_shows_the_commands_a_user_needs():
    shown = {shlex.split(c)[0] for c in COMMANDS}
    assert {"run", "analyze", "calibrate", "compare", "report", "check", "off", "read"} <= shown


@pytest.mark.parametrize("command", COMMANDS)
def test_every_readme_command_is_accepted_by_the_parser(command):
    argv = shlex.split(command.replace("<", "").replace(">", ""))
    try:
        build_parser().parse_args(argv)
    except SystemExit as exit_:  # argparse refuses unknown options or bad values with exit 2 (--version: 0)
        if exit_.code != 0:
            pytest.fail(f"README command `rig {command}` is refused by the parser (exit {exit_.code})")


SIMULATED = [c for c in COMMANDS if "--sim" in shlex.split(c) and not any(
    token.endswith((".toml", ".csv")) and not token.startswith("rig/data/") for token in shlex.split(c))]


@pytest.mark.parametrize("command", SIMULATED)
def test_simulated_readme_commands_run_as_written(command, tmp_path):
    # run from the checkout (README paths such as rig/data/example_wrap.toml are relative to it), results to tmp
    from conftest import rig_cli

    argv = shlex.split(command)
    if argv[0] in ("run", "read", "check", "calibrate") and "--out" not in argv:
        argv += ["--out", str(tmp_path / ("cal.toml" if argv[0] == "calibrate" else "results"))]
    if argv[0] == "run":
        argv.append("--quiet")
    done = rig_cli(argv, cwd=README.parent)  # in process, signal handlers put back afterwards
    expected = (0, 1, 3) if argv[0] == "status" else (0, 1)  # status: 3 = no run active, a normal answer
    assert done.returncode in expected, f"`rig {command}` exited {done.returncode}:\n{done.stdout}\n{done.stderr}"


def test_the_readme_says_at_the_top_how_rig_gets_on_path():
    top = "\n".join(README.read_text(encoding="utf-8").splitlines()[:15])
    assert ". .venv/bin/activate" in top and "export PATH=$PWD/.venv/bin:$PATH" in top


def test_the_pi_run_command_uses_the_files_rig_init_writes(tmp_path, monkeypatch):
    """The README's real-bench `rig run --wrap ... --sequence ...` names files that `rig init` makes."""
    from conftest import rig_cli

    init = next(c for c in COMMANDS if c.startswith("init "))
    pi = next(c for c in COMMANDS if c.startswith("run --wrap "))
    monkeypatch.setenv("RIG_BENCH", str(tmp_path / "bench.toml"))
    assert rig_cli(shlex.split(init), cwd=tmp_path).returncode == 0
    argv = shlex.split(pi)
    for option in ("--wrap", "--sequence"):
        assert (tmp_path / argv[argv.index(option) + 1]).is_file()
