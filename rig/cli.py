"""The ``rig`` command: argument parsing and printing only; the work is in the library."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib.resources import files

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from rig import __version__
from rig.errors import RigError

EXIT_OK, EXIT_CLAIM_FAILED, EXIT_BAD_INPUT, EXIT_ABORTED = 0, 1, 2, 3
VERDICT_STYLE = {"PASS": "green", "MARGINAL": "yellow", "FAIL": "bold red", "NOT MEASURED": "dim"}


def positive_float(text: str) -> float:
    """argparse type: a number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return value


def _bench_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bench", metavar="FILE", help="bench config TOML (default: built-in defaults)")
    parser.add_argument("--sim", action="store_true", help="use simulated hardware (never chosen silently)")
    parser.add_argument("--sim-wrap", metavar="FILE", help="simulated wrap TOML (with --sim)")
    parser.add_argument("--seed", type=int, default=0, help="noise seed for the simulator")
    parser.add_argument("--sim-pace", type=positive_float, metavar="X",
                        help="simulated seconds per real second (default: as fast as possible)")


def _shipped(name: str) -> str:
    return str(files("rig") / "data" / name)


def _bench_config(args: argparse.Namespace):
    from rig.config import load_bench_config

    config = load_bench_config(args.bench, backend="sim" if args.sim else None)
    if args.sim_wrap and config.backend != "sim":
        raise RigError("--sim-wrap needs the simulated backend (--sim or backend = \"sim\" in the bench config)")
    return config


def _open_bench(args: argparse.Namespace, default_wrap=None):
    """The bench from the command line; the simulated wrap from --sim-wrap, else ``default_wrap``."""
    from rig.bench.factory import open_bench
    from rig.sim.wrap import load_wrap_spec

    config = _bench_config(args)
    spec = default_wrap
    if config.backend == "sim" and args.sim_wrap:
        spec = load_wrap_spec(args.sim_wrap)
    elif config.backend == "sim" and spec is None:
        spec = load_wrap_spec(_shipped("example_wrap.toml"))
    return open_bench(config, sim_wrap=spec, seed=args.seed, sim_pace=args.sim_pace)


def _readings_table(rows: list[dict], title: str) -> Table:
    table = Table(title=title)
    columns = [("t_s", "t (s)"), ("wrap_on", "wrap"), ("gain_x", "gain"), ("t_int_ms", "t_int ms"),
               ("F7", "F7 630"), ("F8", "F8 680"), ("Clear", "Clear"), ("NIR", "NIR"),
               ("saturated", "sat"), ("surface_c", "surface C"), ("surface_ohm", "surface Ω"),
               ("ambient_c", "ambient C"), ("ambient_ohm", "ambient Ω")]
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


def _print_statuses(console: Console, statuses, bus_number: int) -> None:
    for status in statuses:
        mark = "[green]OK[/]" if status.present else "[bold red]MISSING[/]"
        console.print(f"{mark} {status.name} at 0x{status.address:02x} on I2C bus {bus_number}: {status.detail}")


def cmd_check(args: argparse.Namespace, console: Console) -> int:
    """Probe the expected I2C devices, then read one sample; switches nothing."""
    from rig.check import probe_devices
    from rig.sample import take_sample

    config = _bench_config(args)
    statuses = None
    if config.backend == "real":
        from smbus2 import SMBus

        try:
            with SMBus(config.i2c_bus) as raw_bus:
                statuses = probe_devices(raw_bus, config)
        except (FileNotFoundError, PermissionError) as error:
            raise RigError(f"cannot open /dev/i2c-{config.i2c_bus}: {error.strerror}; enable I2C "
                           "(raspi-config) and add the user to the 'i2c' group") from error
        _print_statuses(console, statuses, config.i2c_bus)
        if not all(s.present for s in statuses):
            return EXIT_BAD_INPUT
    with _open_bench(args) as bench:
        if statuses is None:
            statuses = probe_devices(bench.sim.bus.smbus(), config)
            _print_statuses(console, statuses, config.i2c_bus)
        button = config.switch.button_pin
        console.print(f"switch: power pin GPIO{config.switch.power_pin}, button pin "
                      f"{'GPIO' + str(button) if button is not None else 'none'} (not toggled); "
                      f"backend {bench.backend}")
        row = take_sample(bench)
        console.print(_readings_table([row], "one reading, wrap off"))
    return EXIT_OK if all(s.present for s in statuses) else EXIT_BAD_INPUT


