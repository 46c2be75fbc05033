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
# What each exit code means for a command, by command name (calibrate's kinds by theirs); a name not listed
# shows the whole table above.
_DONE, _FAILED = "done", "at least one claim FAILed"
_BAD = "bad input: a file, option or bench config is wrong or missing (nothing was switched on)"
_SWITCHED = "stopped: a guard tripped (interlock, sensor lost, WRAP STILL LIT) or a signal; wrap switched off"
_STOPPED = "interrupted (Ctrl-C or a stop signal)"
_BUG = "internal error in rig (a bug: please report it with the command and its files)"
COMMAND_EXITS: dict[str, dict[int, str]] = {
    "run": {0: "done: every claim PASS, MARGINAL or NOT MEASURED", 1: _FAILED, 2: _BAD,
            3: "the run was ABORTED or ended in ERROR (interlock, sensor lost, signal, WRAP STILL LIT); wrap off",
            4: _BUG},
    "analyze": {0: "done: no claim FAILed (or no profile given)", 1: _FAILED, 2: _BAD, 3: _STOPPED, 4: _BUG},
    "read": {0: _DONE, 2: _BAD, 3: _SWITCHED, 4: _BUG},
    "irradiance": {0: _DONE, 2: _BAD, 3: _SWITCHED, 4: _BUG},
    "spectral": {0: _DONE, 2: _BAD, 3: _SWITCHED, 4: _BUG},
    "calibrate": {0: _DONE, 2: _BAD, 3: _SWITCHED, 4: _BUG},
    **{name: {0: _DONE, 2: _BAD, 3: _STOPPED, 4: _BUG}
       for name in ("check", "off", "dark", "thermistor", "compare", "report", "demo", "init")},
}
COMMAND_EXITS["check"][2] = "a chip or the pin factory is missing, or bad input"


def exit_codes(command: str | None = None) -> str:
    """The exit-code lines a command's --help shows: only the codes it can return (all for an unknown name)."""
    meanings = COMMAND_EXITS.get(command or "")
    if meanings is None:
        return EXIT_CODES
    return "\n".join(["exit codes:", *(f"  {code}  {text}" for code, text in meanings.items())])


def runnable(example: str) -> str:
    """An example command as this shell can run it: a leading `rig` becomes the program that is running
    (`.venv/bin/rig` when the venv is not on PATH)."""
    from rig.invocation import rig_program

    return rig_program() + example[3:] if example.startswith("rig ") else example


def epilog(*examples: str, command: str | None = None) -> str:
    """The end of a command's --help: examples (runnable as printed), then the exit codes it can return."""
    lines = ["examples:", *(f"  {runnable(example)}" for example in examples), "", exit_codes(command)]
    return "\n".join(lines)


