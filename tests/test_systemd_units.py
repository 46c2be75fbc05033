"""The shipped systemd units: they parse, every rig command line in them is one rig accepts, and the run unit
switches the wrap off after any exit (ExecStopPost) while the boot unit does so at every boot."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from importlib.resources import files
from pathlib import Path

import pytest

from rig.cli import build_parser

UNITS = files("rig") / "data" / "systemd"
INSTALLED_RIG = "/opt/rig/.venv/bin/rig"
SECTIONS = {"Unit": {"Description", "Documentation", "After", "Wants"},
            "Service": {"Type", "User", "SupplementaryGroups", "Environment", "PrivateTmp", "StateDirectory",
                        "WorkingDirectory", "ExecStart", "ExecStopPost", "SuccessExitStatus", "KillSignal",
                        "TimeoutStopSec", "Restart", "RemainAfterExit"},
            "Install": {"WantedBy"}}


def parse_unit(path: Path) -> dict[str, list[tuple[str, str]]]:
    """Sections of a unit file as (key, value) lists (systemd allows a key more than once)."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current = None
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], [])
            continue
        key, equals, value = line.partition("=")
        assert equals and current is not None, f"{path.name}:{number}: not 'Key=value' inside a section: {line}"
        current.append((key.strip(), value.strip()))
    return sections


def values(unit, section: str, key: str) -> list[str]:
    return [v for k, v in unit.get(section, []) if k == key]


def unit_files() -> list[Path]:
    return sorted(Path(str(UNITS)).glob("*.service"))


def test_both_units_are_shipped():
    assert [p.name for p in unit_files()] == ["rig-off.service", "rig-run@.service"]


@pytest.mark.parametrize("path", unit_files(), ids=lambda p: p.name)
def test_unit_keys_are_known_and_every_rig_command_parses(path):
    unit = parse_unit(path)
    for section, pairs in unit.items():
        assert section in SECTIONS, f"{path.name}: unknown section [{section}]"
        unknown = {k for k, _ in pairs} - SECTIONS[section]
        assert not unknown, f"{path.name}: [{section}] keys not in the reviewed list: {unknown}"
    commands = values(unit, "Service", "ExecStart") + values(unit, "Service", "ExecStopPost")
    assert commands
    for command in commands:
        argv = shlex.split(command.replace("%i", "belt"))
        assert argv[0] == INSTALLED_RIG  # absolute, as systemd wants; the README's install puts rig there
        build_parser().parse_args(argv[1:])  # argparse exits (SystemExit) on an unknown command or option


def test_the_run_unit_switches_off_after_any_exit_and_a_failed_claim_is_not_a_failed_service():
    unit = parse_unit(Path(str(UNITS / "rig-run@.service")))
    assert [shlex.split(c)[1:] for c in values(unit, "Service", "ExecStopPost")] == [["off"]]
    assert values(unit, "Service", "KillSignal") == ["SIGTERM"]  # caught: the run ends ABORTED, wrap off
    assert values(unit, "Service", "SuccessExitStatus") == ["1"]
    assert values(unit, "Service", "Restart") == ["no"]  # an aborted run is never restarted by itself
    assert "RIG_BENCH=/etc/rig/bench.toml" in values(unit, "Service", "Environment")


def test_the_off_unit_runs_at_boot():
    unit = parse_unit(Path(str(UNITS / "rig-off.service")))
    assert [shlex.split(c)[1:] for c in values(unit, "Service", "ExecStart")] == [["off"]]
    assert values(unit, "Install", "WantedBy") == ["multi-user.target"]
    assert values(unit, "Service", "Type") == ["oneshot"]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_systemd_analyze_verify_accepts_the_units(tmp_path):
    # verify checks that ExecStart binaries exist: point the copies at this venv's rig and at a user that exists
    rig = Path(sys.executable).with_name("rig")
    assert rig.exists()
    for path in unit_files():
        text = path.read_text().replace(INSTALLED_RIG, str(rig)).replace("User=rig", "User=root")
        name = path.name.replace("@.", "@belt.")
        (tmp_path / name).write_text(text)
    done = subprocess.run(["systemd-analyze", "verify", *sorted(str(p) for p in tmp_path.iterdir())],
                          capture_output=True, text=True, cwd=tmp_path, timeout=60)
    complaints = [line for line in done.stderr.splitlines() if "rig-" in line]
    assert done.returncode == 0 and not complaints, done.stderr
