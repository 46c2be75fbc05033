"""``rig run``: a test sequence against a wrap profile, results to CSV, verdicts printed."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich.console import Console

from rig.cli.common import (
    EXIT_ABORTED,
    EXIT_BAD_INPUT,
    EXIT_CLAIM_FAILED,
    EXIT_OK,
    add_bench_args,
    bench_request,
    command_parser,
    note,
    verdict_table,
)
from rig.text import escape  # rich's escape, control characters written out


def add_parser(commands) -> None:
    parser = command_parser(
        commands, "run", "run a test sequence against a wrap profile, results to CSV",
        "Switch the wrap on and off as the sequence says, sample the spectral sensor and the thermistors, and\n"
        "judge every claim of the wrap profile with its uncertainty. Results go to a new folder under --out:\n"
        "samples.csv (every reading), summary.csv (one row per claim), run.json (how it ended) and run.log.\n"
        "The wrap is switched off on every exit path and the rig checks that the light went out.",
        "rig run --sim                                   # the shipped example wrap on the simulated bench",
        "rig run --wrap my-wrap.toml --sequence standard.toml   # the real bench; the files from `rig init .`",
        "rig run --sim --sim-wrap rig/data/example_wrap_lying.toml --out /tmp/results   # a wrap that lies")
    add_bench_args(parser)
    parser.add_argument("--wrap", metavar="PROFILE", help="wrap profile TOML: the maker's claims per mode")
    parser.add_argument("--sequence", metavar="SEQUENCE", help="sequence TOML: phases and safety limits")
    parser.add_argument("--mode", metavar="NAME", action="append",
                        help="test this mode of the profile (repeat for several; 'all': every mode in turn). "
                             "Default: the sequence's mode = ..., else every mode")
    parser.add_argument("--out", metavar="DIR", default="results", help="results folder (default: results)")
    parser.add_argument("--quiet", action="store_true", help="no live progress display")
    parser.add_argument("--calibration", metavar="FILE", help="calibration file (default: the bench config's)")
    parser.add_argument("--force-calibration", action="store_true",
                        help="use a calibration made for another sensor anyway")
    parser.set_defaults(func=main)


def main(args: argparse.Namespace, console: Console) -> int:
    from rig.calibration.select import select_calibration
    from rig.chips import spectral_chip
    from rig.errors import RigError
    from rig.profile import load_profile
    from rig.run.modes import check_sequence_modes
    from rig.sequence import load_sequence
    from rig.wiring import default_wrap_for, shipped

    request = bench_request(args)
    config = request.config()
    if config.backend != "sim" and not (args.wrap and args.sequence):
        raise RigError("on the real bench, --wrap PROFILE and --sequence SEQUENCE are required "
                       "(with --sim the shipped examples are used)")
    profile = load_profile(args.wrap or shipped("example_profile.toml"))
    sequence = load_sequence(args.sequence or shipped("example_sequence.toml"))
    modes = chosen_modes(profile, sequence, args.mode)
    check_sequence_modes(profile, sequence)
    calibration, warnings = select_calibration(args.calibration or config.calibration, config.spectral.sensor_id,
                                               config.jig.transmission, config.calibration_max_age_days,
                                               args.force_calibration, spectral_chip(config.spectral.chip))
    for warning in warnings:
        note(warning)
    config.calibration = args.calibration or config.calibration  # its position factors (uniformity)
    default_wrap = default_wrap_for(profile) if config.backend == "sim" else None
    if config.backend == "sim":
        request.sim_wrap(default_wrap)  # validate the simulated wrap before anything is switched on

    from rig.run.signals import current_gate

    # from here the run is started: a signal stops its phases once (lifecycle), then the record decides the exit
    # code; nothing that arrives while the result is printed changes it
    with current_gate().noting():
        return _run_and_print(args, console, request, config, profile, sequence, calibration, warnings,
                              default_wrap, modes)


def _run_and_print(args, console, request, config, profile, sequence, calibration, warnings, default_wrap,
                   modes: list[str]) -> int:
    from rig.calibration.traceability import traceability_of
    from rig.lock import bench_lock_path
    from rig.run import run_sequence
    from rig.spectrum.derive import make_deriver

    planned_s = sum(sequence.planned_for(name) for name in modes)
    with _progress_display(console, planned_s, args.quiet) as show:
        result = run_sequence(
            profile, sequence, lambda: request.open(default_wrap, config), Path(args.out), modes=modes,
            derive_for_mode=lambda mode: make_deriver(calibration if calibration.calibrated else None,
                                                      mode.claims.lines, calibration.chip), progress=show,
            calibration_id=calibration.id,
            lock_path=bench_lock_path(config.backend, config.i2c_bus, config.switch.power_pin, args.out),
            extra_manifest={"argv": sys.argv, "seed": args.seed if config.backend == "sim" else None,
                            "sim_wrap": args.sim_wrap or ("<from the profile>" if config.backend == "sim" else ""),
                            "calibration": {"id": calibration.id, "scale": calibration.scale,
                                            "calibrated": calibration.calibrated, "warnings": warnings,
                                            "traceability": traceability_of(args.calibration or config.calibration)}})
    _print_result(console, result, profile, sequence, config.backend, calibration.calibrated)
    if result.configuration_error:
        return EXIT_BAD_INPUT
    if result.outcome != "COMPLETED":
        return EXIT_ABORTED
    return EXIT_CLAIM_FAILED if result.any_failed else EXIT_OK


def chosen_modes(profile, sequence, asked: list[str] | None) -> list[str]:
    """The modes ``--mode`` asks for ('all': every mode of the profile), else :func:`modes_to_test`."""
    from rig.run.modes import modes_to_test

    if not asked:
        return modes_to_test(profile, sequence)
    if "all" in asked:
        return [mode.name for mode in profile.modes]
    return list(dict.fromkeys(profile.mode(name).name for name in asked))


class _progress_display:
    """A rich progress bar fed by the runner's :class:`~rig.run.Progress` (off with --quiet)."""

    def __init__(self, console: Console, planned_s: float, quiet: bool) -> None:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self.bar = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[status]}"),
                            TimeElapsedColumn(), console=console, transient=False, disable=quiet)
        self.planned_s = planned_s

    def __enter__(self):
        self.bar.__enter__()
        self.task = self.bar.add_task("starting", total=self.planned_s, status="")
        return self.show

    def __exit__(self, *exc) -> None:
        self.bar.__exit__(*exc)

    def show(self, p) -> None:
        irradiance = "-" if p.irradiance_mw_cm2 is None else f"{p.irradiance_mw_cm2:.1f} mW/cm2"
        surface = "-" if p.surface_c is None else f"{p.surface_c:.1f} C"
        self.bar.update(self.task, completed=min(p.elapsed_s, p.planned_s),
                        description=(f"{escape(p.mode)}: " if p.mode else "")
                        + f"[{p.phase_number}/{p.phase_count}] {escape(p.phase)}",
                        status=f"t {p.elapsed_s:.0f}/{p.planned_s:.0f} s, phase left {p.phase_remaining_s:.0f} s, "
                               f"wrap {'on' if p.wrap_on else 'off'}, {irradiance}, surface {surface}")


