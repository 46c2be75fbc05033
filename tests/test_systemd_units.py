"""The shipped systemd units: they parse, every rig command line in them is one rig accepts, and the run unit
switches the wrap off after any exit (ExecStopPost) while the boot unit does so at every boot, each twice: with
`rig off` and with pinctrl, which needs no venv. Hardened as far as the bench allows; the tmpfiles.d entry
makes the bench lock's folder for the `rig` group."""

from __future__ import annotations

import os
import shlex
import shutil
import stat
import subprocess
import sys
from importlib.resources import files
from pathlib import Path

import pytest

from rig.cli import build_parser

UNITS = files("rig") / "data" / "systemd"
INSTALLED_RIG = "/opt/rig/.venv/bin/rig"
HARDENING = {"PrivateTmp", "PrivateNetwork", "NoNewPrivileges", "ProtectSystem", "ReadWritePaths", "ProtectHome",
             "ProtectKernelTunables", "ProtectKernelModules", "ProtectKernelLogs", "ProtectControlGroups",
             "ProtectClock", "ProtectHostname", "RestrictNamespaces", "RestrictRealtime", "RestrictSUIDSGID",
             "LockPersonality", "SystemCallArchitectures", "RestrictAddressFamilies", "CapabilityBoundingSet",
             "UMask", "DevicePolicy", "DeviceAllow"}
