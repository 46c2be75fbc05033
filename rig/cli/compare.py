"""``rig compare``: many runs side by side, grouped, or as trends over time."""

from __future__ import annotations

import argparse

from rich.console import Console

from rig.cli.common import EXIT_OK, command_parser, note


def add_parser(commands) -> None:
    parser = command_parser(
        commands, "compare", "compare runs: claims vs measured, verdicts, trends",
        "Line up the claims and measurements (± u, k = 2) of many runs: one row per run, or per wrap, unit or\n"
        "date with --by. Simulated and real runs are not mixed unless --allow-mixed.",
        "rig compare results/", "rig compare results/ --by unit --csv /tmp/units.csv",
        "rig compare results/ --trend", "rig compare results/ --by unit --html /tmp/compare.html",
        "rig compare results/ --by model --csv /tmp/models.csv")
    parser.add_argument("runs", nargs="+", metavar="RUNS", help="run folders, folders of runs, or globs")
    parser.add_argument("--by", choices=["wrap", "unit", "date", "model"],
                        help="one row per group instead of per run; model: each unit's deviation from its wrap "
                             "model's mean, outliers flagged")
    parser.add_argument("--csv", metavar="FILE", help="also write the table as CSV")
    parser.add_argument("--trend", action="store_true", help="trend per unit over time (LED ageing)")
    parser.add_argument("--allow-mixed", action="store_true", help="allow simulated and real runs together")
    parser.add_argument("--html", metavar="FILE", help="also write a one-file HTML comparison page with plots")
    parser.add_argument("--include-incomplete", action="store_true",
                        help="count runs that did not finish in --by groups and trends (left out by default)")
    parser.set_defaults(func=main)


def main(args: argparse.Namespace, console: Console) -> int:
    from rig.reporting.compare_command import run_compare

    by_model = args.by == "model"
    output = run_compare(args.runs, "unit" if by_model else args.by, None if by_model else args.csv, args.html,
                         args.trend, args.allow_mixed, args.include_incomplete, console.width)
    if by_model and not args.trend:
        _by_model(args, output)
    import sys

    for warning in output.warnings:  # runs left out (damaged, or copies of one run): on stderr, named
        print("warning: " + "".join(c if c.isprintable() else repr(c)[1:-1] for c in warning), file=sys.stderr)
    for printable in output.printables:
        if isinstance(printable, str) and printable.startswith("[yellow]note:[/] "):  # notes go to stderr
            note(printable.removeprefix("[yellow]note:[/] "), markup=True)
            continue
        console.print(printable)
    return EXIT_OK


def _by_model(args: argparse.Namespace, output) -> None:
    """Replace the per-unit table with each unit's deviation from its model's mean (and write it as --csv)."""
    from rich.table import Table

    from rig.errors import RigError
    from rig.reporting.compare import compare_table, set_examples_apart
    from rig.reporting.compare_models import model_deviations, model_table
    from rig.results.load import load_runs

    loaded, _ = set_examples_apart(load_runs(args.runs))
    frame = model_deviations(compare_table(loaded, "unit", args.include_incomplete))
    output.printables = [p for p in output.printables if not isinstance(p, Table)]
    output.printables.append(model_table(frame, f"{frame.unit.nunique()} units of {frame.model.nunique()} "
                                                f"wrap model(s): deviation from the model's mean"))
    if args.csv:
        try:
            frame.to_csv(args.csv, index=False)
        except OSError as error:
            raise RigError(f"{args.csv}: cannot write the CSV ({error.strerror or error})") from error
        output.printables.append(f"wrote {args.csv}")
