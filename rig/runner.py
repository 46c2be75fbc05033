"""Running a test sequence: phases, sampling, interlocks, crash-safe results, verdicts.

:func:`run_sequence` is the whole job of ``rig run``. The wrap is switched off on
every exit path (normal end, exception, Ctrl-C, SIGTERM, over-temperature,
sensor loss) and the run's outcome and reason are written to ``run.json``.
"""

from __future__ import annotations

import hashlib
import platform
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rig import __version__
from rig.bench.bench import Bench
from rig.claims import RunFacts, check_claims, wrap_behaviour
from rig.errors import HardwareNotFound, RigError, SensorFault
from rig.lock import BenchLock
from rig.profile import WrapProfile
from rig.responsivity import CHANNELS, gain_ratio
from rig.results import SamplesWriter, iso_utc, make_run_dir, write_csv_atomic, write_json_atomic
from rig.sample import take_sample
from rig.sequence import Phase, Sequence

AUTO_OFF_FRACTION = 0.10  # output below 10 % of the measured level while switched on = the wrap turned itself off

DERIVED_COLUMNS = [
    "red_peak_nm", "red_peak_u_nm", "nir_peak_nm", "nir_peak_u_nm",
    "red_irradiance_mw_cm2", "red_irradiance_u_mw_cm2", "nir_irradiance_mw_cm2", "nir_irradiance_u_mw_cm2",
    "irradiance_mw_cm2", "irradiance_u_mw_cm2", "flags", "calibration_id",
]
PULSE_COLUMNS = ["modulation_pct", "modulation_u_pct", "pulse_hz", "pulse_u_hz", "duty_pct", "duty_u_pct"]
SUMMARY_COLUMNS = ["claim", "unit", "claimed", "tolerance", "low", "high", "measured", "uncertainty", "verdict",
                   "note"]


class RunAborted(RigError):
    """The run was stopped on purpose: interlock, sensor loss, or a signal."""


@dataclass
class Progress:
    """What the live display shows after each sample."""

    phase: str
    phase_number: int
    phase_count: int
    elapsed_s: float
    planned_s: float
    phase_remaining_s: float
    irradiance_mw_cm2: float | None
    surface_c: float | None
    wrap_on: bool


@dataclass
class RunResult:
    """How the run ended and where its files are."""

    run_dir: Path
    outcome: str  # COMPLETED, ABORTED or ERROR
    reason: str
    checks: list[Any] = field(default_factory=list)
    rows_written: int = 0
    wrap_left_on: bool = False
    configuration_error: bool = False  # the bench could not be opened (missing bus or chip): exit status 2

    @property
    def any_failed(self) -> bool:
        return any(str(check.verdict) == "FAIL" for check in self.checks)


Deriver = Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]]


class _RunState:
    """Mutable state of one run, shared by the phase loop, the interlocks and the summary."""

    def __init__(self, sequence: Sequence) -> None:
        self.sequence = sequence
        self.rows: list[dict[str, Any]] = []
        self.switched_on_t_s: float | None = None
        self.switched_off_t_s: float | None = None
        self.auto_off_t_s: float | None = None
        self.soak_limit_reached = False
        self.soak_end_t_s: float | None = None
        self.measured_level: float | None = None
        self.dark_counts: dict[str, float] = {}
        self.dark_n = 0
        self.measure_n = 0
        self.last_spectral: tuple = ()
        self.last_volts: tuple = ()
        self.same_spectral = 0
        self.same_volts = 0
        self.dark_level = 0.0
        self.probe_fault_samples = 0
        self.pulse = None
        self.uniformity: dict | None = None
        self.lit_seen = False
        self.hot_samples = 0
        self.failures_in_a_row = 0
        self.events: list[str] = []

    def facts(self) -> RunFacts:
        soak = next((p for p in self.sequence.phases if p.until_auto_off), None)
        return RunFacts(self.switched_on_t_s, self.switched_off_t_s, self.auto_off_t_s, self.soak_limit_reached,
                        soak.interval_s if soak else None, self.soak_end_t_s,
                        None if self.pulse is None else self.pulse.as_dict(), self.uniformity)


