"""``rig read``: a few raw readings of every sensor, for wiring and jig checks."""

from __future__ import annotations

import argparse

from rich.console import Console

from rig.cli.common import (
    EXIT_OK,
    add_bench_args,
    bench_request,
    command_parser,
    positive_float,
    positive_int,
    readings_table,
)


def add_parser(commands) -> None:
    parser = command_parser(
        commands, "read", "read the bench a few times and print a table",
        "Read the spectral sensor and every thermistor COUNT times, INTERVAL seconds apart, and print the raw\n"
        "counts, gain, integration time, temperatures and probe resistances. With --on the wrap is switched on\n"
        "while reading (and off at the end, whatever happens). Takes the bench lock.",
        "rig read --sim", "rig read --count 10 --interval 0.5", "rig read --on --count 3")
    add_bench_args(parser)
    parser.add_argument("--count", type=positive_int, default=5, help="number of readings (default 5)")
    parser.add_argument("--interval", type=positive_float, default=1.0, help="seconds between readings (default 1)")
    parser.add_argument("--on", action="store_true", help="switch the wrap on while reading (off at the end)")
    parser.add_argument("--out", metavar="DIR", default="results",
                        help="results folder, for the simulator's bench lock (default: results)")
    parser.set_defaults(func=main)


def main(args: argparse.Namespace, console: Console) -> int:
    from rig.lock import BenchLock, bench_lock_path
    from rig.run.guard import WrapGuard, with_wrap_on
    from rig.run.sample import take_sample

    request = bench_request(args)
    config = request.config()
    def readings(guard: WrapGuard) -> list[dict]:
        start = bench.clock.monotonic()
        rows = []
        for _ in range(args.count):
            rows.append(take_sample(bench, start))
            guard.observe(rows[-1])
            guard.sleep(args.interval)
        return rows

    with BenchLock(bench_lock_path(config.backend, config.i2c_bus, config.switch.power_pin, args.out)), \
            request.open(config=config) as bench:
        rows = with_wrap_on(bench, readings, switch_on=args.on)  # the run's interlock, switch-off and light check
    console.print(readings_table(rows, f"{bench.backend} bench readings", [p.name for p in config.thermal.probes],
                                 bench.chip))
    return EXIT_OK
