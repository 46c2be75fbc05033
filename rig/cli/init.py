"""``rig init``: a bench config, a wrap profile and a sequence to edit, and the next three commands."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from rig.cli.common import EXIT_OK, command_parser


def add_parser(commands) -> None:
    parser = command_parser(
        commands, "init", "write a bench config, a wrap profile and a sequence to edit",
        "Start from nothing: write a commented bench config (to $RIG_BENCH, else ~/.config/rig/bench.toml, where\n"
        "every command looks for it; or --bench FILE), and a wrap profile (my-wrap.toml) and a test sequence\n"
        "(standard.toml) in DIR, copied from rig's commented examples. Existing files are kept unless --force.\n"
        "Then it prints the next three commands.",
        "rig init my-bench", "rig init . --bench ./bench.toml --force")
    parser.add_argument("folder", nargs="?", default=".", metavar="DIR",
                        help="folder for my-wrap.toml and standard.toml (default: the current folder)")
    parser.add_argument("--bench", metavar="FILE", help="write the bench config here instead of the default place")
    parser.add_argument("--force", action="store_true", help="replace files that already exist")
    parser.set_defaults(func=main)


def main(args: argparse.Namespace, console: Console) -> int:
    import sys

    from rig.init_files import bench_target, init_files
    from rig.invocation import rig_command

    result = init_files(Path(args.folder), Path(args.bench) if args.bench else None, args.force)
    for path in result.written:
        console.print(f"wrote {escape(str(path))}", highlight=False)
    for path in result.kept:
        print(f"note: kept {path} as it was (--force replaces it)", file=sys.stderr)
    bench = [] if result.bench == bench_target() and not args.bench else ["--bench", result.bench]
    wrap = ["--wrap", result.profile, "--sequence", result.sequence]
    console.print("\nedit them (the sensor id, pins and attenuator; the maker's claims; the phases), then:",
                  highlight=False)
    steps = ((rig_command("check", *bench), "the sensor, the ADC and the pins answer (on the Pi)"),
             (rig_command("run", "--sim", *bench, *wrap), "try your files on the simulated bench"),
             (rig_command("run", *bench, *wrap), "the real test"))
    for command, what in steps:
        console.print(f"  {escape(command)}    # {what}", highlight=False, soft_wrap=True)
    return EXIT_OK
