"""``rig demo``: calibrate the simulated sensor as the README's procedure does, then test an honest and a lying
simulated wrap against the example profile (every mode) and put the verdicts side by side.

Every step is a real `rig` command, run in this process exactly as a user would type it; the commands are printed
so they can be typed again. Nothing here judges anything: the verdicts are the runs' own summary.csv.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rig.invocation import rig_command, rig_program, shell_path
from rig.wiring import shipped

PROFILE = "example_profile.toml"
SEQUENCE = "example_sequence.toml"
WRAPS = (("honest wrap", "example_wrap.toml"), ("lying wrap", "example_wrap_lying.toml"))
# The reference LEDs of "Procedure on the bench": peaks known to 0.5 nm (a spectrometer), one 1 % power meter.
REFERENCE_PEAKS_NM = (630.0, 660.0, 680.0, 850.0)
REFERENCE_U_NM = 0.5
METER_U_PCT = 1.0
METER_READINGS = ((18.7, 660.0), (12.4, 850.0))  # (mW/cm2, nm): the 660 and 850 nm reference LEDs on the meter
GAIN_SWEEP_MW_CM2 = (300.0, 30.0, 3.0)  # the 660 nm LED at three levels: each gain linked to 64x


@dataclass
class DemoRun:
    """One run of the demo: which wrap, which mode, its folder and its claims (rows of summary.csv)."""

    wrap: str
    mode: str
    run_dir: Path | None
    exit_code: int
    claims: list[dict] = field(default_factory=list)


@dataclass
class DemoResult:
    folder: Path
    calibration: Path
    steps: list[str]
    runs: list[DemoRun]
    seconds: float


def calibration_steps(calibration: Path) -> list[list[str]]:
    """The README's calibration procedure on the simulated jig: dark, the gain sweep at three source levels, the four
    reference LEDs, the meter at 660 and 850 nm."""
    steps = [["calibrate", "dark", "--sim", "--out", str(calibration)]]
    for level_mw_cm2 in GAIN_SWEEP_MW_CM2:
        steps.append(["calibrate", "gains", "--sim", "--reference-mw-cm2", f"{level_mw_cm2:g}", "--series",
                      f"{level_mw_cm2:g} mW", "--count", "10", "--switch-on", "--out", str(calibration)])
    for peak_nm in REFERENCE_PEAKS_NM:
        steps.append(["calibrate", "spectral", "--sim", "--reference-peak-nm", f"{peak_nm:g}",
                      "--reference-u-nm", f"{REFERENCE_U_NM:g}", "--reference-fwhm-nm", "20", "--switch-on",
                      "--out", str(calibration)])
    for meter_mw_cm2, meter_nm in METER_READINGS:
        steps.append(["calibrate", "irradiance", "--sim", "--reference-mw-cm2", f"{meter_mw_cm2:g}",
                      "--reference-nm", f"{meter_nm:g}", "--reference-u-pct", f"{METER_U_PCT:g}", "--switch-on",
                      "--out", str(calibration)])
    return steps


def profile_modes(profile_path: str) -> list[str]:
    """Every mode the profile claims something for (the demo tests them all)."""
    from rig.profile import load_profile

    return [mode.name for mode in load_profile(profile_path).modes]


def _claims(run_dir: Path) -> list[dict]:
    from rig.results.read import read_summary

    frame = read_summary(run_dir / "summary.csv")
    return frame.to_dict("records")


RunRig = Callable[[Sequence[str]], tuple[int, str]]  # one `rig` command (as typed): its exit code and what it printed


def run_demo(out: Path, run_rig: RunRig, say: Callable[[str], None] = print, seed: int = 0) -> DemoResult:
    """Calibrate, then run every mode of the example profile on the honest and the lying simulated wrap; ``run_rig``
    runs each step (the CLI passes its own ``main``, in this process)."""
    from rig.errors import RigError

    started = time.monotonic()
    folder = out / time.strftime("%Y%m%d-%H%M%S")
    folder.mkdir(parents=True, exist_ok=False)
    calibration, results = folder / "calibration.toml", folder / "results"
    steps = []
    say("1. calibrate the simulated sensor (README 'Procedure on the bench': dark, gain ratios, reference LEDs at "
        + ", ".join(f"{p:g}" for p in REFERENCE_PEAKS_NM) + f" nm, a {METER_U_PCT:g} % meter at "
        + " and ".join(f"{nm:g}" for _mw, nm in METER_READINGS) + " nm)")
    for argv in calibration_steps(calibration):
        command = rig_command(*argv)
        steps.append(command)
        say(f"   $ {command}")
        code, printed = run_rig(argv)
        if code != 0:
            raise RigError(f"the demo's calibration step failed (exit {code}):\n{printed}")
    profile = shipped(PROFILE)
    modes = profile_modes(profile)
    say(f"2. test {len(WRAPS)} simulated wraps against the example profile, modes: " + ", ".join(modes))
    runs = []
    for wrap, wrap_file in WRAPS:  # one run per wrap, every mode in turn
        argv = ["run", "--sim", "--seed", str(seed), "--wrap", profile, "--sequence", shipped(SEQUENCE),
                "--mode", "all", "--sim-wrap", shipped(wrap_file), "--calibration", str(calibration), "--out",
                str(results), "--quiet"]
        say(f"   {wrap}, every mode: $ {rig_command(*argv)}")
        before = set(results.glob("*/run.json"))
        code, printed = run_rig(argv)
        made = sorted(path.parent for path in set(results.glob("*/run.json")) - before)
        run_dir = made[-1] if made else None
        if code not in (0, 1) or run_dir is None:
            raise RigError(f"the demo's run ({wrap}) ended with exit {code}:\n{printed}")
        claims = _claims(run_dir)
        for mode in modes:
            runs.append(DemoRun(wrap, mode, run_dir, code, [c for c in claims if str(c.get("mode")) == mode]))
    return DemoResult(folder, calibration, steps, runs, time.monotonic() - started)


def _number(value) -> str:
    return "" if value is None or value != value else f"{value:.4g}"


def claimed_text(claim: dict) -> str:
    """'660 ±10 nm', '43 C at most'."""
    tolerance = str(claim.get("tolerance") or "")
    unit = claim.get("unit") or ""
    if tolerance.startswith("±"):
        if unit and tolerance.endswith(unit):
            return f"{_number(claim['claimed'])} {tolerance}"
        return f"{_number(claim['claimed'])} {unit} {tolerance}".replace("  ", " ")
    return f"{tolerance} {_number(claim['claimed'])} {unit}".strip()


def measured_text(claim: dict) -> str:
    if claim.get("measured") is None or claim["measured"] != claim["measured"]:
        return "-"
    u = claim.get("uncertainty")
    u_text = "" if u is None or u != u else f" ± {u:.2g}"
    return f"{_number(claim['measured'])}{u_text} {claim.get('unit') or ''}".strip()


def reason(claim: dict) -> str:
    """Why a claim FAILed, in words: the measured interval against the claimed band."""
    low, high, unit = claim.get("low"), claim.get("high"), claim.get("unit") or ""
    measured = measured_text(claim)
    if low is not None and low == low and high is not None and high == high:
        band = f"the claimed {_number(low)}-{_number(high)} {unit}"
    elif high is not None and high == high:
        band = f"the claimed limit of at most {_number(high)} {unit}"
    else:
        band = f"at least {_number(low)} {unit}"
    text = f"measured {measured}: entirely outside {band}"
    note = claim.get("note")
    return text + (f" ({note})" if isinstance(note, str) and note else "")


def overall(claims: list[dict]) -> str:
    verdicts = [str(c["verdict"]) for c in claims]
    for word in ("FAIL", "MARGINAL"):
        if word in verdicts:
            return word
    return "PASS" if "PASS" in verdicts else "NOT MEASURED"


def closing_lines(result: DemoResult) -> list[str]:
    """What the demo ends with: what was shown, and the exact commands to look further."""
    lines = []
    for wrap, _ in WRAPS:
        runs = [run for run in result.runs if run.wrap == wrap]
        claims = [c for run in runs for c in run.claims]
        counts = {v: sum(str(c["verdict"]) == v for c in claims) for v in ("PASS", "MARGINAL", "FAIL", "NOT MEASURED")}
        said = ", ".join(f"{n} {v}" for v, n in counts.items() if n)
        lines.append(f"{wrap}: {overall(claims)} ({said}, {len(runs)} modes)")
        for run in runs:
            for claim in run.claims:
                if str(claim["verdict"]) == "FAIL":
                    lines.append(f"  FAIL, mode '{run.mode}', {claim['claim']}: {reason(claim)}")
                elif str(claim["verdict"]) == "MARGINAL":
                    low, high = _number(claim.get("low")), _number(claim.get("high"))
                    band = f"{low}-{high}" if low and high else f"at most {high}" if high else f"at least {low}"
                    lines.append(f"  MARGINAL, mode '{run.mode}', {claim['claim']}: {measured_text(claim)} "
                                 f"reaches past a limit of the claimed {band} {claim.get('unit') or ''}: the "
                                 "measurement cannot tell whether this claim is met (not a fault of the rig)")
    honest = [run for run in result.runs if run.wrap == WRAPS[0][0]]
    lying = [run for run in result.runs if run.wrap == WRAPS[1][0]]
    lines += ["", f"done in {result.seconds:.0f} s; everything is in {shell_path(result.folder)}", "",
              "look further (runnable as printed):"]
    lines.append(f"  {rig_command('report', honest[0].run_dir)}      # plots and an HTML page")
    lines.append(f"  {rig_command('report', lying[0].run_dir, '--pdf')}      # the one-page certificate")
    lines.append(f"  {rig_command('compare', result.folder / 'results')}")
    again = rig_command("run", "--sim", "--sim-wrap", Path(shipped(WRAPS[1][1])), "--calibration", result.calibration,
                        "--out", result.folder / "results")
    lines.append(f"  {again}      # the lying wrap again, its live display and full table")
    if rig_program() != "rig":
        lines.append("  (to type plain `rig`: . .venv/bin/activate, or export PATH=$PWD/.venv/bin:$PATH)")
    return lines
