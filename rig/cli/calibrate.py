"""``rig calibrate dark | gains | irradiance | spectral | thermistor | verify``: make and check calibration files
(the work is in the library)."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from rig.cli import calibrate_gains, calibrate_positions
from rig.cli.common import (
    EXIT_CLAIM_FAILED,
    EXIT_OK,
    add_bench_args,
    add_live_args,
    bench_request,
    calibration_target,
    command_parser,
    fraction,
    locked_bench,
    note,
    positive_float,
    positive_int,
)


def add_parser(commands) -> None:
    parser = command_parser(
        commands, "calibrate", "make calibration files (dark, irradiance, spectral, thermistor) and verify them",
        "Calibration files tie this sensor and jig to physical units; rig run and rig analyze use the active\n"
        "one (bench config 'calibration =' or --calibration). The file keeps every reference's raw readings\n"
        "and each step refits them all, so the order of the steps does not matter.",
        "rig calibrate dark --out calibration/as7341-1.toml",
        "rig calibrate irradiance --reference-mw-cm2 42 --reference-nm 660 --switch-on --out calibration/s1.toml",
        "rig calibrate thermistor --probe surface --point 0:32650 --point 25:10000 --point 50:3603",
        "rig calibrate verify --reference-mw-cm2 18.7 --reference-peak-nm 658.7 --switch-on")
    kinds = parser.add_subparsers(dest="kind", required=True, metavar="KIND")

    dark = command_parser(kinds, "dark", "dark counts: wrap off, sensor covered",
                          "Average COUNT readings with the wrap off and the sensor covered (auto-range off).",
                          "rig calibrate dark --count 30 --out calibration/as7341-1.toml")
    add_bench_args(dark)
    dark.add_argument("--count", type=positive_int, default=20, help="readings to average (default 20)")
    dark.add_argument("--out", metavar="FILE", help="calibration file to create or update")
    dark.set_defaults(func=dark_main)

    irradiance = command_parser(
        kinds, "irradiance", "scale against a reference meter (adds points to --out)",
        "Fit the irradiance scale so rig agrees with a trusted meter: live on the bench (the reference source\n"
        "on the jig) or offline from a counts CSV. The raw readings accumulate in the --out file and all are\n"
        "refitted (through the file's spectral calibration and dark counts, whenever they were made).",
        "rig calibrate irradiance --reference-mw-cm2 42.0 --reference-nm 660 --switch-on --out cal.toml",
        "rig calibrate irradiance readings.csv --transmission 0.05 --out cal.toml")
    add_bench_args(irradiance)
    irradiance.add_argument("counts_csv", nargs="?", metavar="COUNTS_CSV",
                            help="offline: readings (rig analyze format, optional reference_mw_cm2 / reference_nm "
                                 "columns); without it the bench is read live")
    irradiance.add_argument("--reference-mw-cm2", type=positive_float, help="the reference meter's reading at the jig")
    irradiance.add_argument("--reference-nm", type=positive_float, help="the reference source's peak wavelength")
    irradiance.add_argument("--reference-u-pct", type=positive_float, default=3.0,
                            help="reference meter's standard uncertainty in %% (default 3)")
    _add_source_args(irradiance, "points")
    irradiance.set_defaults(func=irradiance_main)

    spectral = command_parser(
        kinds, "spectral", "per-channel corrections from sources of known peak (adds to --out)",
        "Fit this sensor's own filter gains and centre shifts from readings of sources whose peak is known\n"
        "(LEDs measured once with a spectrometer, a 650 nm laser module, narrow-band reference LEDs), offline\n"
        "from a REF_CSV or live on the bench. References accumulate in the --out file and are refitted; the\n"
        "production spread is the prior, so three references do not overfit. The irradiance scale stored in\n"
        "the file is refitted through the new table at the same time.",
        "rig calibrate spectral refs.csv --transmission 0.05 --out calibration/as7341-1.toml",
        "rig calibrate spectral --reference-peak-nm 659.2 --reference-u-nm 0.5 --switch-on --out cal.toml")
    add_bench_args(spectral)
    spectral.add_argument("ref_csv", nargs="?", metavar="REF_CSV",
                          help="offline: readings (rig analyze format) + reference_peak_nm [, reference_fwhm_nm, "
                               "reference_u_nm, reference_mw_cm2]")
    spectral.add_argument("--reference-peak-nm", type=positive_float, help="live: the source's measured peak")
    spectral.add_argument("--reference-u-nm", type=positive_float, default=1.0,
                          help="live: standard uncertainty of that peak (default 1 nm)")
    spectral.add_argument("--reference-fwhm-nm", type=positive_float, help="live: the source's FWHM, if known")
    spectral.add_argument("--reference-mw-cm2", type=positive_float,
                          help="live: a reference meter's irradiance at the jig, if measured")
    _add_source_args(spectral, "references")
    spectral.set_defaults(func=spectral_main)

    thermistor = command_parser(
        kinds, "thermistor", "fit Beta or Steinhart-Hart from reference points",
        "Fit one probe's NTC model from (reference temperature, measured resistance) points: Beta from 2,\n"
        "Steinhart-Hart from 3 or more. 'rig read' shows each probe's resistance.",
        "rig calibrate thermistor --probe surface --point 0:32650 --point 25:10000 --point 50:3603",
        "rig calibrate thermistor --probe ambient --points-csv ice-and-boiling.csv --model beta")
    thermistor.add_argument("--probe", required=True, help="probe name (as in the bench config)")
    thermistor.add_argument("--point", action="append", default=[], metavar="C:OHM",
                            help="a reference temperature and the probe's resistance there (repeat)")
    thermistor.add_argument("--points-csv", metavar="FILE", help="CSV with reference_c, resistance_ohm [, probe]")
    thermistor.add_argument("--model", choices=["auto", "beta", "steinhart-hart"], default="auto")
    thermistor.add_argument("--out", metavar="FILE", help="where to write the fit (default calibration/...)")
    thermistor.set_defaults(func=thermistor_main)
    calibrate_positions.add_parser(kinds)  # rig calibrate positions (rig/cli/calibrate_positions.py)
    calibrate_gains.add_parser(kinds)  # rig calibrate gains (rig/cli/calibrate_gains.py)

    verify = command_parser(
        kinds, "verify", "read a reference source against the active calibration (changes nothing)",
        "Read a reference source (live on the jig, or offline from a counts CSV) with the active calibration\n"
        "(--calibration, else the bench config's) and compare with the reference: the error and whether it\n"
        "lies inside the combined k=2 uncertainty of the measurement and the reference. Exit 1 when outside.",
        "rig calibrate verify --reference-mw-cm2 18.7 --reference-peak-nm 658.7 --reference-u-nm 0.5 --switch-on",
        "rig calibrate verify readings.csv --reference-mw-cm2 18.7 --calibration calibration/bench1.toml")
    add_bench_args(verify)
    verify.add_argument("counts_csv", nargs="?", metavar="COUNTS_CSV",
                        help="offline: readings (rig analyze format); without it the bench is read live")
    verify.add_argument("--calibration", metavar="FILE", help="calibration file (default: the bench config's)")
    verify.add_argument("--force-calibration", action="store_true", help="use a calibration made for another sensor")
    verify.add_argument("--reference-mw-cm2", type=positive_float, help="the reference meter's irradiance at the jig")
    verify.add_argument("--reference-u-pct", type=positive_float, default=3.0,
                        help="reference meter's standard uncertainty in %% (default 3)")
    verify.add_argument("--reference-peak-nm", type=positive_float, help="the source's measured peak")
    verify.add_argument("--reference-u-nm", type=positive_float, default=1.0,
                        help="standard uncertainty of that peak (default 1 nm)")
    verify.add_argument("--reference-fwhm-nm", type=positive_float, help="the source's FWHM (simulated source only)")
    add_live_args(verify)
    verify.set_defaults(func=verify_main)


def _add_source_args(parser, adds: str) -> None:
    """Options shared by the calibrations against a reference source: jig, live readings, output file."""
    parser.add_argument("--transmission", type=fraction, help="attenuator transmission (default: file or bench)")
    add_live_args(parser)
    parser.add_argument("--out", metavar="FILE", help=f"calibration file to create or add {adds} to")


def _chip(config):
    from rig.chips import spectral_chip

    return spectral_chip(config.spectral.chip)


def _print_refit(console: Console, calibration, refit) -> None:
    """What the refit of every stored reading gave (the spectral fit, the irradiance scale)."""
    for text in refit.notes:
        note(text)
    if refit.spectral is not None:
        fit = refit.spectral
        for ref in calibration.spectral_references:
            console.print(f"reference {ref.reference_peak_nm:g} ± {ref.reference_u_nm:g} nm: {ref.readings} "
                          f"readings, fitted peak {ref.fitted_peak_nm:.1f} nm, residual {ref.residual_rel:.1%}")
        console.print(f"gains ({', '.join(calibration.spectral_chip.channels)}): "
                      + ", ".join(f"{g:.3f}" for g in fit.gains))
        console.print("filter shifts nm: " + ", ".join(f"{d:+.1f}" for d in fit.shifts_nm))
        console.print(f"peak floor (k=2): red {fit.peak_floor_nm['red']:.1f} nm, "
                      f"NIR {fit.peak_floor_nm['nir']:.1f} nm")
    if refit.scale is not None:
        console.print(f"scale {refit.scale.scale:.4f} ± {refit.scale.scale_u_rel:.1%} (standard) from "
                      f"{len(refit.scale.residuals_rel)} readings; residuals: "
                      + ", ".join(f"{r:+.1%}" for r in refit.scale.residuals_rel[-10:]))
        if calibration.scale_tilt_u_per_100nm:
            console.print(f"scale slope with wavelength {calibration.scale_tilt_per_100nm:+.2%} ± "
                          f"{calibration.scale_tilt_u_per_100nm:.2%} per 100 nm from 660 nm (standard)")


def _save(console: Console, calibration, path, refit, *lines: str) -> int:
    """Write the calibration file, then say what was measured (``lines``), what the refit gave and where it went."""
    from rig.calibration.jobs import save

    save(calibration, path)
    for line in lines:
        console.print(line)
    _print_refit(console, calibration, refit)
    console.print(f"wrote {escape(str(path))} (id {escape(calibration.id)})")
    return EXIT_OK


def _prepare(args: argparse.Namespace, console: Console):
    """The bench config, the calibration file to write (and its contents) and the attenuator's transmission."""
    config = bench_request(args).config()
    path, calibration = calibration_target(args, config)
    transmission = getattr(args, "transmission", None) or calibration.transmission or config.jig.transmission
    return config, path, calibration, transmission