SECTIONS = {"Unit": {"Description", "Documentation", "After", "Wants"},
            "Service": {"Type", "User", "Group", "SupplementaryGroups", "Environment", "EnvironmentFile",
                        "StateDirectory", "StateDirectoryMode", "WorkingDirectory", "ExecStart", "ExecStopPost",
                        "SuccessExitStatus", "KillSignal", "TimeoutStopSec", "Restart", "RemainAfterExit",
                        *HARDENING},
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


def command(line: str) -> list[str]:
    """A unit's command line as argv, without systemd's prefixes ('-': failure ignored)."""
    return shlex.split(line.lstrip("-+!@:").replace("%i", "belt"))


def is_rig(argv: list[str]) -> bool:
    return argv[0] == INSTALLED_RIG


def test_both_units_and_the_tmpfiles_entry_are_shipped():
    assert [p.name for p in unit_files()] == ["rig-off.service", "rig-run@.service"]
    assert (Path(str(UNITS)) / "rig.conf").is_file()


@pytest.mark.parametrize("path", unit_files(), ids=lambda p: p.name)
def test_unit_keys_are_known_and_every_rig_command_parses(path):
    unit = parse_unit(path)
    for section, pairs in unit.items():
        assert section in SECTIONS, f"{path.name}: unknown section [{section}]"
        unknown = {k for k, _ in pairs} - SECTIONS[section]
        assert not unknown, f"{path.name}: [{section}] keys not in the reviewed list: {unknown}"
    commands = [command(c) for c in values(unit, "Service", "ExecStart") + values(unit, "Service", "ExecStopPost")]
    assert commands
    for argv in commands:
        assert argv[0].startswith("/")  # absolute, as systemd wants; the README's install puts rig there
        if is_rig(argv):
            build_parser().parse_args(argv[1:])  # argparse exits (SystemExit) on an unknown command or option
        else:
            assert argv[:2] == ["/bin/sh", "-c"] and "pinctrl" in argv[2]  # the one other command: the fallback


def switch_off_lines(unit) -> list[str]:
    kind = "ExecStopPost" if values(unit, "Service", "ExecStopPost") else "ExecStart"
    return values(unit, "Service", kind)


@pytest.mark.parametrize("name", ["rig-run@.service", "rig-off.service"])
def test_each_unit_switches_off_with_rig_then_with_pinctrl_and_neither_stops_the_other(name):
    unit = parse_unit(Path(str(UNITS / name)))
    lines = switch_off_lines(unit)
    assert [command(line)[1:] if is_rig(command(line)) else "pinctrl" for line in lines] == [["off"], "pinctrl"]
    assert all(line.startswith("-") for line in lines)  # a failed rig off (no venv: 203/EXEC) still runs pinctrl
    assert not command(lines[1])[0].startswith("/opt/rig")  # needs nothing from the checkout or its venv
    assert values(unit, "Service", "EnvironmentFile") == ["-/etc/rig/switch.env"]  # optional: no file, no pinctrl


def test_the_run_unit_switches_off_after_any_exit_and_a_failed_claim_is_not_a_failed_service():
    unit = parse_unit(Path(str(UNITS / "rig-run@.service")))
    assert values(unit, "Service", "KillSignal") == ["SIGTERM"]  # caught: the run ends ABORTED, wrap off
    assert values(unit, "Service", "SuccessExitStatus") == ["1"]
    assert values(unit, "Service", "Restart") == ["no"]  # an aborted run is never restarted by itself
    assert "RIG_BENCH=/etc/rig/bench.toml" in values(unit, "Service", "Environment")


def test_the_off_unit_runs_at_boot():
    unit = parse_unit(Path(str(UNITS / "rig-off.service")))
    assert values(unit, "Install", "WantedBy") == ["multi-user.target"]
    assert values(unit, "Service", "Type") == ["oneshot"]


def run_pinctrl_line(line: str, tmp_path, env: dict[str, str]) -> list[str]:
    """Run the unit's pinctrl line as systemd would ('$$' is a literal '$'), with a pinctrl that logs its argv."""
    fake = tmp_path / "bin"
    fake.mkdir(exist_ok=True)
    log = tmp_path / "pinctrl.log"
    (fake / "pinctrl").write_text(f'#!/bin/sh\necho "$@" >> {log}\n')
    os.chmod(fake / "pinctrl", 0o755)
    argv = [arg.replace("$$", "$") for arg in command(line)]
    done = subprocess.run(argv, env={**env, "PATH": f"{fake}:/usr/bin:/bin"}, capture_output=True, text=True,
                          timeout=10)
    assert done.returncode == 0, done.stderr
    return log.read_text().splitlines() if log.exists() else []


@pytest.mark.parametrize(("bench", "expected"), [
    ("[switch]\npower_pin = 22\nactive_high = false\n", ["set 22 op dh"]),  # active-low: off is high
    ("[switch]\npower_pin = 5\n[spectral]\ngain_x = 7\n", ["set 5 op dl"]),  # a mistake elsewhere: the pin
])
def test_the_pinctrl_fallback_drives_the_configured_pin_to_its_off_level(tmp_path, bench, expected):
    from conftest import rig_cli

    (tmp_path / "bench.toml").write_text(bench)
    printed = rig_cli(["off", "--print-env", "--bench", tmp_path / "bench.toml"])
    assert printed.returncode == 0, printed.stderr
    env = dict(line.split("=", 1) for line in printed.stdout.splitlines())  # /etc/rig/switch.env
    line = values(parse_unit(Path(str(UNITS / "rig-run@.service"))), "Service", "ExecStopPost")[1]
    assert run_pinctrl_line(line, tmp_path, env) == expected


def test_without_the_environment_file_pinctrl_is_not_run(tmp_path):
    # no /etc/rig/switch.env: the pin and its off level are unknown, and a guess (dl) would switch an
    # active-low wrap on; rig off (the first line) has done the work
    line = values(parse_unit(Path(str(UNITS / "rig-off.service"))), "Service", "ExecStart")[1]
    assert run_pinctrl_line(line, tmp_path, {}) == []


@pytest.mark.parametrize("name", ["rig-run@.service", "rig-off.service"])
def test_the_units_are_hardened_as_far_as_the_bench_allows(name):
    unit = parse_unit(Path(str(UNITS / name)))
    service = dict(unit["Service"])
    expected = {"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateNetwork": "yes",
                "PrivateTmp": "yes", "DevicePolicy": "closed", "CapabilityBoundingSet": "", "UMask": "0027"}
    assert {key: service.get(key) for key in expected} == expected
    devices = {value.split()[0] for value in values(unit, "Service", "DeviceAllow")}
    assert {"char-i2c", "char-gpiochip", "char-rpi-gpiomem", "char-bcm2835-gpiomem"} <= devices
    if name.startswith("rig-run"):  # the run writes its results (StateDirectory) and takes the bench lock
        assert values(unit, "Service", "ReadWritePaths") == ["-/run/lock/rig"]
        assert values(unit, "Service", "StateDirectory") == ["rig"]


def test_the_tmpfiles_entry_makes_the_lock_folder_for_the_rig_group():
    lines = [line.split() for line in (Path(str(UNITS)) / "rig.conf").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    assert lines == [["d", "/run/lock/rig", "2770", "root", "rig", "-"]]
    from rig.lock import LOCK_DIR_MODE, LOCK_GROUP

    assert (int(lines[0][2], 8), lines[0][4]) == (LOCK_DIR_MODE, LOCK_GROUP)  # as rig makes it when missing
    assert stat.S_ISGID & LOCK_DIR_MODE  # lock files take the folder's group, whoever makes them


def test_package_data_ships_the_units_and_the_tmpfiles_entry():
    text = (Path(__file__).parents[1] / "pyproject.toml").read_text()
    assert '"data/systemd/*.service"' in text and '"data/systemd/*.conf"' in text


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_systemd_analyze_verify_accepts_the_units(tmp_path):
    # verify checks that ExecStart binaries exist: point the copies at this venv's rig and at a user that exists
    rig = Path(sys.executable).with_name("rig")
    assert rig.exists()
    for path in unit_files():
        text = (path.read_text().replace(INSTALLED_RIG, str(rig)).replace("User=rig", "User=root")
                .replace("Group=rig", "Group=root"))
        name = path.name.replace("@.", "@belt.")
        (tmp_path / name).write_text(text)
    done = subprocess.run(["systemd-analyze", "verify", *sorted(str(p) for p in tmp_path.iterdir())],
                          capture_output=True, text=True, cwd=tmp_path, timeout=60)
    complaints = [line for line in done.stderr.splitlines() if "rig-" in line]
    assert done.returncode == 0 and not complaints, done.stderr


@pytest.mark.skipif(shutil.which("systemd-tmpfiles") is None or os.geteuid() != 0,
                    reason="systemd-tmpfiles not installed, or not root (it sets the owner)")
def test_systemd_tmpfiles_makes_the_lock_folder_2770(tmp_path):
    # in a scratch root, with the group root (a 'rig' group need not exist on the machine running the tests)
    conf = tmp_path / "rig.conf"
    conf.write_text((Path(str(UNITS)) / "rig.conf").read_text().replace(" rig ", " root "))
    (tmp_path / "root").mkdir()
    done = subprocess.run(["systemd-tmpfiles", "--create", f"--root={tmp_path / 'root'}", str(conf)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    made = tmp_path / "root" / "run" / "lock" / "rig"
    assert stat.S_IMODE(made.stat().st_mode) == 0o2770