def command_parser(commands, name: str, summary: str, description: str, *examples: str
                   ) -> argparse.ArgumentParser:
    """A subcommand with a one-line summary (in ``rig --help``), a description, examples and exit codes."""
    return commands.add_parser(name, help=summary, description=description, epilog=epilog(*examples, command=name),
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


def note(text: str, markup: bool = False) -> None:
    """A note or warning: on stderr (results go to stdout), "note:" in yellow on a terminal; ``markup``: the text
    is rich markup already (escaped)."""
    import sys

    err = Console(stderr=True, highlight=False, soft_wrap=True,
                  width=None if sys.stderr.isatty() else 160)
    err.print(f"[yellow]note:[/] {text if markup else escape(text)}")


def fmt(value) -> str:
    """A table cell: blank for nothing, 4 significant digits for numbers."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return f"{value:.4g}" if isinstance(value, float) else escape(str(value))


def verdict_table(checks, title: str) -> VerdictTable:
    """Claims against measurements, one row per claim (uncertainties are expanded, k = 2)."""
    return VerdictTable(list(checks), title)


class VerdictTable:
    """The verdict table; where the notes would be squeezed to a word per line, they follow it as numbered
    footnotes instead (the table is laid out for the width it is printed at)."""

    NOTE_MIN_WIDTH = 24

    def __init__(self, checks, title: str) -> None:
        self.checks, self.title = checks, title

    def table(self, with_notes: bool) -> Table:
        table = Table(title=escape(self.title), caption="±U: expanded uncertainty (k = 2, about 95 %)",
                      caption_justify="left")
        for header, justify in (("claim", "left"), ("claimed", "right"), ("tolerance", "right"),
                                ("measured", "right"), ("±U", "right"), ("unit", "left"), ("verdict", "left")):
            table.add_column(header, justify=justify, no_wrap=header not in ("claim", "tolerance"))
        if with_notes:
            table.add_column("note", justify="left", min_width=self.NOTE_MIN_WIDTH)
        number = 0
        for check in self.checks:
            verdict, claim = str(check.verdict), escape(check.claim)
            if check.note and not with_notes:
                number += 1
                claim += f" [{number}]"
            cells = [claim, fmt(check.claimed), escape(check.tolerance), fmt(check.measured), fmt(check.uncertainty),
                     escape(check.unit), f"[{VERDICT_STYLE.get(verdict, '')}]{verdict}[/]"]
            table.add_row(*cells, *([escape(check.note)] if with_notes else []))
        return table

    def __rich_console__(self, console, options):
        from rich.measure import Measurement

        bare = self.table(with_notes=False)
        needed = Measurement.get(console, options, bare).maximum + self.NOTE_MIN_WIDTH + 3
        if needed <= options.max_width or not any(c.note for c in self.checks):
            yield self.table(with_notes=True)
            return
        yield bare
        number = 0
        for check in self.checks:
            if check.note:
                number += 1
                yield f"[{number}] {escape(check.claim)}: {escape(check.note)}"


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


def readings_table(rows: list[dict], title: str, probes: list[str], chip) -> Table:
    """Raw bench readings (``rig read``, ``rig check``): the ``chip``'s red filters (600 nm up), broadband and NIR."""
    from rig.chips import Role

    table = Table(title=escape(title))
    red = [name for name in chip.filters_from(600.0) if Role.FILTER in chip.spec(name).roles]
    shown = (*red, chip.name_of(Role.BROADBAND), chip.name_of(Role.NIR))
    columns = [("t_s", "t (s)"), ("wrap_on", "wrap"), ("gain_x", "gain"), ("t_int_ms", "t_int ms"),
               *((name, chip.spec(name).label) for name in shown), ("saturated", "sat")]
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


def calibration_target(args: argparse.Namespace, config):
    """Where ``rig calibrate`` writes (``--out``) and the calibration it adds to there (a warning per mismatch)."""
    from rig.calibration.jobs import calibration_target as target
    from rig.chips import spectral_chip

    path, calibration, warnings = target(args.out, config.spectral.sensor_id, config.jig.attenuator,
                                         config.jig.transmission, spectral_chip(config.spectral.chip))
    for warning in warnings:
        note(f"warning: {warning}")
    return path, calibration


def locked_bench(args: argparse.Namespace, config, default_wrap=None):
    """The bench opened under its lock (as ``rig run`` would), and the stack that closes both."""
    from contextlib import ExitStack

    from rig.lock import BenchLock, bench_lock_path

    stack = ExitStack()
    stack.enter_context(BenchLock(bench_lock_path(config.backend, config.i2c_bus, config.switch.power_pin,
                                                  "results")))
    return stack, stack.enter_context(bench_request(args).open(default_wrap, config))


def add_live_args(parser, count: int = 10, count_help: str = "live readings") -> None:
    """How a reference source is read live on the bench: readings, switching it on through the wrap switch
    (guarded like a run), settling."""
    parser.add_argument("--count", type=positive_int, default=count, help=f"{count_help} (default {count})")
    parser.add_argument("--switch-on", action="store_true",
                        help="power the source through the wrap switch (guarded like a run)")
    parser.add_argument("--settle-s", type=positive_float, default=30.0, help="wait after switching on (default 30 s)")