def verdict_table(checks, title: str) -> Table:
    table = Table(title=escape(title), caption="±U: expanded uncertainty (k = 2)", caption_justify="left")
    for header, justify in (("claim", "left"), ("claimed", "right"), ("tolerance", "right"),
                            ("measured", "right"), ("±U", "right"), ("unit", "left"), ("verdict", "left"),
                            ("note", "left")):
        table.add_column(header, justify=justify)
    for check in checks:
        def fmt(value):
            return "" if value is None else f"{value:.4g}" if isinstance(value, float) else str(value)
        verdict = str(check.verdict)
        table.add_row(escape(check.claim), fmt(check.claimed), escape(check.tolerance), fmt(check.measured),
                      fmt(check.uncertainty), escape(check.unit), f"[{VERDICT_STYLE.get(verdict, '')}]{verdict}[/]",
                      escape(check.note))
    return table


def cmd_run(args: argparse.Namespace, console: Console) -> int:
    """Run a test sequence against a wrap profile; exit 0 all pass, 1 a claim failed, 2 bad input, 3 aborted."""
    from pathlib import Path

    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from rig.analysis import make_deriver
    from rig.lock import bench_lock_path
    from rig.profile import load_profile
    from rig.runner import run_sequence
    from rig.sequence import load_sequence
    from rig.sim.from_profile import wrap_spec_from_profile

    config = _bench_config(args)
    if config.backend != "sim" and not (args.wrap and args.sequence):
        raise RigError("on the real bench, --wrap PROFILE and --sequence SEQUENCE are required "
                       "(with --sim the shipped examples are used)")
    profile = load_profile(args.wrap or _shipped("example_profile.toml"))
    sequence = load_sequence(args.sequence or _shipped("example_sequence.toml"))
    profile.mode(sequence.mode)  # the sequence's mode must exist in the profile
    from rig.calibration import select_calibration

    calibration, warnings = select_calibration(args.calibration or config.calibration, config.spectral.sensor_id,
                                               config.jig.transmission, config.calibration_max_age_days,
                                               args.force_calibration)
    for warning in warnings:
        console.print(f"[yellow]note:[/] {warning}")
    default_wrap = wrap_spec_from_profile(profile) if config.backend == "sim" else None
    if args.sim_wrap:
        from rig.sim.wrap import load_wrap_spec

        load_wrap_spec(args.sim_wrap)  # validate before anything is switched on

    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[status]}"),
                  TimeElapsedColumn(), console=console, transient=False, disable=args.quiet) as bar:
        task = bar.add_task("starting", total=sequence.planned_s, status="")

        def show(p) -> None:
            irradiance = "-" if p.irradiance_mw_cm2 is None else f"{p.irradiance_mw_cm2:.1f} mW/cm2"
            surface = "-" if p.surface_c is None else f"{p.surface_c:.1f} C"
            bar.update(task, completed=min(p.elapsed_s, p.planned_s),
                       description=f"[{p.phase_number}/{p.phase_count}] {p.phase}",
                       status=f"t {p.elapsed_s:.0f}/{p.planned_s:.0f} s, phase left {p.phase_remaining_s:.0f} s, "
                              f"wrap {'on' if p.wrap_on else 'off'}, {irradiance}, surface {surface}")

        result = run_sequence(profile, sequence, lambda: _open_bench(args, default_wrap), Path(args.out),
                              derive=make_deriver(calibration if calibration.calibrated else None), progress=show,
                              calibration_id=calibration.id,
                              lock_path=bench_lock_path(config.backend, config.i2c_bus, config.switch.power_pin,
                                                        args.out),
                              extra_manifest={"calibration": {"id": calibration.id, "scale": calibration.scale,
                                                              "calibrated": calibration.calibrated,
                                                              "warnings": warnings}})
    from rig.report import run_dir_banners

    simulated = " (SIMULATED)" if config.backend == "sim" else ""
    console.print(verdict_table(result.checks, f"{profile.label}: mode '{profile.mode(sequence.mode).name}'"
                                               f"{simulated}"))
    for banner in run_dir_banners(result.run_dir):
        console.print(banner.markup())
    style = "green" if result.outcome == "COMPLETED" else "bold red"
    console.print(f"outcome [{style}]{result.outcome}[/]: {escape(result.reason)}; {result.rows_written} samples; "
                  f"wrap {'LEFT ON' if result.wrap_left_on else 'off'}")
    console.print(f"results: {escape(str(result.run_dir))}")
    console.print(f"plots and a one-file HTML report: rig report {escape(str(result.run_dir))}")
    if result.configuration_error:
        return EXIT_BAD_INPUT
    if result.outcome != "COMPLETED":
        return EXIT_ABORTED
    return EXIT_CLAIM_FAILED if result.any_failed else EXIT_OK