def clear_signal(row: dict[str, Any]) -> float:
    """Clear channel in basic counts (counts per gain ratio per ms): a gain-independent measure of output."""
    return float(row["Clear"]) / (gain_ratio(row["gain_x"]) * row["t_int_ms"])


@contextmanager
def _signals_blocked() -> Iterator[None]:
    """Hold SIGINT/SIGTERM until the block ends (main thread; elsewhere a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    signals = {signal.SIGINT, signal.SIGTERM}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, signals)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


@contextmanager
def _signals_abort() -> Iterator[None]:
    """SIGTERM and SIGINT become :class:`RunAborted` with the signal named (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, _frame: object) -> None:
        name = signal.Signals(signum).name
        raise RunAborted(f"{name} received: run stopped by the operator or the system")

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def file_sha256(path: str) -> str | None:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return None


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {"rig": __version__, "python": platform.python_version()}
    for package in ("adafruit-circuitpython-as7341", "gpiozero", "smbus2", "numpy", "scipy"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = "not installed"
    return found


def sample_columns(bench: Bench) -> list[str]:
    probes = [p.name for p in bench.config.thermal.probes]
    return (["t_s", "wall_time", "phase", "phase_kind", "mode", "position", "wrap_on", *CHANNELS, "gain_x", "atime",
             "astep", "t_int_ms", "saturated", "attenuator", "transmission", "clear_basic", *DERIVED_COLUMNS,
             *PULSE_COLUMNS]
            + [f"{name}_{suffix}" for name in probes for suffix in ("c", "v", "ohm", "fault")]
            + ["i2c_retries", "event"])


def run_sequence(
    profile: WrapProfile,
    sequence: Sequence,
    open_bench: Callable[[], Bench],
    results_base: Path,
    *,
    derive: Deriver | None = None,
    progress: Callable[[Progress], None] | None = None,
    calibration_id: str = "nominal-datasheet",
    extra_manifest: dict[str, Any] | None = None,
    lock_path: Path | None = None,
) -> RunResult:
    """Run ``sequence`` on the bench from ``open_bench`` against ``profile``; results under ``results_base``.

    Both files must already be validated. The results folder is created and
    checked before the bench is opened, so nothing is switched on when it fails.
    ``lock_path`` (see :mod:`rig.lock`) keeps a second run off the same bench.
    """

    mode = profile.mode(sequence.mode)
    lock = BenchLock(lock_path) if lock_path is not None else None
    if lock is not None:
        lock.acquire()  # a second run on the same bench is refused here, before anything is created
    try:
        return _run_locked(profile, sequence, mode, open_bench, results_base, derive, progress, calibration_id,
                           extra_manifest)
    finally:
        if lock is not None:
            lock.release()


def _run_locked(profile, sequence, mode, open_bench, results_base, derive, progress, calibration_id,
                extra_manifest) -> RunResult:
    from rig.clock import RealClock

    start_wall = RealClock().wall()
    run_dir = make_run_dir(results_base, start_wall, profile.label)
    manifest: dict[str, Any] = {
        "run_id": run_dir.name, "start_time": iso_utc(start_wall), "end_time": None,
        "outcome": "RUNNING", "reason": "", "backend": None, "host": socket.gethostname(),
        "platform": platform.platform(), "versions": _versions(), "mode": mode.name,
        "calibration_id": calibration_id,
        "profile": {"path": profile.source, "sha256": file_sha256(profile.source), "as_used": asdict(profile)},
        "sequence": {"path": sequence.source, "sha256": file_sha256(sequence.source), "as_used": asdict(sequence)},
        **(extra_manifest or {}),
    }
    write_json_atomic(run_dir / "run.json", manifest)
    state = _RunState(sequence)
    outcome, reason, writer, bench = "ERROR", "", None, None
    wrap_left_on = configuration_error = False
    try:
        with _signals_abort():
            try:
                bench = open_bench()
                manifest["backend"] = bench.backend
                manifest["bench"] = asdict(bench.config)
                manifest["sensor_id"] = (f"AS7341 @ I2C bus {bench.config.i2c_bus} "
                                         f"0x{bench.config.spectral.address:02x} ({bench.backend})")
                write_json_atomic(run_dir / "run.json", manifest)
                _apply_sensor_settings(bench, sequence)
                writer = SamplesWriter(run_dir / "samples.csv", sample_columns(bench))
                _run_phases(bench, sequence, mode.presses, mode.name, state, writer, derive, progress)
                outcome, reason = "COMPLETED", "all phases ran"
            finally:
                if bench is not None:
                    with _signals_blocked():  # a second Ctrl-C must not interrupt switching off
                        bench.close()
                    wrap_left_on = bench.switch.is_on
                    state.events.append("wrap switched off by the rig (close)")
                    if bench.sim is not None:
                        manifest["sim_wrap_lit_at_end"] = bench.sim.wrap.is_lit(bench.clock.monotonic())
    except RunAborted as error:
        outcome, reason = "ABORTED", str(error)
    except KeyboardInterrupt:
        outcome, reason = "ABORTED", "SIGINT received: run stopped by the operator"
    except SensorFault as error:
        outcome, reason = "ABORTED", f"sensor fault: {error}"
    except HardwareNotFound as error:
        outcome, reason, configuration_error = "ERROR", str(error), True
    except RigError as error:
        outcome, reason = "ERROR", str(error)
    except Exception as error:  # a bug or an unexpected hardware error: still recorded, wrap already off
        outcome, reason = "ERROR", f"{type(error).__name__}: {error}"
    finally:
        if writer is not None:
            writer.close()
    facts = state.facts()
    checks = check_claims(mode.claims, state.rows, facts)
    try:
        write_csv_atomic(run_dir / "summary.csv", [c.as_dict() for c in checks], SUMMARY_COLUMNS)
    except OSError as error:
        reason += f"; summary.csv could not be written ({error.strerror or error})"
    manifest.update({
        "end_time": iso_utc(RealClock().wall()), "outcome": outcome, "reason": reason,
        "rows": writer.rows_written if writer else 0, "wrap_left_on": wrap_left_on,
        "events": state.events,
        "facts": asdict(facts),
        "behaviour": wrap_behaviour(state.rows, facts),
    })
    try:
        write_json_atomic(run_dir / "run.json", manifest)
    except OSError as error:
        reason += f"; run.json could not be updated ({error.strerror or error})"
    return RunResult(run_dir, outcome, reason, checks, writer.rows_written if writer else 0, wrap_left_on,
                     configuration_error)


def _apply_sensor_settings(bench: Bench, sequence: Sequence) -> None:
    settings = sequence.sensor
    spectral = bench.spectral
    if settings.gain_x is not None:
        spectral.set_gain(settings.gain_x)
    if settings.atime is not None or settings.astep is not None:
        spectral.set_timing(settings.atime if settings.atime is not None else spectral.config.atime,
                            settings.astep if settings.astep is not None else spectral.config.astep)
    if settings.auto_range is not None:
        spectral.config.auto_range = settings.auto_range


def _run_phases(bench: Bench, sequence: Sequence, presses: int, mode_name: str, state: _RunState,
                writer: SamplesWriter, derive: Deriver | None, progress: Callable[[Progress], None] | None) -> None:
    clock = bench.clock
    t0 = clock.monotonic()
    for number, phase in enumerate(sequence.phases, start=1):
        if phase.kind == "on":
            bench.switch.on()
            state.switched_on_t_s = clock.monotonic() - t0
            for _ in range(presses):
                clock.sleep(0.5)
                bench.switch.press()
            state.events.append(f"switched on at {state.switched_on_t_s:.1f} s, {presses} presses to '{mode_name}'")
            continue
        if phase.kind == "off":
            bench.switch.off()
            state.switched_off_t_s = clock.monotonic() - t0
            state.events.append(f"switched off at {state.switched_off_t_s:.1f} s")
            continue
        if phase.kind == "pulse":
            _pulse_phase(bench, sequence, phase, mode_name, state, writer, derive, t0)
            continue
        if phase.kind == "uniformity":
            _uniformity_phase(bench, sequence, phase, mode_name, state, writer, derive, t0)
            continue
        _sample_phase(bench, sequence, phase, number, mode_name, state, writer, derive, progress, t0)


def _sample_phase(bench: Bench, sequence: Sequence, phase: Phase, number: int, mode_name: str, state: _RunState,
                  writer: SamplesWriter, derive: Deriver | None, progress: Callable[[Progress], None] | None,
                  t0: float) -> None:
    clock = bench.clock
    phase_start = clock.monotonic()
    index = 0
    while True:
        target = phase_start + index * phase.interval_s
        if target - phase_start >= phase.duration_s - 1e-9:
            if phase.until_auto_off:
                state.soak_limit_reached = True
                state.soak_end_t_s = clock.monotonic() - t0
                state.events.append(f"soak time limit {phase.duration_s:.0f} s reached without auto-off")
            return
        clock.sleep(target - clock.monotonic())
        index += 1
        row = _take_row(bench, sequence, phase, mode_name, state, t0)
        if row is None:
            continue
        if derive is not None and not row.get("saturated"):
            row.update(derive(row, state.dark_counts))
        stop = _check_auto_off(phase, state, row)
        abort_reason = (_check_interlocks(sequence, state, row) or _check_frozen(sequence, state, row)
                        or _check_light(state, row))
        try:
            writer.write(row)
        except OSError as error:
            raise RunAborted(f"results could not be written ({error.strerror or error}): "
                             f"{writer.rows_written} rows kept in {writer.path}") from error
        state.rows.append(row)
        if abort_reason:
            raise RunAborted(abort_reason)
        if progress is not None:
            progress(Progress(phase.label, number, len(sequence.phases), row["t_s"], sequence.planned_s,
                              max(0.0, phase.duration_s - (clock.monotonic() - phase_start)),
                              row.get("irradiance_mw_cm2"), row.get("surface_c"), bool(row["wrap_on"])))
        if stop:
            return


def _pulse_phase(bench: Bench, sequence: Sequence, phase: Phase, mode_name: str, state: _RunState,
                 writer: SamplesWriter, derive: Deriver | None, t0: float) -> None:
    """One raw flicker capture: the trace to ``pulse.csv``, its analysis on a sample row and in the state."""
    from rig.bench.flicker import capture
    from rig.pulse import analyze_trace

    row = _take_row(bench, sequence, phase, mode_name, state, t0)
    if row is None:
        raise RunAborted("no spectral reading before the pulse capture")
    if derive is not None and not row.get("saturated"):
        row.update(derive(row, state.dark_counts))
    trace = capture(bench.spectral, phase.duration_s, sequence.pulse_rate_hz, row["clear_basic"])
    result = analyze_trace(trace.samples, trace.rate_hz)
    state.pulse = result
    row.update(result.as_dict())
    if result.pulsed:
        t_int_ms = bench.spectral.lock_to_period(1.0 / result.frequency_hz)
        state.events.append(f"integration locked to {t_int_ms:.1f} ms, a whole number of "
                            f"{1000.0 / result.frequency_hz:.2f} ms pulse periods")
    row["event"] = (f"pulse capture: {len(trace.samples)} samples at {trace.rate_hz:.0f} Hz, modulation "
                    f"{result.modulation_pct:.1f} %" + (f", {result.frequency_hz:.2f} Hz, duty {result.duty_pct:.1f} %"
                                                        if result.pulsed else ", steady"))
    trace_rows = [{"t_s": round(trace.t0_s - t0 + i / trace.rate_hz, 6), "counts": c, "gain_x": trace.gain_x}
                  for i, c in enumerate(trace.samples)]
    write_csv_atomic(writer.path.parent / "pulse.csv", trace_rows, ["t_s", "counts", "gain_x"])
    writer.write(row)
    state.rows.append(row)
    state.events.append(row["event"])


def _uniformity_phase(bench: Bench, sequence: Sequence, phase: Phase, mode_name: str, state: _RunState,
                      writer: SamplesWriter, derive: Deriver | None, t0: float) -> None:
    """``duration_s`` at every sensor position, a sample every ``interval_s``; statistics into the state."""
    from rig.uniformity import summarize_positions

    if not bench.positions:
        raise RunAborted("the sequence has a 'uniformity' phase but the bench config lists no [[positions]]")
    per_position: dict[str, list[dict[str, Any]]] = {}
    count = max(1, int(round(phase.duration_s / phase.interval_s)))
    for position in bench.positions:
        if position.by_hand:
            state.events.append(f"sensor moved by hand to '{position.name}'")
            bench.prompt(f"Move the sensor to position '{position.name}' ({position.x_mm:g}, {position.y_mm:g} mm)")
        for _ in range(count):
            bench.clock.sleep(phase.interval_s)
            row = _take_row(bench, sequence, phase, mode_name, state, t0, position)
            if row is None:
                continue
            if derive is not None and not row.get("saturated"):
                row.update(derive(row, state.dark_counts))
            reason = _check_interlocks(sequence, state, row)
            writer.write(row)
            state.rows.append(row)
            per_position.setdefault(position.name, []).append(row)
            if reason:
                raise RunAborted(reason)
    if any(p.by_hand for p in bench.positions):
        bench.prompt("Put the sensor back at its measuring position")
    state.uniformity = summarize_positions(bench.positions, per_position)
    state.events.append(f"uniformity over {len(per_position)} positions: min/max "
                        f"{state.uniformity['min_max_ratio']:.2f}, CV {state.uniformity['cv_pct']:.1f} %")


def _take_row(bench: Bench, sequence: Sequence, phase: Phase, mode_name: str, state: _RunState,
              t0: float, position=None) -> dict[str, Any] | None:
    """One sample as a row; sensor errors are counted and stop the run after too many in a row."""
    try:
        row = take_sample(bench, t0, position)
    except (SensorFault, OSError) as error:
        state.failures_in_a_row += 1
        state.events.append(f"sensor error at {bench.clock.monotonic() - t0:.1f} s: {error}")
        if state.failures_in_a_row >= sequence.safety.max_sensor_failures:
            raise RunAborted(f"sensor lost: {state.failures_in_a_row} failed readings in a row ({error})") from error
        return None
    state.failures_in_a_row = 0
    row["wall_time"] = iso_utc(bench.clock.wall())
    row["phase"] = phase.label
    row["phase_kind"] = phase.kind
    row["mode"] = mode_name if row["wrap_on"] else ""
    row["clear_basic"] = round(clear_signal(row), 4)
    if phase.kind == "dark" and not row.get("saturated"):
        _update_dark(state, row)
        state.dark_level += (row["clear_basic"] - state.dark_level) / state.dark_n
    return row


def _update_dark(state: _RunState, row: dict[str, Any]) -> None:
    """Running mean of the dark baseline, in raw counts per channel."""
    state.dark_n += 1
    n = state.dark_n
    for channel in CHANNELS:
        previous = state.dark_counts.get(channel, 0.0)
        state.dark_counts[channel] = previous + (float(row[channel]) - previous) / n


def _check_auto_off(phase: Phase, state: _RunState, row: dict[str, Any]) -> bool:
    """Track the measured output level; in a soak until auto-off, detect the wrap turning itself off."""
    if phase.kind == "measure" and row["wrap_on"]:
        level = row["clear_basic"]
        state.measure_n += 1
        n = state.measure_n
        state.measured_level = level if state.measured_level is None else (
            state.measured_level + (level - state.measured_level) / n)
    if not (phase.until_auto_off and row["wrap_on"] and state.measured_level):
        return False
    if row["clear_basic"] < AUTO_OFF_FRACTION * state.measured_level:
        state.auto_off_t_s = row["t_s"]
        row["event"] = "auto-off detected"
        state.events.append(f"wrap switched itself off at {row['t_s']:.1f} s")
        return True
    return False


NO_LIGHT_AFTER_S = 30.0
LIT_OVER_DARK = 10.0


def _check_light(state: _RunState, row: dict[str, Any]) -> str | None:
    """The wrap must light up after switch-on, and go dark after switch-off (else its switch has failed)."""
    dark_level = max(state.dark_level, 0.02)
    lit = row["clear_basic"] > LIT_OVER_DARK * dark_level
    reason = None
    if row["wrap_on"]:
        state.lit_seen = state.lit_seen or lit
        since_on = row["t_s"] - (state.switched_on_t_s or 0.0)
        if not state.lit_seen and since_on >= NO_LIGHT_AFTER_S:
            reason = (f"no light {since_on:.0f} s after switch-on: check the wrap's power, the switch wiring and "
                      "the mode presses")
    elif state.switched_off_t_s is not None and state.measured_level and \
            row["clear_basic"] > 0.5 * state.measured_level:
        reason = ("the wrap is still emitting after switch-off: its relay/MOSFET has failed on; disconnect its power "
                  "by hand")
    if reason:
        row["event"] = f"fault: {reason}"
    return reason


def _check_frozen(sequence: Sequence, state: _RunState, row: dict[str, Any]) -> str | None:
    """A sensor whose values stop changing is broken, not steady: stop after ``max_identical_samples``."""
    limit = sequence.safety.max_identical_samples
    spectral = tuple(row[c] for c in CHANNELS)
    volts = tuple(v for k, v in row.items() if k.endswith("_v"))
    state.same_spectral = state.same_spectral + 1 if spectral == state.last_spectral else 1
    state.same_volts = state.same_volts + 1 if volts and volts == state.last_volts else 1
    state.last_spectral, state.last_volts = spectral, volts
    reason = None
    if state.same_spectral >= limit:
        reason = f"spectral sensor frozen: identical counts in {state.same_spectral} samples in a row"
    elif state.same_volts >= limit:
        reason = f"thermistor ADC stuck: identical voltages in {state.same_volts} samples in a row"
    if reason:
        row["event"] = f"fault: {reason}"
    return reason


def _check_interlocks(sequence: Sequence, state: _RunState, row: dict[str, Any]) -> str | None:
    """Over-temperature or surface-probe loss: the reason to stop at once (marked on the row), else None."""
    limits = sequence.safety
    surface = row.get("surface_c")
    fault = row.get("surface_fault")
    reason = None
    state.probe_fault_samples = state.probe_fault_samples + 1 if fault else 0
    if fault:
        if state.probe_fault_samples >= limits.max_sensor_failures:
            reason = (f"surface probe fault ({fault}) for {state.probe_fault_samples} samples: "
                      "temperature unknown, wrap switched off")
    elif surface is not None and surface > limits.max_surface_c:
        state.hot_samples += 1
        if state.hot_samples >= limits.trip_samples:
            reason = (f"over-temperature: surface {surface:.1f} C > {limits.max_surface_c:.1f} C for "
                      f"{state.hot_samples} samples in a row at t = {row['t_s']:.0f} s; wrap switched off")
    else:
        state.hot_samples = 0
    if reason:
        row["event"] = "interlock: " + reason.split(";")[0]
    return reason
