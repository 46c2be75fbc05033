"""``rig calibrate gains``: this part's gain ratios from a steady source read at several gains (work in the library)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from rig.cli.common import EXIT_OK, add_bench_args, add_live_args, command_parser, note, positive_float


def add_parser(kinds) -> None:
    parser = command_parser(
        kinds, "gains", "measure the gain ratios from a steady source read at every gain (adds to --out)",
        "The datasheet gives each gain's ratio to 64x only to +/-5 %: a reading at another gain than the\n"
        "irradiance calibration's carries that. Read a steady source (any: its level need not be known) at\n"
        "every gain where it is in range; repeat at 2-3 source levels (dimmer for the high gains, each a new\n"
        "--series) so that the series overlap and one includes 64x. Every reference reading joins too (one\n"
        "series per reference); all are refitted at each step.",
        "rig calibrate gains --switch-on --series bright --out calibration/as7341-1.toml",
        "rig calibrate gains sweep.csv --out calibration/as7341-1.toml")
    add_bench_args(parser)
    parser.add_argument("counts_csv", nargs="?", metavar="COUNTS_CSV",
                        help="offline: readings of one steady source (rig analyze format; a 'series' column if "
                             "several levels); without it the bench is read live")
    parser.add_argument("--series", help="label of this source level (default: the date and time)")
    parser.add_argument("--reference-nm", type=positive_float, default=660.0,
                        help="the source's peak (simulated bench: its LED; default 660)")
    parser.add_argument("--reference-mw-cm2", type=positive_float, default=30.0,
                        help="the source's irradiance at the jig (simulated bench; default 30)")
    add_live_args(parser, count=5, count_help="live readings per gain")
    parser.add_argument("--out", metavar="FILE", help="calibration file to create or add the series to")
    parser.set_defaults(func=main)


def main(args: argparse.Namespace, console: Console) -> int:
    from rig.calibration.jobs import add_gain_series, gain_series_csv, live_gain_series, save
    from rig.chips import spectral_chip
    from rig.cli.common import bench_request, calibration_target, locked_bench
    from rig.errors import RigError
    from rig.wiring import reference_source_wrap

    config = bench_request(args).config()
    chip = spectral_chip(config.spectral.chip)
    path, calibration = calibration_target(args, config)
    label = args.series or datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    if args.counts_csv:
        series = gain_series_csv(Path(args.counts_csv), label, chip)
    else:
        stack, bench = locked_bench(args, config, reference_source_wrap(args.reference_nm, args.reference_mw_cm2))
        with stack:
            series = {label: live_gain_series(bench, args.count, args.switch_on, args.settle_s)}
    for name, readings in series.items():
        gains = sorted({r.gain_x for r in readings if not r.saturated})
        if len(gains) < 2:
            raise RigError(f"gain series {name!r}: the source was in range at {len(gains)} gain(s) only (needs two or "
                           "more: a steadier or dimmer source); nothing written")
        console.print(f"series {escape(name)}: {len(readings)} readings at " + ", ".join(f"{g:g}x" for g in gains))
    refit = add_gain_series(calibration, series)
    save(calibration, path)
    read_at = sorted({r.gain_x for readings in series.values() for r in readings})
    measured = dict(zip(chip.gain_codes_x, refit.gains.measured, strict=True)) if refit.gains else {}
    unlinked = [g for g in read_at if not measured.get(g)]
    if unlinked:
        note(f"not linked to 64x yet: {', '.join(f'{g:g}x' for g in unlinked)} (add a series at a source level "
             "that reads some of these gains and some that are linked: the datasheet ratios stay until then)")
    if refit.gains is not None:
        console.print("gain ratios vs 64x (this part / typical, standard u): " + ", ".join(
            f"{g:g}x {f:.4f} ± {u:.2%}" for g, f, u, m in zip(chip.gain_codes_x, refit.gains.factors,
                                                             refit.gains.u_rel, refit.gains.measured, strict=True)
            if m and g != 64.0))
    console.print(f"wrote {escape(str(path))} (id {escape(calibration.id)})")
    return EXIT_OK