def _frame_table(frame, title: str, max_columns: int | None = None) -> Table:
    table = Table(title=title)
    columns = list(frame.columns)[:max_columns]
    for column in columns:
        table.add_column(str(column), overflow="fold")
    for _, row in frame.iterrows():
        cells = []
        for column in columns:
            value = row[column]
            text = "" if value is None or (isinstance(value, float) and value != value) else (
                f"{value:.4g}" if isinstance(value, float) else str(value))
            cells.append(f"[{VERDICT_STYLE[text]}]{text}[/]" if text in VERDICT_STYLE else text)
        table.add_row(*cells)
    return table


def cmd_compare(args: argparse.Namespace, console: Console) -> int:
    """Many runs side by side: claims vs measured values with uncertainties and verdicts."""
    from rig.compare_command import run_compare

    output = run_compare(args.runs, args.by, args.csv, args.html, args.trend, args.allow_mixed,
                         args.include_incomplete, console.width)
    for printable in output.printables:
        console.print(printable)
    return EXIT_OK


def cmd_analyze(args: argparse.Namespace, console: Console) -> int:
    """Re-analyse a counts CSV, or a run folder against a profile."""
    from pathlib import Path

    from rig.calibration import calibration_or_nominal, select_calibration
    from rig.config import load_bench_config

    source = Path(args.source)
    config = load_bench_config(args.bench, backend="sim")
    args.calibration = args.calibration or config.calibration or None
    if source.is_dir():
        import json

        from rig.profile import load_profile
        from rig.reanalyze import reanalyze_run

        if not args.wrap:
            raise RigError(f"{source} is a run folder: --wrap PROFILE is needed to judge its claims")
        calibration = None
        if args.calibration:
            manifest_file = source / "run.json"
            bench = json.loads(manifest_file.read_text()).get("bench", {}) if manifest_file.is_file() else {}
            sensor_id = bench.get("spectral", {}).get("sensor_id", config.spectral.sensor_id)
            calibration, warnings = select_calibration(args.calibration, sensor_id, config.jig.transmission,
                                                       float("inf"), args.force_calibration)
            for warning in warnings:
                console.print(f"[yellow]note:[/] {warning}")
        out_dir, checks = reanalyze_run(source, load_profile(args.wrap), calibration,
                                        Path(args.out) if args.out else None)
        console.print(verdict_table(checks, f"re-analysis of {source.name}"))
        console.print(f"results: {out_dir}")
        return EXIT_CLAIM_FAILED if any(str(c.verdict) == "FAIL" for c in checks) else EXIT_OK
    from rig.reanalyze import analyze_counts_csv
    from rig.results import safe_cell

    calibration = calibration_or_nominal(args.calibration, args.transmission)
    frame = analyze_counts_csv(source, calibration)
    out = Path(args.out) if args.out else source.with_name(source.stem + "-analyzed.csv")
    frame.map(safe_cell).to_csv(out, index=False)
    shown = frame[["red_peak_nm", "red_peak_u_nm", "nir_peak_nm", "nir_peak_u_nm", "irradiance_mw_cm2",
                   "irradiance_u_mw_cm2", "flags"]].head(20)
    console.print(_frame_table(shown, f"{len(frame)} rows analysed (first 20), calibration {calibration.id}"))
    console.print(f"wrote {out}")
    return EXIT_OK


def _calibration_target(args: argparse.Namespace, config):
    """The calibration file to create or update (``--out``), loaded if it exists."""
    from datetime import UTC, datetime
    from pathlib import Path

    from rig.calibration import CalibrationFile, load_calibration, new_id

    path = Path(args.out) if args.out else Path("calibration") / f"{config.spectral.sensor_id}-" \
        f"{datetime.now(UTC).strftime('%Y%m%d-%H%M%S')}.toml"
    existing = load_calibration(path) if path.exists() else CalibrationFile(
        sensor_id=config.spectral.sensor_id, jig=config.jig.attenuator, transmission=config.jig.transmission)
    existing.id = new_id(existing.sensor_id)
    existing.created = datetime.now(UTC).isoformat(timespec="seconds")
    return path, existing


