"""``rig off``: drive the wrap's power pin off, now, whatever else is running (for after a crash or kill -9)."""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.markup import escape

from rig.cli.common import EXIT_OK, add_bench_args, bench_request, command_parser


def add_parser(commands) -> None:
    parser = command_parser(
        commands, "off", "switch the wrap off now (no lock taken; for after a crash)",
        "Drive the power pin (and the button pin) to their off level and say so. Takes no lock, so it works\n"
        "while a hung or killed rig still holds the bench; the systemd unit runs it after every run and at\n"
        "boot. After rig exits the pin floats: the gate pull-down / normally-open relay keeps the wrap off.",
        "rig off", "rig off --bench /etc/rig/bench.toml", "rig off --sim")
    add_bench_args(parser)
    parser.set_defaults(func=main)


def main(args: argparse.Namespace, console: Console) -> int:
    from rig.hardware.switch import force_off

    config = bench_request(args).config()
    factory = None
    if config.backend == "sim":
        from gpiozero.pins.mock import MockFactory

        factory = MockFactory()
    message = force_off(config.switch, factory)
    console.print(escape(message))
    return EXIT_OK
