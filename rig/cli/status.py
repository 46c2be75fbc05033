"""``rig status``: what the bench is doing now (wrap, mode, phase, time left, last readings), from the run folder."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from rig.cli.common import EXIT_ABORTED, EXIT_OK, command_parser


def add_parser(commands) -> None:
    parser = command_parser(
        commands, "status", "what the bench is doing now: wrap, mode, phase, time left, last readings",
        "Show the run that holds the bench (also one the systemd unit runs as another user): wrap, mode, phase,\n"
        "elapsed and remaining time, the last irradiance and skin temperature, and any warning. Without an\n"
        "active run, the last run's outcome. Reads the run folder only: never touches the hardware or the lock.\n"
        "Exit 0: a run is active; 3: no run is active (the last run's outcome is shown).",
        ".venv/bin/rig status",
        ".venv/bin/rig status --json",
        ".venv/bin/rig status --sim --out results")
    parser.add_argument("--sim", action="store_true", help="the simulated bench of the results folder --out")
    parser.add_argument("--out", metavar="DIR", default="results", help="results folder of a simulated run "
                                                                       "(default: results)")
    parser.add_argument("--lock-dir", metavar="DIR", help="where real benches keep their lock (default: "
                                                          "$RIG_LOCK_DIR, else /run/lock/rig)")
    parser.add_argument("--json", action="store_true", help="print JSON for scripts")
    parser.set_defaults(func=main)


def main(args: argparse.Namespace, console: Console) -> int:
    from rig.lock import SIM_LOCK_NAME, SYSTEM_LOCK_DIR
    from rig.run.status import find_pointers, pointer_path, read_status, status_lines

    if args.sim:
        pointers = [pointer_path(Path(args.out) / SIM_LOCK_NAME)]
    else:
        pointers = find_pointers(Path(args.lock_dir) if args.lock_dir else SYSTEM_LOCK_DIR)
    statuses = [read_status(p) for p in pointers if p.is_file()]
    active = any(s.active for s in statuses)
    if args.json:
        print(json.dumps({"active": active, "benches": [s.as_dict() for s in statuses]}, indent=2))
    elif not statuses:
        where = Path(args.out) if args.sim else Path(args.lock_dir or SYSTEM_LOCK_DIR)
        console.print(f"no run recorded for {'the simulated bench in ' if args.sim else 'any bench in '}"
                      f"{escape(str(where))}")
    else:
        for status in statuses:
            for line in status_lines(status):
                console.print(escape(line), highlight=False, soft_wrap=True)
    return EXIT_OK if active else EXIT_ABORTED