def _print_result(console: Console, result, profile, sequence, backend: str, calibrated: bool) -> None:
    from rig.invocation import rig_command
    from rig.results.banners import run_dir_banners
    from rig.run.modes import overall_verdict

    simulated = " (SIMULATED)" if backend == "sim" else ""
    for mode in result.modes:
        title = f"{profile.label}: mode '{mode.name}'{simulated}"
        if mode.outcome != "COMPLETED":
            title += f" — {mode.outcome}"
        console.print(verdict_table(mode.checks, title))
        for text in mode.notes:
            note(text)
    verdict = overall_verdict(result.checks, result.outcome)
    style = {"PASS": "bold green", "FAIL": "bold red"}.get(verdict, "bold yellow")
    tested = ", ".join(f"'{m.name}' {m.outcome}" for m in result.modes)
    console.print(f"wrap verdict [{style}]{verdict}[/] over {len(result.modes)} mode(s): {escape(tested)}")
    for banner in run_dir_banners(result.run_dir):
        console.print(banner.markup())
    if result.wrap_still_lit:
        console.print("[bold white on red] WRAP STILL LIT after switch-off: its relay/MOSFET has failed on. "
                      "Disconnect the wrap's power by hand NOW. [/]")
    session_line = _session_irradiance_line(result.run_dir)
    if session_line:
        console.print(escape(session_line))
    style = "green" if result.outcome == "COMPLETED" else "bold red"
    console.print(f"outcome [{style}]{result.outcome}[/]: {escape(result.reason)}; {result.rows_written} samples; "
                  f"wrap {'LEFT ON' if result.wrap_left_on else 'off'}")
    console.print(f"results: {escape(str(result.run_dir))}")
    console.print(f"plots and a one-file HTML report: {escape(rig_command('report', Path(result.run_dir)))}")


def _session_irradiance_line(run_dir: Path) -> str | None:
    """Start, end, lowest and droop of the irradiance over the session, from run.json (None if absent)."""
    from rig.claims.session import session_irradiance_text
    from rig.errors import RigError
    from rig.results.schema import RunManifest

    try:
        behaviour = RunManifest.read(run_dir).behaviour
    except RigError:
        return None
    return session_irradiance_text(behaviour)
