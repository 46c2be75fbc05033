"""``rig report``: plots and a one-file HTML report of a run."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from rig.cli.common import EXIT_OK, command_parser


def add_parser(commands) -> None:
    parser = command_parser(
        commands, "report", "plots and a one-file HTML report of a run",
        "Write the spectrum, timeline (irradiance and temperature against the claims) and verdict plots of\n"
        "RUN_DIR as PNGs, and one self-contained report.html holding them, the verdicts, the run's banners\n"
        "(simulated, uncalibrated, did not finish) and its metadata. Other RUNS are listed alongside.\n"
        "--pdf adds a one-page certificate (certificate.pdf).",
        "rig report results/example --out /tmp/report", "rig report results/example --pdf --out /tmp/report")
    parser.add_argument("run_dir", metavar="RUN_DIR", help="the run folder to report (holds run.json)")
    parser.add_argument("runs", nargs="*", metavar="RUNS", help="other run folders or globs to list alongside")
    parser.add_argument("--out", metavar="DIR", help="folder for report.html and the PNGs (default RUN_DIR/report)")
    parser.add_argument("--pdf", action="store_true",
                        help="also write certificate.pdf: one page with the verdicts, spectrum, temperature and the "
                             "calibration's traceability")
    parser.set_defaults(func=main)


def main(args: argparse.Namespace, console: Console) -> int:
    from rig.reporting.report import build_report
    from rig.results.banners import run_dir_banners
    from rig.results.load import find_run_dirs

    others = find_run_dirs(args.runs) if args.runs else []
    report = build_report(Path(args.run_dir), others, Path(args.out) if args.out else None)
    for banner in run_dir_banners(Path(args.run_dir)):
        console.print(banner.markup())
    console.print(f"wrote {escape(str(report))} (plots beside it)")
    if args.pdf:
        from rig.reporting.certificate import write_certificate

        pdf = write_certificate(Path(args.run_dir), report.parent / "certificate.pdf")
        console.print(f"wrote {escape(str(pdf))}")
    return EXIT_OK
