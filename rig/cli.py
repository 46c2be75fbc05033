"""The ``rig`` command: argument parsing and printing only; the work is in the library."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib.resources import files

from rich.console import Console
from rich.table import Table

from rig import __version__
from rig.errors import RigError

EXIT_OK, EXIT_BAD_INPUT, EXIT_ABORTED = 0, 2, 3


def _bench_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bench", metavar="FILE", help="bench config TOML (default: built-in defaults)")
    parser.add_argument("--sim", action="store_true", help="use simulated hardware (never chosen silently)")
    parser.add_argument("--sim-wrap", metavar="FILE", help="simulated wrap TOML (with --sim)")
    parser.add_argument("--seed", type=int, default=0, help="noise seed for the simulator")


def _open_bench(args: argparse.Namespace):
    from rig.bench.factory import open_bench
    from rig.config import load_bench_config
    from rig.sim.wrap import load_wrap_spec

    config = load_bench_config(args.bench, backend="sim" if args.sim else None)
    wrap_path = args.sim_wrap or (str(files("rig") / "data" / "example_wrap.toml") if config.backend == "sim" else None)
    if args.sim_wrap and config.backend != "sim":
        raise RigError("--sim-wrap needs the simulated backend (--sim or backend = \"sim\")")
    spec = load_wrap_spec(wrap_path) if wrap_path else None
    return open_bench(config, sim_wrap=spec, seed=args.seed)


def _readings_table(rows: list[dict], title: str) -> Table:
    table = Table(title=title)
    columns = [("t_s", "t (s)"), ("wrap_on", "wrap"), ("gain_x", "gain"), ("t_int_ms", "t_int ms"),
               ("F7", "F7 630"), ("F8", "F8 680"), ("Clear", "Clear"), ("NIR", "NIR"),
               ("saturated", "sat"), ("surface_c", "surface C"), ("ambient_c", "ambient C")]
    for _, header in columns:
        table.add_column(header, justify="right")
    for row in rows:
        cells = []
        for key, _ in columns:
            value = row.get(key)
            if key == "wrap_on":
                value = "on" if value else "off"
            elif key == "surface_c" and row.get("surface_fault"):
                value = f"FAULT: {row['surface_fault']}"
            elif isinstance(value, float):
                value = f"{value:.1f}"
            cells.append(str(value))
        table.add_row(*cells)
    return table


def cmd_read(args: argparse.Namespace, console: Console) -> int:
    """Read the bench a few times (wrap switched as asked) and print a table."""
    from rig.sample import take_sample

    with _open_bench(args) as bench:
        start = bench.clock.monotonic()
        rows = []
        if args.on:
            bench.switch.on()
        for _ in range(args.count):
            rows.append(take_sample(bench, start))
            bench.clock.sleep(args.interval)
    console.print(_readings_table(rows, f"{bench.backend} bench readings"))
    return EXIT_OK


def cmd_demo(args: argparse.Namespace, console: Console) -> int:
    """Simulated bench, example wrap: dark, on, warm-up, off; prints the readings."""
    from rig.sample import take_sample

    args.sim = True
    with _open_bench(args) as bench:
        start = bench.clock.monotonic()
        rows = [take_sample(bench, start)]
        bench.switch.on()
        for _ in range(6):
            rows.append(take_sample(bench, start))
            bench.clock.sleep(60.0)
        bench.switch.off()
        bench.clock.sleep(30.0)
        rows.append(take_sample(bench, start))
        console.print(_readings_table(rows, f"Simulated bench: {bench.sim.wrap.spec.name}"))
        console.print(f"attenuator: {bench.config.jig.attenuator} (T = {bench.config.jig.transmission:g}); "
                      f"wrap left {'ON' if bench.switch.is_on else 'off'}")
    return EXIT_OK


def cmd_check(args: argparse.Namespace, console: Console) -> int:
    """Open the bench, read every sensor once, pulse nothing: a wiring check."""
    from rig.sample import take_sample

    with _open_bench(args) as bench:
        row = take_sample(bench)
        console.print(f"backend {bench.backend}, I2C bus {bench.config.i2c_bus}: "
                      f"AS7341 at 0x{bench.config.spectral.address:02x} OK, "
                      f"ADS1115 at 0x{bench.config.thermal.address:02x} OK")
        console.print(_readings_table([row], "one reading, wrap off"))
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rig", description="Bench-test rig for red-light therapy LED wraps.")
    parser.add_argument("--version", action="version", version=f"rig {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="run the simulated bench against the example wrap")
    _bench_args(demo)
    demo.set_defaults(func=cmd_demo)

    read = commands.add_parser("read", help="read the bench a few times and print a table")
    _bench_args(read)
    read.add_argument("--count", type=int, default=5, help="number of readings (default 5)")
    read.add_argument("--interval", type=float, default=1.0, help="seconds between readings (default 1)")
    read.add_argument("--on", action="store_true", help="switch the wrap on while reading (off at the end)")
    read.set_defaults(func=cmd_read)

    check = commands.add_parser("check", help="check the wiring: every sensor answers, one reading")
    _bench_args(check)
    check.set_defaults(func=cmd_check)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    console = Console()
    try:
        return args.func(args, console)
    except RigError as error:
        Console(stderr=True).print(f"[bold red]error:[/] {error}")
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        Console(stderr=True).print("[bold red]interrupted[/]: wrap switched off")
        return EXIT_ABORTED


if __name__ == "__main__":
    sys.exit(main())
