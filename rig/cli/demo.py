"""``rig demo``: the point of rig in about a minute, on the simulated bench (the work is in :mod:`rig.demo`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from rig.cli.common import EXIT_OK, command_parser


def add_parser(commands) -> None:
    parser = command_parser(
        commands, "demo", "calibrate the simulated sensor, test an honest and a lying wrap, verdicts side by side",
        "Calibrate the simulated sensor with reference LEDs as the README's procedure does, then test the\n"
        "example profile's every mode on an honest simulated wrap and on a lying one (630 nm LEDs sold as\n"
        "660 nm, 30 % less light), and print both verdict tables side by side with the reason for each FAIL.\n"
        "Everything goes to a new folder under --out; the output ends with the commands to look further.",
        "rig demo", "rig demo --out /tmp/rig-demo")
    parser.add_argument("--out", metavar="DIR", default="demo", help="folder for the demo's files (default: demo)")
    parser.add_argument("--seed", type=int, default=0, help="noise seed for the simulator (default 0)")
    parser.set_defaults(func=main)


def main(args: argparse.Namespace, console: Console) -> int:
    from rig.demo import closing_lines, run_demo, verdict_grid

    def say(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    result = run_demo(Path(args.out), say, args.seed)
    console.print()
    console.print(verdict_grid(result))
    for line in closing_lines(result):
        console.print(escape(line), highlight=False, soft_wrap=True)
    return EXIT_OK