def _reference_source(args: argparse.Namespace, peak_nm: float):
    """The reference source as the simulated bench shines it: ``peak_nm``, --reference-mw-cm2 (default 30) and
    --reference-fwhm-nm (default 20)."""
    from rig.wiring import reference_source_wrap

    return reference_source_wrap(peak_nm, args.reference_mw_cm2 or 30.0, args.reference_fwhm_nm or 20.0)


def _read_live(args: argparse.Namespace, config, source) -> list:
    """Readings of a reference source on the (locked) bench: --count, --switch-on, --settle-s."""
    from rig.calibration.jobs import live_readings

    stack, bench = locked_bench(args, config, source)
    with stack:
        return live_readings(bench, args.count, args.switch_on, args.settle_s)


def dark_main(args: argparse.Namespace, console: Console) -> int:
    from rig.calibration.jobs import calibrate_dark

    config = bench_request(args).config()
    config.spectral.auto_range = False
    path, calibration = calibration_target(args, config)
    stack, bench = locked_bench(args, config)
    with stack:
        dark, refit = calibrate_dark(bench, calibration, args.count)
    return _save(console, calibration, path, refit,
                 f"dark counts ({', '.join(bench.chip.channels)}): " + ", ".join(f"{d:.2f}" for d in dark))


def irradiance_main(args: argparse.Namespace, console: Console) -> int:
    from rig.calibration.jobs import add_irradiance_points, read_reference_counts
    from rig.errors import RigError
    from rig.wiring import reference_source_wrap

    config, path, calibration, transmission = _prepare(args, console)
    if args.counts_csv:
        readings, references = read_reference_counts(Path(args.counts_csv), args.reference_mw_cm2,
                                                     args.reference_nm, _chip(config))
    else:
        if args.reference_mw_cm2 is None or args.reference_nm is None:
            raise RigError("--reference-mw-cm2 and --reference-nm are needed for a live calibration")
        readings = _read_live(args, config, reference_source_wrap(args.reference_nm, args.reference_mw_cm2))
        references = [(args.reference_mw_cm2, args.reference_nm)] * len(readings)
    refit = add_irradiance_points(calibration, readings, references, transmission, args.reference_u_pct)
    return _save(console, calibration, path, refit)


