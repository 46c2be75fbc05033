"""What every command shares: exit codes, argument types, the bench options, tables and banners."""

from __future__ import annotations

import argparse
import math

from rich.console import Console
from rich.table import Table

from rig.text import escape  # rich's escape, control characters written out
from rig.wiring import BenchRequest

EXIT_OK, EXIT_CLAIM_FAILED, EXIT_BAD_INPUT, EXIT_ABORTED, EXIT_INTERNAL = 0, 1, 2, 3, 4
EXIT_CODES = """exit codes:
  0  done (rig run: every claim PASS, MARGINAL or NOT MEASURED)
  1  rig run / analyze: at least one claim FAILed
  2  bad input: a file, option or bench config is wrong or missing (nothing was switched on)
  3  the run was ABORTED or ended in ERROR (interlock, sensor lost, signal, WRAP STILL LIT); wrap switched off
  4  internal error in rig (a bug: please report it with the run folder)"""
VERDICT_STYLE = {"PASS": "green", "MARGINAL": "yellow", "FAIL": "bold red", "NOT MEASURED": "dim"}


def epilog(*examples: str) -> str:
    """The end of a command's --help: examples, then the exit codes."""
    lines = ["examples:", *(f"  {example}" for example in examples), "", EXIT_CODES]
    return "\n".join(lines)


def command_parser(commands, name: str, summary: str, description: str, *examples: str
                   ) -> argparse.ArgumentParser:
    """A subcommand with a one-line summary (in ``rig --help``), a description, examples and exit codes."""
    return commands.add_parser(name, help=summary, description=description, epilog=epilog(*examples),
                               formatter_class=argparse.RawDescriptionHelpFormatter)


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text!r}")
    return value


def fraction(text: str) -> float:
    """argparse type: a number in (0, 1]."""
    value = positive_float(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"expected a fraction in (0, 1], got {text!r}")
    return value


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


def add_bench_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bench", metavar="FILE",
                        help="bench config TOML (default: $RIG_BENCH, else ~/.config/rig/bench.toml, else built-in)")
    parser.add_argument("--sim", action="store_true", help="use simulated hardware (never chosen silently)")
    parser.add_argument("--sim-wrap", metavar="FILE", help="simulated wrap TOML (with --sim)")
    parser.add_argument("--seed", type=int, default=0, help="noise seed for the simulator (default 0)")
    parser.add_argument("--sim-pace", type=positive_float, metavar="X",
                        help="simulated seconds per real second (default: as fast as possible)")


def bench_request(args: argparse.Namespace) -> BenchRequest:
    return BenchRequest(args.bench, args.sim, args.sim_wrap, args.seed, args.sim_pace)


class _Console(Console):
    """rich's Console, but a closed output pipe is a BrokenPipeError for :func:`rig.cli.main` to handle (rich itself
    exits with status 1, which would read as "a claim failed")."""

    def on_broken_pipe(self) -> None:
        raise BrokenPipeError(32, "the output pipe closed")


def make_console() -> Console:
    """The console on ``sys.stdout`` (in ``rig.cli.main``: a :class:`rig.cli.output.SafeStream`)."""
    import sys

    return _Console(file=sys.stdout) if sys.stdout.isatty() else _Console(file=sys.stdout, width=160)


def fmt(value) -> str:
    """A table cell: blank for nothing, 4 significant digits for numbers."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return f"{value:.4g}" if isinstance(value, float) else escape(str(value))


def verdict_table(checks, title: str) -> Table:
    """Claims against measurements, one row per claim (uncertainties are expanded, k = 2)."""
    table = Table(title=escape(title), caption="±U: expanded uncertainty (k = 2, about 95 %)", caption_justify="left")
    for header, justify in (("claim", "left"), ("claimed", "right"), ("tolerance", "right"),
                            ("measured", "right"), ("±U", "right"), ("unit", "left"), ("verdict", "left"),
                            ("note", "left")):
        table.add_column(header, justify=justify)
    for check in checks:
        verdict = str(check.verdict)
        table.add_row(escape(check.claim), fmt(check.claimed), escape(check.tolerance), fmt(check.measured),
                      fmt(check.uncertainty), escape(check.unit), f"[{VERDICT_STYLE.get(verdict, '')}]{verdict}[/]",
                      escape(check.note))
    return table


def frame_table(frame, title: str, max_columns: int | None = None) -> Table:
    """A pandas frame as a rich table (blank cells for missing values, verdicts coloured)."""
    table = Table(title=escape(title))
    columns = list(frame.columns)[:max_columns]
    for column in columns:
        table.add_column(escape(str(column)), overflow="fold")
    for _, row in frame.iterrows():
        cells = []
        for column in columns:
            text = fmt(row[column])
            cells.append(f"[{VERDICT_STYLE[text]}]{text}[/]" if text in VERDICT_STYLE else text)
        table.add_row(*cells)
    return table


def readings_table(rows: list[dict], title: str, probes: list[str]) -> Table:
    """Raw bench readings (``rig read``, ``rig check``)."""
    table = Table(title=escape(title))
    columns = [("t_s", "t (s)"), ("wrap_on", "wrap"), ("gain_x", "gain"), ("t_int_ms", "t_int ms"),
               ("F7", "F7 630"), ("F8", "F8 680"), ("Clear", "Clear"), ("NIR", "NIR"), ("saturated", "sat")]
    for probe in probes:
        columns += [(f"{probe}_c", f"{probe} C"), (f"{probe}_ohm", f"{probe} Ω")]
    for _, header in columns:
        table.add_column(escape(header), justify="right")
    for row in rows:
        cells = []
        for key, _ in columns:
            value = row.get(key)
            if key == "wrap_on":
                value = "on" if value else "off"
            elif key.endswith("_c") and row.get(key[:-2] + "_fault"):
                value = f"FAULT: {row[key[:-2] + '_fault']}"
            elif isinstance(value, float):
                value = f"{value:.1f}"
            cells.append(escape(str(value)))
        table.add_row(*cells)
    return table
