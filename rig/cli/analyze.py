"""``rig analyze``: re-analyse a counts CSV, or a whole run folder against a profile."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from rig.cli.common import EXIT_CLAIM_FAILED, EXIT_OK, command_parser, fraction, frame_table, note, verdict_table


def add_parser(commands) -> None:
    parser = command_parser(
        commands, "analyze", "re-analyse a counts CSV or a run folder",
        "A counts CSV (a column per channel of its chip, as the chip names them; gain_x, t_int_ms\n"
        "[, saturated]) gets peaks and irradiance per row, written beside it as *-analyzed.csv. A run\n"
        "folder is re-judged against --wrap into\n"
        "RUN_DIR/reanalysis-<time>/ (the run's own files are never touched).",
        "rig analyze counts.csv --transmission 0.05",
        "rig analyze results/example --wrap rig/data/example_profile.toml --out /tmp/reanalysis")
    parser.add_argument("source", metavar="COUNTS_CSV|RUN_DIR", help="a counts CSV file or a run folder")
    parser.add_argument("--wrap", metavar="PROFILE", help="wrap profile (needed for a run folder)")
    parser.add_argument("--calibration", metavar="FILE", help="calibration file (default: datasheet nominal)")
    parser.add_argument("--transmission", type=fraction, default=1.0,
                        help="attenuator transmission for a counts CSV without a calibration (default 1: "
                             "irradiance at the sensor)")
    parser.add_argument("--out", metavar="FILE|DIR", help="output CSV (counts) or folder (run)")
    parser.add_argument("--bench", metavar="FILE", help="bench config whose active calibration to use")
    parser.add_argument("--force-calibration", action="store_true",
                        help="use a calibration made for another sensor anyway")
    parser.set_defaults(func=main)


def main(args: argparse.Namespace, console: Console) -> int:
    from rig.calibration.select import calibration_or_nominal
    from rig.config import load_bench_config
    from rig.errors import RigError

    source = Path(args.source)
    config = load_bench_config(args.bench, backend="sim")
    calibration_path = args.calibration or config.calibration or None
    if source.is_dir():
        from rig.profile import load_profile
        from rig.reanalyze import reanalyze_folder

        if not args.wrap:
            raise RigError(f"{source} is a run folder: --wrap PROFILE is needed to judge its claims")
        profile = load_profile(args.wrap)
        with progress_bar(console, f"re-analysing {source.name}") as progress:
            out_dir, checks, warnings = reanalyze_folder(source, profile, calibration_path,
                                                         config.spectral.sensor_id, config.jig.transmission,
                                                         args.force_calibration, Path(args.out) if args.out else None,
                                                         progress)
        for warning in warnings:
            note(warning)
        console.print(verdict_table(checks, f"re-analysis of {source.name}"))
        console.print(f"results: {escape(str(out_dir))}")
        return EXIT_CLAIM_FAILED if any(str(c.verdict) == "FAIL" for c in checks) else EXIT_OK
    if not source.exists():
        raise RigError(f"{source}: no such counts CSV file or run folder")
    from rig.reanalyze import analyze_counts_file

    calibration = calibration_or_nominal(calibration_path, args.transmission)
    out = Path(args.out) if args.out else source.with_name(source.stem + "-analyzed.csv")
    with progress_bar(console, f"analysing {source.name}") as progress:
        result = analyze_counts_file(source, out, calibration, progress)
    import pandas as pd  # only for the table shown: the analysis itself streams the file

    shown = pd.DataFrame(result.preview)[["red_peak_nm", "red_peak_u_nm", "nir_peak_nm", "nir_peak_u_nm",
                                          "irradiance_mw_cm2", "irradiance_u_mw_cm2", "flags"]]
    console.print(frame_table(shown, f"{result.rows} rows analysed (first {len(shown)}), calibration "
                                     f"{calibration.id}"))
    console.print(f"wrote {escape(str(out))}")
    return EXIT_OK


@contextmanager
def progress_bar(console: Console, title: str) -> Iterator[Callable[[int, int], None]]:
    """A rich progress bar (rows done of all, rows/s, time left) on a terminal; silent otherwise."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    bar = Progress(TextColumn(escape(title)), BarColumn(), MofNCompleteColumn(), TextColumn("rows"),
                   TimeRemainingColumn(), console=console, transient=True, disable=not console.is_terminal)
    with bar:
        task = bar.add_task(title, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update