def spectral_main(args: argparse.Namespace, console: Console) -> int:
    from rig.calibration.jobs import add_spectral_references, as_spectral_references
    from rig.calibration.spectral import load_reference_csv
    from rig.errors import RigError

    config, path, calibration, transmission = _prepare(args, console)
    if args.ref_csv:
        new = load_reference_csv(args.ref_csv, chip=_chip(config))
    else:
        if args.reference_peak_nm is None:
            raise RigError("--reference-peak-nm is needed for a live spectral calibration (or give a REF_CSV)")
        source = _reference_source(args, args.reference_peak_nm)
        new = as_spectral_references(_read_live(args, config, source), args.reference_peak_nm,
                                     args.reference_fwhm_nm, args.reference_u_nm, args.reference_mw_cm2)
    refit = add_spectral_references(calibration, new, transmission)
    return _save(console, calibration, path, refit)


def verify_main(args: argparse.Namespace, console: Console) -> int:
    from rig.calibration.select import select_calibration
    from rig.calibration.verify import read_counts_csv, verify

    config = bench_request(args).config()
    path = args.calibration or config.calibration
    calibration, warnings = select_calibration(path, config.spectral.sensor_id, config.jig.transmission,
                                               config.calibration_max_age_days, args.force_calibration,
                                               _chip(config))
    for warning in warnings:
        note(f"warning: {warning}")
    if args.counts_csv:
        readings = read_counts_csv(Path(args.counts_csv), _chip(config))
    else:
        readings = _read_live(args, config, _reference_source(args, args.reference_peak_nm or 660.0))
    checks = verify(readings, calibration, args.reference_mw_cm2, args.reference_u_pct / 100.0,
                    args.reference_peak_nm, args.reference_u_nm)
    console.print(f"calibration {escape(calibration.id)}, {len(readings)} readings:")
    for check in checks:
        verdict = "[green]inside[/]" if check.inside else "[red]OUTSIDE[/]"
        console.print(f"  {check.quantity}: measured {check.measured:.4g} ± {check.measured_u:.2g} {check.unit}, "
                      f"reference {check.reference:.4g} ± {check.reference_u:.2g} (k=2): error {check.error:+.3g} "
                      f"{check.unit} ({check.error / check.reference:+.1%}), allowed ± {check.allowed:.2g}: "
                      f"{verdict}")
    inside = all(check.inside for check in checks)
    console.print("calibration verified: every error inside the stated U" if inside else
                  "[red]calibration NOT verified[/]: an error lies outside the stated U (recalibrate, or check the "
                  "reference)")
    return EXIT_OK if inside else EXIT_CLAIM_FAILED


def thermistor_main(args: argparse.Namespace, console: Console) -> int:
    from rig.calibration.jobs import calibrate_thermistor, thermistor_points

    points = thermistor_points(args.point, args.points_csv, args.probe)
    result = calibrate_thermistor(args.probe, points, args.model, args.out)
    console.print(f"{result.model} fit for probe '{escape(args.probe)}': residuals "
                  + ", ".join(f"{r:+.3f} C" for r in result.residuals_c))
    console.print("put these lines in the probe's \\[\\[thermal.probes]] table of your bench config:")
    for key, value in result.coefficients.items():
        console.print(f"  {key} = {value:.10g}")
    console.print(f"wrote {escape(str(result.path))}")
    return EXIT_OK
