"""``rig demo``: the point of rig in about a minute, on the simulated bench (the work is in :mod:`rig.demo`)."""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape

from rig.cli.common import EXIT_OK, command_parser

if TYPE_CHECKING:
    from rig.demo import DemoResult


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
    from rig.demo import closing_lines, run_demo

    def say(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    def run_rig(argv: Sequence[str]) -> tuple[int, str]:
        """One `rig` command in this process (as typed), its exit code and what it printed."""
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
            code = args.rig_main(list(argv))
        return code, printed.getvalue()

    result = run_demo(Path(args.out), run_rig, say, args.seed)
    console.print()
    console.print(verdict_grid(result))
    for line in closing_lines(result):
        console.print(escape(line), highlight=False, soft_wrap=True)
    return EXIT_OK


def verdict_grid(result: DemoResult):
    """Both wraps side by side, one row per mode and claim: measured ± U and the verdict."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    from rig.cli.common import VERDICT_STYLE
    from rig.demo import WRAPS, claimed_text, measured_text

    wraps = [wrap for wrap, _ in WRAPS]
    table = Table(title="the same claims, two simulated wraps (calibrated sensor; ±U: k = 2)", title_justify="left",
                  box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    table.add_column("mode / claim", min_width=16)
    table.add_column("claimed", min_width=10)
    for wrap in wraps:
        table.add_column(f"{wrap}\nmeasured ±U", no_wrap=True, justify="right")
    by_key = {(run.wrap, run.mode): run for run in result.runs}
    modes = list(dict.fromkeys(run.mode for run in result.runs))
    for mode in modes:
        table.add_row(Text(f"mode '{mode}'", style="bold"), *[""] * (1 + len(wraps)))
        first = by_key[(wraps[0], mode)].claims
        for claim in first:
            cells = []
            for wrap in wraps:
                others = [c for c in by_key[(wrap, mode)].claims if c["claim_id"] == claim["claim_id"]]
                if not others:
                    cells.append(Text("-"))
                    continue
                verdict = str(others[0]["verdict"])
                cell = Text(measured_text(others[0]).removesuffix(f" {others[0].get('unit') or ''}") + " ")
                cell.append(f"{verdict:<8}", style=VERDICT_STYLE.get(verdict, ""))
                cells.append(cell)
            table.add_row(str(claim["claim"]), claimed_text(claim), *cells)
    return table
