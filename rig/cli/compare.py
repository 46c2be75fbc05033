"""``rig compare``: many runs side by side, grouped, or as trends over time."""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.markup import escape

from rig.cli.common import EXIT_OK, command_parser, frame_table


def add_parser(commands) -> None:
    parser = command_parser(
        commands, "compare", "compare runs: claims vs measured, verdicts, trends",
        "Line up the claims and measurements (± u, k = 2) of many runs: one row per run, or per wrap, unit or\n"
        "date with --by. Simulated and real runs are not mixed unless --allow-mixed.",
        "rig compare results/", "rig compare results/2026* --by unit --csv units.csv",
        "rig compare results/ --trend")
    parser.add_argument("runs", nargs="+", metavar="RUNS", help="run folders, folders of runs, or globs")
    parser.add_argument("--by", choices=["wrap", "unit", "date"], help="one row per group instead of per run")
    parser.add_argument("--csv", metavar="FILE", help="also write the table as CSV")
    parser.add_argument("--trend", action="store_true", help="trend per unit over time (LED ageing)")
    parser.add_argument("--allow-mixed", action="store_true", help="allow simulated and real runs together")
    parser.set_defaults(func=main)


def main(args: argparse.Namespace, console: Console) -> int:
    from rig.compare import check_mixing, compare_table, terminal_view, trend
    from rig.errors import RigError
    from rig.load import load_runs
    from rig.results import safe_cell

    loaded = load_runs(args.runs)
    if loaded.runs.empty:
        raise RigError(f"no runs found in {' '.join(args.runs)}")
    for warning in check_mixing(loaded, args.allow_mixed):
        console.print(f"[yellow]note:[/] {escape(warning)}")
    table = compare_table(loaded, args.by)
    if args.csv:
        try:
            table.map(safe_cell).to_csv(args.csv, index=False)
        except OSError as error:
            raise RigError(f"cannot write {args.csv}: {error.strerror or error}") from error
        console.print(f"wrote {escape(args.csv)}")
    if args.trend:
        console.print(frame_table(trend(loaded), "trend per unit (change per month from a linear fit)"))
    else:
        console.print(frame_table(terminal_view(table),
                                  f"{len(loaded.runs)} runs" + (f" by {args.by}" if args.by else "")))
    return EXIT_OK
