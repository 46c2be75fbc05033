"""``rig compare``: many runs side by side, grouped, or as trends over time."""

from __future__ import annotations

import argparse

from rich.console import Console

from rig.cli.common import EXIT_OK, command_parser


def add_parser(commands) -> None:
    parser = command_parser(
        commands, "compare", "compare runs: claims vs measured, verdicts, trends",
        "Line up the claims and measurements (± u, k = 2) of many runs: one row per run, or per wrap, unit or\n"
        "date with --by. Simulated and real runs are not mixed unless --allow-mixed.",
        "rig compare results/", "rig compare results/2026* --by unit --csv units.csv",
        "rig compare results/ --trend", "rig compare results/ --by unit --html compare.html")
    parser.add_argument("runs", nargs="+", metavar="RUNS", help="run folders, folders of runs, or globs")
    parser.add_argument("--by", choices=["wrap", "unit", "date"], help="one row per group instead of per run")
    parser.add_argument("--csv", metavar="FILE", help="also write the table as CSV")
    parser.add_argument("--trend", action="store_true", help="trend per unit over time (LED ageing)")
    parser.add_argument("--allow-mixed", action="store_true", help="allow simulated and real runs together")
    parser.add_argument("--html", metavar="FILE", help="also write a one-file HTML comparison page with plots")
    parser.add_argument("--include-incomplete", action="store_true",
                        help="count runs that did not finish in --by groups and trends (left out by default)")
    parser.set_defaults(func=main)


def main(args: argparse.Namespace, console: Console) -> int:
    from rig.compare_command import run_compare

    output = run_compare(args.runs, args.by, args.csv, args.html, args.trend, args.allow_mixed,
                         args.include_incomplete, console.width)
    import sys

    for warning in output.warnings:  # runs left out (damaged, or copies of one run): on stderr, named
        print("warning: " + "".join(c if c.isprintable() else repr(c)[1:-1] for c in warning), file=sys.stderr)
    for printable in output.printables:
        console.print(printable)
    return EXIT_OK
