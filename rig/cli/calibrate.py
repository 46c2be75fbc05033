"""``rig calibrate dark | irradiance | thermistor``: make calibration files (the work is in the library)."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from rig.cli.common import (
    EXIT_OK,
    add_bench_args,
    bench_request,
    command_parser,
    fraction,
    note,
    positive_float,
    positive_int,
)


def add_parser(commands) -> None:
    parser = command_parser(
        commands, "calibrate", "make calibration files (dark, irradiance, spectral, thermistor)",
        "Calibration files tie this sensor and jig to physical units; rig run and rig analyze use the active\n"
        "one (bench config 'calibration =' or --calibration).",
        "rig calibrate dark --out calibration/as7341-1.toml",
        "rig calibrate irradiance --reference-mw-cm2 42 --reference-nm 660 --switch-on --out calibration/s1.toml",
        "rig calibrate thermistor --probe surface --point 0:32650 --point 25:10000 --point 50:3603")
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
        "on the jig) or offline from a counts CSV. Points accumulate in the --out file and are refitted.",
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
        "production spread is the prior, so three references do not overfit. Then recalibrate irradiance.",
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


def _add_source_args(parser, adds: str) -> None:
    """Options shared by the calibrations against a reference source: jig, live readings, output file."""
    parser.add_argument("--transmission", type=fraction, help="attenuator transmission (default: file or bench)")
    parser.add_argument("--count", type=positive_int, default=10, help="live readings (default 10)")
    parser.add_argument("--switch-on", action="store_true",
                        help="power the source through the wrap switch (guarded like a run)")
    parser.add_argument("--settle-s", type=positive_float, default=30.0, help="wait after switching on (default 30 s)")
    parser.add_argument("--out", metavar="FILE", help=f"calibration file to create or add {adds} to")


def _target(args: argparse.Namespace, config):
    from rig.calibration_jobs import calibration_target

    return calibration_target(args.out, config.spectral.sensor_id, config.jig.attenuator, config.jig.transmission)


def _locked_bench(args: argparse.Namespace, config, default_wrap=None):
    from contextlib import ExitStack

    from rig.lock import BenchLock, bench_lock_path

    stack = ExitStack()
    stack.enter_context(BenchLock(bench_lock_path(config.backend, config.i2c_bus, config.switch.power_pin,
                                                  "results")))
    return stack, stack.enter_context(bench_request(args).open(default_wrap, config))


def _prepare(args: argparse.Namespace):
    """The bench config, the calibration file to write (and its contents) and the attenuator's transmission."""
    config = bench_request(args).config()
    path, calibration = _target(args, config)
    transmission = getattr(args, "transmission", None) or calibration.transmission or config.jig.transmission
    return config, path, calibration, transmission


def _read_live(args: argparse.Namespace, config, source) -> list:
    """Readings of a reference source on the (locked) bench: --count, --switch-on, --settle-s."""
    from rig.calibration_jobs import live_readings

    stack, bench = _locked_bench(args, config, source)
    with stack:
        return live_readings(bench, args.count, args.switch_on, args.settle_s)


def dark_main(args: argparse.Namespace, console: Console) -> int:
    from rig.calibration_jobs import calibrate_dark, save

    config = bench_request(args).config()
    config.spectral.auto_range = False
    path, calibration = _target(args, config)
    stack, bench = _locked_bench(args, config)
    with stack:
        dark = calibrate_dark(bench, calibration, args.count)
    save(calibration, path)
    console.print("dark counts (F1..F8, Clear, NIR): " + ", ".join(f"{d:.2f}" for d in dark))
    console.print(f"wrote {escape(str(path))} (id {escape(calibration.id)})")
    return EXIT_OK


def irradiance_main(args: argparse.Namespace, console: Console) -> int:
    from rig.calibration_jobs import add_irradiance_points, read_reference_counts, save
    from rig.errors import RigError
    from rig.wiring import reference_source_wrap

    config, path, calibration, transmission = _prepare(args)
    if args.counts_csv:
        readings, references = read_reference_counts(Path(args.counts_csv), args.reference_mw_cm2,
                                                     args.reference_nm)
    else:
        if args.reference_mw_cm2 is None or args.reference_nm is None:
            raise RigError("--reference-mw-cm2 and --reference-nm are needed for a live calibration")
        readings = _read_live(args, config, reference_source_wrap(args.reference_nm, args.reference_mw_cm2))
        references = [(args.reference_mw_cm2, args.reference_nm)] * len(readings)
    fit = add_irradiance_points(calibration, readings, references, transmission, args.reference_u_pct)
    save(calibration, path)
    console.print(f"scale {fit.scale:.4f} ± {fit.scale_u_rel:.1%} (standard); residuals: "
                  + ", ".join(f"{r:+.1%}" for r in fit.residuals_rel[-10:]))
    console.print(f"wrote {escape(str(path))} (id {escape(calibration.id)})")
    return EXIT_OK


def spectral_main(args: argparse.Namespace, console: Console) -> int:
    from rig.calibration_jobs import as_spectral_references, save
    from rig.errors import RigError
    from rig.spectral_calibration import add_references, load_reference_csv
    from rig.wiring import reference_source_wrap

    config, path, calibration, transmission = _prepare(args)
    if args.ref_csv:
        new = load_reference_csv(args.ref_csv)
    else:
        if args.reference_peak_nm is None:
            raise RigError("--reference-peak-nm is needed for a live spectral calibration (or give a REF_CSV)")
        source = reference_source_wrap(args.reference_peak_nm, args.reference_mw_cm2 or 30.0,
                                       args.reference_fwhm_nm or 20.0)
        new = as_spectral_references(_read_live(args, config, source), args.reference_peak_nm,
                                     args.reference_fwhm_nm, args.reference_u_nm, args.reference_mw_cm2)
    had_scale = bool(calibration.points)
    fit = add_references(calibration, new, transmission)
    calibration.transmission = transmission
    save(calibration, path)
    for ref in calibration.spectral_references:
        console.print(f"reference {ref.reference_peak_nm:g} ± {ref.reference_u_nm:g} nm: {ref.readings} readings, "
                      f"fitted peak {ref.fitted_peak_nm:.1f} nm, residual {ref.residual_rel:.1%}")
    console.print("gains (F1..F8, Clear, NIR): " + ", ".join(f"{g:.3f}" for g in fit.gains))
    console.print("filter shifts nm: " + ", ".join(f"{d:+.1f}" for d in fit.shifts_nm))
    console.print(f"peak floor (k=2): red {fit.peak_floor_nm['red']:.1f} nm, NIR {fit.peak_floor_nm['nir']:.1f} nm")
    if had_scale:
        note("the irradiance scale in this file was fitted with the previous table: "
             "run `rig calibrate irradiance --out` again")
    console.print(f"wrote {escape(str(path))} (id {escape(calibration.id)})")
    return EXIT_OK


def thermistor_main(args: argparse.Namespace, console: Console) -> int:
    from rig.calibration_jobs import calibrate_thermistor, thermistor_points

    points = thermistor_points(args.point, args.points_csv, args.probe)
    result = calibrate_thermistor(args.probe, points, args.model, args.out)
    console.print(f"{result.model} fit for probe '{escape(args.probe)}': residuals "
                  + ", ".join(f"{r:+.3f} C" for r in result.residuals_c))
    console.print("put these lines in the probe's \\[\\[thermal.probes]] table of your bench config:")
    for key, value in result.coefficients.items():
        console.print(f"  {key} = {value:.10g}")
    console.print(f"wrote {escape(str(result.path))}")
    return EXIT_OK