def cmd_calibrate_dark(args: argparse.Namespace, console: Console) -> int:
    """Dark counts per channel with the wrap off and the sensor covered."""
    from rig.calibrate import mean_dark, take_readings
    from rig.calibration import save_calibration

    config = _bench_config(args)
    config.spectral.auto_range = False
    path, calibration = _calibration_target(args, config)
    with _open_bench(args) as bench:
        bench.switch.off()
        dark = mean_dark(take_readings(bench, args.count))
        reading = bench.read_spectrum()
    calibration.dark_counts = [round(d, 3) for d in dark]
    calibration.dark_gain_x, calibration.dark_t_int_ms = reading.gain_x, round(reading.t_int_ms, 3)
    save_calibration(calibration, path)
    console.print("dark counts (F1..F8, Clear, NIR): " + ", ".join(f"{d:.2f}" for d in dark))
    console.print(f"wrote {path} (id {calibration.id})")
    return EXIT_OK


def cmd_calibrate_irradiance(args: argparse.Namespace, console: Console) -> int:
    """Scale counts to a reference meter: live on the bench, or from a counts CSV; points accumulate in --out."""
    from pathlib import Path

    from rig.calibrate import Reading, fit_scale, measure_nominal, take_readings
    from rig.calibration import ReferencePoint, save_calibration
    from rig.responsivity import CHANNELS

    config = _bench_config(args)
    path, calibration = _calibration_target(args, config)
    transmission = args.transmission or calibration.transmission or config.jig.transmission
    references: list[tuple[float, float]] = []
    if args.counts_csv:
        import pandas as pd

        frame = pd.read_csv(args.counts_csv)
        readings = []
        for _, row in frame.iterrows():
            readings.append(Reading(tuple(float(row[c]) for c in CHANNELS), float(row["gain_x"]),
                                    float(row["t_int_ms"]), str(row.get("saturated", "")).lower() in ("1", "true")))
            references.append((float(row.get("reference_mw_cm2", args.reference_mw_cm2) or 0),
                               float(row.get("reference_nm", args.reference_nm) or 0)))
    else:
        if args.reference_mw_cm2 is None or args.reference_nm is None:
            raise RigError("--reference-mw-cm2 and --reference-nm are needed for a live calibration")
        from rig.sim.wrap import LedString, WrapMode, WrapSpec

        source = WrapSpec(name="reference source", droop_fraction=0.0, wavelength_drift_nm=0.0,
                          strings=[LedString("ref", args.reference_nm, 20.0, args.reference_mw_cm2)],
                          modes=[WrapMode("ref", ["ref"])])
        with _open_bench(args, source) as bench:
            if args.switch_on:
                bench.switch.on()
                bench.clock.sleep(args.settle_s)
            readings = take_readings(bench, args.count)
        references = [(args.reference_mw_cm2, args.reference_nm)] * len(readings)
    if any(r <= 0 or n <= 0 for r, n in references):
        raise RigError("every reading needs a reference irradiance and wavelength (flags or CSV columns "
                       "reference_mw_cm2, reference_nm)")
    dark = calibration.dark_counts or None
    measured = measure_nominal(readings, [n for _, n in references], transmission, dark)
    new_points = [ReferencePoint(r, n, m) for (r, n), m in zip(references, measured, strict=True)]
    points = calibration.points + new_points
    fit = fit_scale([p.reference_mw_cm2 for p in points], [p.measured_mw_cm2 for p in points],
                    args.reference_u_pct / 100.0)
    for point, residual in zip(points, fit.residuals_rel, strict=True):
        point.residual_rel = round(residual, 5)
    calibration.points = points
    calibration.transmission = transmission
    calibration.scale, calibration.scale_u_rel = round(fit.scale, 6), round(fit.scale_u_rel, 6)
    calibration.residuals_rel = [p.residual_rel for p in points]
    wavelengths = sorted({round(p.reference_nm) for p in points})
    calibration.method = (f"reference meter, {len(points)} readings at {', '.join(map(str, wavelengths))} nm; "
                          f"scale fitted by least squares on relative error; reference u {args.reference_u_pct} %")
    save_calibration(calibration, Path(path))
    console.print(f"scale {fit.scale:.4f} ± {fit.scale_u_rel:.1%} (standard); residuals: "
                  + ", ".join(f"{r:+.1%}" for r in fit.residuals_rel[-10:]))
    console.print(f"wrote {path} (id {calibration.id})")
    return EXIT_OK


