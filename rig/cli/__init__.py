"""The ``rig`` command: one small module per subcommand (argument parsing and printing); the work is in the library.

Every command's ``--help`` lists the exit codes it can return (:data:`rig.cli.common.COMMAND_EXITS`).
"""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Sequence

from rig import __version__
from rig.cli import analyze, calibrate, check, compare, demo, init, off, read, report, run, status
from rig.cli.common import EXIT_ABORTED, EXIT_BAD_INPUT, EXIT_CODES, EXIT_INTERNAL, make_console
from rig.errors import RigError

COMMANDS = (run, status, check, read, off, analyze, calibrate, compare, report, demo, init)


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


WRAP_COMMANDS = ("run", "read", "calibrate")  # the commands that may switch the wrap on


def main(argv: Sequence[str] | None = None) -> int:
    """The command line. One signal gate (:mod:`rig.run.signals`) serves the whole command: the first stop
    signal stops the command's work once; a switch-off, its read-back and light check, and a run's record are
    never interrupted, however many signals arrive. Output that cannot be written (a closed pipe, a hung-up
    terminal, a full device, a closed stdout) is dropped and never changes the exit code
    (:mod:`rig.cli.output`)."""
    from rig.cli.output import safe_output

    with safe_output(as_program=argv is None) as (out, err):
        code = _main(argv)
        if out.lost and err.lost is None:
            print(f"rig: standard output lost ({out.lost}): the rest was not printed; exit code {code} is the "
                  "command's own", file=sys.stderr)
        return code


def _main(argv: Sequence[str] | None) -> int:
    from rig.run.signals import SignalReceived, WrapStillLit, signal_gate
    from rig.text import printable

    # as the program (no argv: the `rig` script, python -m rig.cli) a HUP ignored at start (nohup) stays ignored
    # and signals after the command are ignored (the exit code is decided); called with argv (tests, other
    # programs) the handlers before are put back
    with signal_gate(as_program=argv is None) as gate:
        args = build_parser().parse_args(argv)
        args.rig_main = main  # for a command that runs rig's own commands in this process (`rig demo`)
        console = make_console()
        switched = args.command in WRAP_COMMANDS
        try:
            # `rig off` is itself the way to switch off: nothing stops it half-way
            with gate.noting() if args.command == "off" else gate.raising():
                return args.func(args, console)
        except RigError as error:
            if isinstance(error, WrapStillLit):
                print(f"{printable(error)} NOW (the switch was driven off and read back off; the light stayed on)",
                      file=sys.stderr)
                return EXIT_ABORTED
            if isinstance(error, SignalReceived):
                done = "; wrap switched off" if switched else ""
                print(f"interrupted ({error.name}): stopped{done}", file=sys.stderr)
                return EXIT_ABORTED
            from rig.run.signals import RunAborted

            if isinstance(error, RunAborted):  # a guard stopped a command that had the wrap on: it is off now
                print(f"stopped: {printable(error)}; wrap switched off", file=sys.stderr)
                return EXIT_ABORTED
            print(f"error: {printable(error)}", file=sys.stderr)
            return EXIT_BAD_INPUT
        except KeyboardInterrupt as interrupt:
            print(f"interrupted ({interrupt or 'SIGINT'}): wrap switched off", file=sys.stderr)
            return EXIT_ABORTED
        except BrokenPipeError:  # not from the terminal (rig.cli.output drops those): a pipe the command wrote
            print("error: a pipe the command wrote to closed", file=sys.stderr)
            return EXIT_ABORTED if switched else EXIT_BAD_INPUT
        except Exception:  # a bug: say so plainly, with the details, and exit apart from "claim failed"
            print("internal error in rig (please report it with the command and its files):", file=sys.stderr)
            traceback.print_exc()
            return EXIT_INTERNAL
