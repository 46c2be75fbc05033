"""``rig calibrate positions``: every uniformity position's sensor on position 0's scale (work in the library)."""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.markup import escape

from rig.cli.common import EXIT_OK, add_bench_args, add_live_args, command_parser, positive_float


def add_parser(kinds) -> None:
    parser = command_parser(
        kinds, "positions", "cross-calibrate the sensors at the uniformity positions (adds to --out)",
        "Read the same source (a reference LED like the wrap's LEDs, or the wrap itself held over each sensor)\n"
        "with every [[positions]] sensor behind the mux in turn; rig asks for the source to be put over each.\n"
        "Each position's factor onto position 0's scale and its uncertainty go into the --out file; the\n"
        "uniformity statistics of rig run use them.",
        "rig calibrate positions --reference-nm 660 --switch-on --out calibration/bench1.toml",
        "rig calibrate positions --placement-u-pct 2 --count 20 --out calibration/bench1.toml")
    add_bench_args(parser)
    parser.add_argument("--reference-nm", type=positive_float, default=660.0,
                        help="the source's peak wavelength (simulated bench: its LED; default 660)")
    parser.add_argument("--reference-fwhm-nm", type=positive_float, default=20.0,
                        help="the source's FWHM (simulated bench; default 20)")
    parser.add_argument("--reference-mw-cm2", type=positive_float, default=30.0,
                        help="the source's irradiance at the sensor's place (simulated bench; default 30)")
    parser.add_argument("--placement-u-pct", type=positive_float, default=1.0,
                        help="how repeatably the source is put over a sensor, standard %% (default 1)")
    add_live_args(parser, count=10, count_help="readings per position")
    parser.add_argument("--out", metavar="FILE", help="calibration file to create or add the positions to")
    parser.set_defaults(func=main)


def main(args: argparse.Namespace, console: Console) -> int:
    from rig.calibration.jobs import save
    from rig.calibration.positions import fit_scales, read_positions, store
    from rig.cli.common import bench_request, calibration_target, locked_bench
    from rig.wiring import reference_source_wrap

    config = bench_request(args).config()
    path, calibration = calibration_target(args, config)
    source = reference_source_wrap(args.reference_nm, args.reference_mw_cm2, args.reference_fwhm_nm)

    def place(position) -> None:
        if config.backend != "sim":
            console.input(f"Put the source over the sensor at position '{escape(position.name)}' "
                          f"({position.x_mm:g}, {position.y_mm:g} mm), then press Enter ")

    stack, bench = locked_bench(args, config, source)
    with stack:
        levels = read_positions(bench, calibration.calibration(), args.count, args.switch_on, args.settle_s, place)
    scales = fit_scales(levels, args.placement_u_pct / 100.0)
    store(calibration, scales)
    calibration.validate()  # a factor the reader would refuse is never written
    save(calibration, path)
    for level, scale in zip(levels, scales, strict=True):
        console.print(f"position '{escape(level.name)}': {level.mean_mw_cm2:.4g} ± {level.sem_mw_cm2:.2g} mW/cm2 "
                      f"({level.n} readings), factor {scale.scale:.4f} ± {scale.u_rel:.1%} (standard)")
    console.print(f"wrote {escape(str(path))} (id {escape(calibration.id)})")
    return EXIT_OK