def cmd_calibrate_thermistor(args: argparse.Namespace, console: Console) -> int:
    """Fit Beta or Steinhart-Hart for one probe from (reference C, resistance) points."""
    from datetime import UTC, datetime
    from pathlib import Path

    from rig.calibrate import fit_thermistor
    from rig.calibration import to_toml

    points = []
    for text in args.point:
        try:
            temp, ohm = (float(part) for part in text.split(":"))
        except ValueError:
            raise RigError(f"--point {text!r}: expected REFERENCE_C:RESISTANCE_OHM, e.g. 0.0:32650") from None
        points.append((temp, ohm))
    if args.points_csv:
        import pandas as pd

        frame = pd.read_csv(args.points_csv)
        frame = frame[frame.probe == args.probe] if "probe" in frame else frame
        points += list(zip(frame.reference_c.astype(float), frame.resistance_ohm.astype(float), strict=True))
    fit = fit_thermistor([p[0] for p in points], [p[1] for p in points], args.model)
    out = Path(args.out) if args.out else Path("calibration") / \
        f"thermistor-{args.probe}-{datetime.now(UTC).strftime('%Y%m%d-%H%M%S')}.toml"
    out.parent.mkdir(parents=True, exist_ok=True)
    record = {"probe": args.probe, "created": datetime.now(UTC).isoformat(timespec="seconds"), "model": fit.model,
              **fit.coefficients, "reference_c": [p[0] for p in points], "resistance_ohm": [p[1] for p in points],
              "residuals_c": [round(r, 4) for r in fit.residuals_c]}
    out.write_text(to_toml(record), encoding="utf-8")
    console.print(f"{fit.model} fit for probe '{args.probe}': residuals "
                  + ", ".join(f"{r:+.3f} C" for r in fit.residuals_c))
    console.print("put these lines in the probe's \\[\\[thermal.probes]] table of your bench config:")
    for key, value in fit.coefficients.items():
        console.print(f"  {key} = {value:.10g}")
    console.print(f"wrote {out}")
    return EXIT_OK


