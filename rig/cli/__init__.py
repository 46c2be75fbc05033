"""The ``rig`` command: one small module per subcommand (argument parsing and printing); the work is in the library.

Every command's ``--help`` lists the exit codes it can return (:data:`rig.cli.common.COMMAND_EXITS`).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import traceback
from collections.abc import Sequence

from rig import __version__
from rig.cli import analyze, calibrate, check, compare, demo, init, off, read, report, run, status
from rig.cli.common import EXIT_ABORTED, EXIT_BAD_INPUT, EXIT_CODES, EXIT_INTERNAL, make_console
from rig.errors import RigError

COMMANDS = (run, status, check, read, off, analyze, calibrate, compare, report, demo, init)
CATCHABLE = ("SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rig", description="Bench-test rig for red-light therapy LED wraps: spectra, irradiance, dose and "
                                "skin temperature against the maker's claims, with uncertainties.",
        epilog=_first_steps() + "\n\n" + EXIT_CODES + "\n\nrig COMMAND --help tells more about each "
               "(and lists only the exit codes it can return).",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-V", "--version", action="version", version=f"rig {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(commands)
    return parser


def _first_steps() -> str:
    from rig.cli.common import runnable

    steps = (("rig demo", "calibrate the simulated sensor, catch a lying wrap (about 30 s)"),
             ("rig init my-bench", "a bench config, a wrap profile and a sequence to edit"),
             ("rig run --sim", "one simulated run of the shipped example wrap"),
             ("rig compare results/", "every run so far, side by side"))
    width = max(len(runnable(command)) for command, _ in steps) + 2
    return "first steps:\n" + "\n".join(f"  {runnable(command):<{width}}# {what}" for command, what in steps)


def _unwind(signum: int, _frame: object) -> None:
    """A stop signal unwinds like Ctrl-C, so every open bench is closed (wrap off) on the way out."""
    raise KeyboardInterrupt(signal.Signals(signum).name)


def main(argv: Sequence[str] | None = None) -> int:
    for name in CATCHABLE:
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), _unwind)
    args = build_parser().parse_args(argv)
    console = make_console()
    try:
        return args.func(args, console)
    except RigError as error:
        from rig.run.signals import RunAborted

        if isinstance(error, RunAborted):  # a guard stopped a command that had the wrap on: it is off now
            print(f"stopped: {error}; wrap switched off", file=sys.stderr)
            return EXIT_ABORTED
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt as interrupt:
        print(f"interrupted ({interrupt or 'SIGINT'}): wrap switched off", file=sys.stderr)
        return EXIT_ABORTED
    except BrokenPipeError:
        # the reader went away (e.g. `| head`): nothing more to print; silence the flush at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        if args.command in ("run", "read"):  # stopped early: say so where it can still be read
            print(f"rig {args.command}: the output pipe closed: stopped, wrap switched off", file=sys.stderr)
            return EXIT_ABORTED
        return 0
    except Exception:  # a bug: say so plainly, with the details, and exit apart from "claim failed"
        print("internal error in rig (please report it with the command and its files):", file=sys.stderr)
        traceback.print_exc()
        return EXIT_INTERNAL
