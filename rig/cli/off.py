"""``rig off``: drive the wrap's power pin off, now, whatever else is running (for after a crash or kill -9).

It needs only the pin: it reads just the ``[switch]`` settings of the bench config, and any other mistake in
that file (or a missing file) is a warning on stderr, never a reason not to drive the pin off.
"""

from __future__ import annotations

import argparse
import sys

from rich.console import Console
from rich.markup import escape

from rig.cli.common import EXIT_OK, add_bench_args, command_parser


def add_parser(commands) -> None:
    parser = command_parser(
        commands, "off", "switch the wrap off now (no lock taken; for after a crash)",
        "Drive the power pin (and the button pin) to their off level and say so. Takes no lock, so it works\n"
        "while a hung or killed rig still holds the bench; the systemd unit runs it after every run and at\n"
        "boot. After rig exits the pin floats: the gate pull-down / normally-open relay keeps the wrap off.\n"
        "Reads only [switch] (power_pin, active_high, button_pin) from the bench config: anything else wrong\n"
        "there, or a missing file, is a warning and the built-in default is used instead.",
        "rig off", "rig off --bench /etc/rig/bench.toml", "rig off --sim",
        "rig off --print-env --bench /etc/rig/bench.toml")
    add_bench_args(parser)
    parser.add_argument("--print-env", action="store_true",
                        help="print the pin and its off level for the systemd units' pinctrl fallback "
                             "(RIG_POWER_PIN=..., RIG_POWER_OFF=dl|dh) and exit; drives nothing")
    parser.set_defaults(func=main)


def pinctrl_env(power_pin: int, active_high: bool) -> str:
    """The units' EnvironmentFile: the power pin and pinctrl's level for off (dl: drive low, dh: drive high)."""
    return f"RIG_POWER_PIN={power_pin}\nRIG_POWER_OFF={'dl' if active_high else 'dh'}\n"


def main(args: argparse.Namespace, console: Console) -> int:
    from rig.wiring import switch_settings

    switch, backend, warnings = switch_settings(args.bench, args.sim)
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if args.print_env:
        sys.stdout.write(pinctrl_env(switch.power_pin, switch.active_high))
        return EXIT_OK
    from rig.hardware.switch import force_off

    factory = None
    if backend == "sim":
        from gpiozero.pins.mock import MockFactory

        factory = MockFactory()
    message = force_off(switch, factory)
    console.print(escape(message))
    return EXIT_OK