def cmd_report(args: argparse.Namespace, console: Console) -> int:
    """PNG plots and a self-contained HTML report of a run (others alongside for comparison)."""
    from pathlib import Path

    from rig.load import find_run_dirs
    from rig.report import build_report, run_dir_banners

    others = find_run_dirs(args.runs) if args.runs else []
    report = build_report(Path(args.run_dir), others, Path(args.out) if args.out else None)
    for banner in run_dir_banners(Path(args.run_dir)):
        console.print(banner.markup())
    console.print(f"wrote {escape(str(report))} (plots beside it)")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rig", description="Bench-test rig for red-light therapy LED wraps.")
    parser.add_argument("--version", action="version", version=f"rig {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run a test sequence against a wrap profile, results to CSV")
    _bench_args(run)
    run.add_argument("--wrap", metavar="PROFILE", help="wrap profile TOML (maker's claims)")
    run.add_argument("--sequence", metavar="SEQUENCE", help="sequence TOML (phases, limits)")
    run.add_argument("--out", metavar="DIR", default="results", help="results folder (default: results)")
    run.add_argument("--quiet", action="store_true", help="no live progress display")
    run.add_argument("--calibration", metavar="FILE", help="calibration file (default: the bench config's)")
    run.add_argument("--force-calibration", action="store_true",
                     help="use a calibration made for another sensor anyway")
    run.set_defaults(func=cmd_run)

    compare = commands.add_parser("compare", help="compare runs: claims vs measured, verdicts, trends")
    compare.add_argument("runs", nargs="+", metavar="RUNS", help="run folders, folders of runs, or globs")
    compare.add_argument("--by", choices=["wrap", "unit", "date"], help="one row per group instead of per run")
    compare.add_argument("--csv", metavar="FILE", help="also write the table as CSV")
    compare.add_argument("--html", metavar="FILE", help="also write a one-file HTML comparison page with plots")
    compare.add_argument("--trend", action="store_true", help="trend per unit over time (LED ageing)")
    compare.add_argument("--allow-mixed", action="store_true", help="allow simulated and real runs together")
    compare.add_argument("--include-incomplete", action="store_true",
                         help="count runs that did not finish in --by groups and trends (left out by default)")
    compare.set_defaults(func=cmd_compare)

    analyze = commands.add_parser("analyze", help="re-analyse a counts CSV or a run folder")
    analyze.add_argument("source", metavar="COUNTS_CSV|RUN_DIR")
    analyze.add_argument("--wrap", metavar="PROFILE", help="wrap profile (needed for a run folder)")
    analyze.add_argument("--calibration", metavar="FILE", help="calibration file (default: datasheet nominal)")
    analyze.add_argument("--transmission", type=float, default=1.0,
                         help="attenuator transmission for a counts CSV without a calibration (default 1: "
                              "irradiance at the sensor)")
    analyze.add_argument("--out", metavar="FILE|DIR", help="output CSV (counts) or folder (run)")
    analyze.add_argument("--bench", metavar="FILE", help="bench config whose active calibration to use")
    analyze.add_argument("--force-calibration", action="store_true",
                         help="use a calibration made for another sensor anyway")
    analyze.set_defaults(func=cmd_analyze)

    calibrate = commands.add_parser("calibrate", help="make calibration files (dark, irradiance, thermistor)")
    kinds = calibrate.add_subparsers(dest="kind", required=True)
    dark = kinds.add_parser("dark", help="dark counts: wrap off, sensor covered")
    _bench_args(dark)
    dark.add_argument("--count", type=int, default=20, help="readings to average (default 20)")
    dark.add_argument("--out", metavar="FILE", help="calibration file to create or update")
    dark.set_defaults(func=cmd_calibrate_dark)
    irradiance = kinds.add_parser("irradiance", help="scale against a reference meter (adds points to --out)")
    _bench_args(irradiance)
    irradiance.add_argument("counts_csv", nargs="?", metavar="COUNTS_CSV",
                            help="offline: readings (rig analyze format, optional reference_* columns)")
    irradiance.add_argument("--reference-mw-cm2", type=float, help="the reference meter's reading at the jig")
    irradiance.add_argument("--reference-nm", type=float, help="the reference source's wavelength")
    irradiance.add_argument("--reference-u-pct", type=float, default=3.0,
                            help="reference meter's standard uncertainty in %% (default 3)")
    irradiance.add_argument("--transmission", type=float, help="attenuator transmission (default: bench config)")
    irradiance.add_argument("--count", type=int, default=10, help="live readings (default 10)")
    irradiance.add_argument("--switch-on", action="store_true", help="power the source through the wrap switch")
    irradiance.add_argument("--settle-s", type=float, default=30.0, help="wait after switching on (default 30 s)")
    irradiance.add_argument("--out", metavar="FILE", help="calibration file to create or add points to")
    irradiance.set_defaults(func=cmd_calibrate_irradiance)
    thermistor = kinds.add_parser("thermistor", help="fit Beta or Steinhart-Hart from reference points")
    thermistor.add_argument("--probe", required=True, help="probe name (as in the bench config)")
    thermistor.add_argument("--point", action="append", default=[], metavar="C:OHM",
                            help="a reference temperature and the probe's resistance there (repeat)")
    thermistor.add_argument("--points-csv", metavar="FILE", help="CSV with reference_c, resistance_ohm [, probe]")
    thermistor.add_argument("--model", choices=["auto", "beta", "steinhart-hart"], default="auto")
    thermistor.add_argument("--out", metavar="FILE", help="where to write the fit (default calibration/...)")
    thermistor.set_defaults(func=cmd_calibrate_thermistor)

    report = commands.add_parser("report", help="plots and a one-file HTML report of a run")
    report.add_argument("run_dir", metavar="RUN_DIR")
    report.add_argument("runs", nargs="*", metavar="RUNS", help="other runs to compare alongside")
    report.add_argument("--out", metavar="DIR", help="folder for report.html and the PNGs (default RUN_DIR/report)")
    report.set_defaults(func=cmd_report)

    read = commands.add_parser("read", help="read the bench a few times and print a table")
    _bench_args(read)
    read.add_argument("--count", type=int, default=5, help="number of readings (default 5)")
    read.add_argument("--interval", type=positive_float, default=1.0, help="seconds between readings (default 1)")
    read.add_argument("--on", action="store_true", help="switch the wrap on while reading (off at the end)")
    read.set_defaults(func=cmd_read)

    check = commands.add_parser("check", help="check the wiring: every sensor answers, one reading")
    _bench_args(check)
    check.set_defaults(func=cmd_check)
    return parser


def _terminate(signum: int, _frame: object) -> None:
    """SIGTERM unwinds like Ctrl-C, so every open bench is closed (wrap off) on the way out."""
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: Sequence[str] | None = None) -> int:
    import signal

    signal.signal(signal.SIGTERM, _terminate)
    args = build_parser().parse_args(argv)
    console = Console() if sys.stdout.isatty() else Console(width=160)
    try:
        return args.func(args, console)
    except RigError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted: wrap switched off", file=sys.stderr)
        return EXIT_ABORTED


if __name__ == "__main__":
    sys.exit(main())
