"""``rig check``: is every expected chip there, does a pin factory load, and one reading with the wrap off."""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.markup import escape

from rig.cli.common import EXIT_BAD_INPUT, EXIT_OK, add_bench_args, bench_request, command_parser, readings_table


def add_parser(commands) -> None:
    parser = command_parser(
        commands, "check", "check the wiring: every chip answers, GPIO works, one reading",
        "Probe the spectral chip ([spectral] chip: its own ID register) and the ADS1115 on the configured\n"
        "I2C bus (one identity read each), name the gpiozero pin factory that drives the switch (and how to\n"
        "get one when none loads), then take one reading with the wrap off. Switches nothing. Takes the\n"
        "bench lock.",
        "rig check", "rig check --bench ~/.config/rig/bench.toml", "rig check --sim")
    add_bench_args(parser)
    parser.add_argument("--out", metavar="DIR", default="results",
                        help="results folder, for the simulator's bench lock (default: results)")
    parser.set_defaults(func=main)


def _print_statuses(console: Console, statuses, bus_number: int) -> None:
    for status in statuses:
        mark = "[green]OK[/]" if status.present else "[bold red]MISSING[/]"
        console.print(f"{mark} {escape(status.name)} at 0x{status.address:02x} on I2C bus {bus_number}: "
                      f"{escape(status.detail)}")


def main(args: argparse.Namespace, console: Console) -> int:
    from rig.check import probe_devices, probe_real_bus
    from rig.lock import BenchLock, bench_lock_path
    from rig.run.sample import take_sample

    request = bench_request(args)
    config = request.config()
    statuses = None
    if config.backend == "real":
        from rig.hardware.pins import pin_factory_status

        statuses = probe_real_bus(config)
        _print_statuses(console, statuses, config.i2c_bus)
        pins = pin_factory_status()
        mark = "[green]OK[/]" if pins.ok else "[bold red]MISSING[/]"
        console.print(f"{mark} GPIO pin factory: {escape(pins.name or 'none')} ({escape(pins.detail)})")
        if not all(s.present for s in statuses) or not pins.ok:
            return EXIT_BAD_INPUT
    with BenchLock(bench_lock_path(config.backend, config.i2c_bus, config.switch.power_pin, args.out)), \
            request.open(config=config) as bench:
        if statuses is None:
            statuses = probe_devices(bench.probe_bus, config)
            _print_statuses(console, statuses, config.i2c_bus)
        button = config.switch.button_pin
        console.print(f"switch: power pin GPIO{config.switch.power_pin}, button pin "
                      f"{'GPIO' + str(button) if button is not None else 'none'} (not toggled); "
                      f"pin factory {bench.pin_factory}; backend {bench.backend}")
        row = take_sample(bench)
        console.print(readings_table([row], "one reading, wrap off", [p.name for p in config.thermal.probes],
                                     bench.chip))
    return EXIT_OK if all(s.present for s in statuses) else EXIT_BAD_INPUT
