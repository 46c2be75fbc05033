"""A run from start to end: lock, results folder, manifest, phases, switch-off, light check, verdicts.

:func:`run_sequence` is the whole job of ``rig run``. Whatever happens (normal
end, exception, any catchable signal, an interlock, a sensor lost, a disk
full), the wrap is switched off, the rig checks that the light went out, and
``run.json`` records the outcome and its reason:

- COMPLETED: every phase ran;
- ABORTED: stopped on purpose (interlock, sensor lost, signal, WRAP STILL LIT);
- ERROR: the rig could not go on (results not writable, a missing chip, a bug).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rig.claims import check_claims, wrap_behaviour
from rig.errors import HardwareNotFound, RigError, SensorFault
from rig.lock import BenchLock
from rig.profile import WrapProfile
from rig.records import RunManifest, sample_columns
from rig.results import SamplesWriter, iso_utc, make_run_dir, write_csv_atomic, write_json_atomic
from rig.run.context import Deriver, Progress, ResultsWriteError, RunContext
from rig.run.guard import WrapSession
from rig.run.manifest import new_manifest
from rig.run.monitors import Levels, standard_monitors
from rig.run.phases import PHASE_KINDS
from rig.run.signals import RunAborted, SignalGate, WrapStillLit, signal_gate
from rig.sample import take_sample
from rig.sequence import Sequence
from rig.verdict import ClaimCheck

log = logging.getLogger("rig.run")


@dataclass
class RunResult:
    """How the run ended and where its files are."""

    run_dir: Path
    outcome: str  # COMPLETED, ABORTED or ERROR
    reason: str
    checks: list[ClaimCheck] = field(default_factory=list)
    rows_written: int = 0
    wrap_left_on: bool = False
    wrap_still_lit: bool = False
    configuration_error: bool = False  # the bench could not be opened (missing bus or chip): exit status 2

    @property
    def any_failed(self) -> bool:
        return any(str(check.verdict) == "FAIL" for check in self.checks)


def run_sequence(
    profile: WrapProfile,
    sequence: Sequence,
    open_bench: Callable[[], Any],
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
    ``lock_path`` (see :mod:`rig.lock`) keeps a second process off the same bench.

    Signals (:mod:`rig.run.signals`) are noted from the start and stop only the phases, once: opening the bench,
    switching off, the light check and the record are never interrupted; a signal before the phases start is
    raised when they start, so every run folder ends with a record.
    """
    mode = profile.mode(sequence.mode)
    with signal_gate() as gate, gate.noting():
        with BenchLock(lock_path) if lock_path is not None else contextlib.nullcontext():
            return _Run(profile, sequence, mode, results_base, calibration_id, extra_manifest).execute(
                gate, open_bench, derive, progress)


def samples_header(bench, derive=None) -> list[str]:
    """The ``samples.csv`` columns for this bench (its chip's channels and its probes) and the deriver's
    (claimed lines add theirs: :attr:`rig.derive.Deriver.columns`)."""
    from rig.pulse import PulseResult
    from rig.responsivity import CHANNELS
    from rig.spectrum import Estimate

    derived = list(getattr(derive, "columns", None) or [*Estimate().as_dict(), "calibration_id"])
    pulse = list(PulseResult(0.0, 0.0, False).as_dict())
    return sample_columns(CHANNELS, derived, pulse, [p.name for p in bench.config.thermal.probes])


def apply_sensor_settings(bench, sequence: Sequence) -> None:
    """The sequence's ``[sensor]`` overrides of the bench's spectral settings (validated on loading)."""
    settings = sequence.sensor
    spectral = bench.spectral
    if settings.gain_x is not None:
        spectral.set_gain(settings.gain_x)
    if settings.atime is not None or settings.astep is not None:
        spectral.set_timing(settings.atime if settings.atime is not None else spectral.config.atime,
                            settings.astep if settings.astep is not None else spectral.config.astep)
    if settings.auto_range is not None:
        spectral.config.auto_range = settings.auto_range


class _Run:
    """One run's lifecycle (internal to :func:`run_sequence`)."""

    def __init__(self, profile: WrapProfile, sequence: Sequence, mode, results_base: Path, calibration_id: str,
                 extra_manifest: dict[str, Any] | None) -> None:
        self.profile, self.sequence, self.mode = profile, sequence, mode
        start_wall = time.time()
        self.run_dir = make_run_dir(results_base, start_wall, profile.label)
        self.results_base = results_base
        self.manifest: RunManifest = new_manifest(self.run_dir.name, iso_utc(start_wall), profile, sequence,
                                                  mode.name, calibration_id, extra_manifest)
        self.manifest.log_file = "run.log"
        self.notes: list[str] = []
        self.save_manifest()
        self.ctx: RunContext | None = None
        self.writer: SamplesWriter | None = None
        self.wrap_left_on = self.wrap_still_lit = self.configuration_error = False

    # --- the run --------------------------------------------------------------------------------------------------
    def execute(self, gate: SignalGate, open_bench, derive, progress) -> RunResult:
        """Called inside ``gate.noting()``: only the phases (``gate.raising()``) can be stopped by a signal;
        the switch-off, the read-back, the light check and the record run to their end whatever arrives."""
        handler = _attach_log(self.run_dir / "run.log")
        log.info("run %s started: %s, mode %s, sequence %s", self.run_dir.name, self.profile.label, self.mode.name,
                 self.sequence.name)
        outcome, reason = "ERROR", ""
        bench = None
        try:
            try:
                bench = open_bench()
                with gate.raising():
                    with gate.held():  # sensor settings written whole
                        self._opened(bench, derive)
                    self._phases(bench, derive, progress)
                outcome, reason = "COMPLETED", "all phases ran"
            finally:
                if bench is not None:
                    self._shut_down(bench)
                    late = gate.received[1:] if gate.stopped else list(gate.received)  # all but the one that stopped
                    if late:  # it cannot stop a run that is already ending (or turn a complete one ABORTED)
                        self.notes.append(f"{', '.join(late)} received while switching off (noted: the run was "
                                          "already ending)")
        except WrapStillLit as error:
            outcome, reason = "ABORTED", str(error)
        except RunAborted as error:
            outcome, reason = "ABORTED", str(error)
        except KeyboardInterrupt:
            outcome, reason = "ABORTED", "SIGINT received: run stopped by the operator"
        except BrokenPipeError:
            outcome, reason = "ABORTED", "the output pipe closed (SIGPIPE): run stopped"
        except SensorFault as error:
            outcome, reason = "ABORTED", f"sensor fault: {error}"
        except ResultsWriteError as error:
            outcome, reason = "ERROR", f"results could not be written: {error}"
        except HardwareNotFound as error:
            outcome, reason, self.configuration_error = "ERROR", str(error), True
        except RigError as error:
            outcome, reason = "ERROR", str(error)
        except Exception as error:  # a bug or an unexpected hardware error: still recorded, wrap already off
            log.exception("unexpected error")
            outcome, reason = "ERROR", f"{type(error).__name__}: {error}"
        if self.ctx is not None and self.ctx.levels.still_lit:
            self.wrap_still_lit = True
        if self.wrap_still_lit and "WRAP STILL LIT" not in reason:
            outcome, reason = "ABORTED", f"WRAP STILL LIT after switch-off ({reason})"
        finished_from = len(gate.received)
        result = self._finish(outcome, reason)  # still inside gate.noting(): the record is finished whatever arrives
        if gate.received[finished_from:]:
            log.info("signals received while finishing: %s", ", ".join(gate.received[finished_from:]))
        log.info("run ended %s: %s", result.outcome, result.reason)
        _detach_log(handler)
        return result

    def _opened(self, bench, derive=None) -> None:
        manifest = self.manifest
        manifest.backend = bench.backend
        manifest.bench = asdict(bench.config)
        manifest.pin_factory = bench.pin_factory
        manifest.sensor_id = (f"AS7341 @ I2C bus {bench.config.i2c_bus} 0x{bench.config.spectral.address:02x} "
                              f"({bench.backend})")
        self.save_manifest()
        apply_sensor_settings(bench, self.sequence)
        try:
            self.writer = SamplesWriter(self.run_dir / "samples.csv", samples_header(bench, derive))
        except OSError as error:
            raise ResultsWriteError(f"cannot create samples.csv ({error.strerror or error})") from error

    def _phases(self, bench, derive, progress) -> None:
        safety = self.sequence.safety
        levels = Levels()
        from rig.responsivity import CHANNELS

        monitors = standard_monitors(tuple(CHANNELS), bench.config.thermal.skin_probe, safety.interlock_surface_c,
                                     safety.trip_samples, safety.max_sensor_failures, safety.max_identical_samples,
                                     levels)
        ctx = self.ctx = RunContext(bench, self.sequence, self.mode.name, self.mode.presses, self.writer, monitors,
                                    levels, derive, progress)
        for number, phase in enumerate(self.sequence.phases, start=1):
            ctx.phase_number, ctx.phase_state = number, {}
            log.info("phase %d/%d: %s", number, len(self.sequence.phases), phase.label)
            PHASE_KINDS[phase.kind].run(ctx, phase)
            ctx.facts.phases_done.append(phase.kind)

    def _shut_down(self, bench) -> None:
        """Wrap off and read back from the pin, then (a check is owed after every switch-on) one reading to check
        the light is gone, then release the bench (:meth:`rig.run.guard.WrapSession.shut_down`). Runs inside
        ``gate.noting()`` (no signal interrupts it); each step runs even if the one before failed, and the switch
        state recorded is the one read back, not the one asked for."""
        ctx = self.ctx
        session = ctx.wrap if ctx is not None else WrapSession(bench)
        done = session.shut_down(read_level=(lambda: self._shutdown_row(bench, ctx)) if ctx is not None else None)
        self.wrap_left_on = not done.read_back_off
        if done.still_lit:
            self.wrap_still_lit = True
        event = ctx.event if ctx is not None else log.info
        event("wrap switched off by the rig (shut-down), read back off" if done.read_back_off else
              "wrap switch NOT read back off at shut-down: cut the wrap's power by hand")
        if done.still_lit:
            event("WRAP STILL LIT after the final switch-off: disconnect its power by hand")
        if done.note:
            event(done.note)
        try:
            bench.close()
        except Exception as error:  # noqa: BLE001 - the pin was driven off and read back above
            log.exception("closing the bench failed")
            self.notes.append(f"closing the bench failed ({type(error).__name__}: {error})")
        self.manifest.extra.update(bench.describe())

    def _shutdown_row(self, bench, ctx: RunContext) -> float:
        """The light check's reading, written to samples.csv as a 'shutdown' row; its Clear in basic counts."""
        row = take_sample(bench, ctx.t0)
        lit = ctx.levels.is_lit(row["clear_basic"])
        row.update(wall_time=iso_utc(bench.clock.wall()), phase="shutdown", phase_kind="shutdown", mode="",
                   event="fault: WRAP STILL LIT after switch-off" if lit else "light gone after switch-off")
        with contextlib.suppress(ResultsWriteError):
            ctx.write(row)
        return row["clear_basic"]

    # --- the end --------------------------------------------------------------------------------------------------
    def _finish(self, outcome: str, reason: str) -> RunResult:
        ctx, writer = self.ctx, self.writer
        if writer is not None:
            writer.close()
        if not self.run_dir.is_dir():  # deleted under the run: made again so the record says what happened
            try:
                self.run_dir.mkdir(parents=True)
                self.notes.append("the run folder disappeared during the run and was made again for run.json "
                                  "and summary.csv (the samples written before are lost)")
            except OSError as error:
                log.error("the run folder %s cannot be made again: %s", self.run_dir, error)
        rows = ctx.rows if ctx is not None else []
        facts = ctx.facts if ctx is not None else None
        from rig.claims import RunFacts

        facts = facts or RunFacts()
        checks = check_claims(self.mode.claims, rows, facts, outcome, reason)
        try:
            write_csv_atomic(self.run_dir / "summary.csv", [c.as_dict() for c in checks], ClaimCheck.columns())
        except OSError as error:
            self.notes.append(f"summary.csv could not be written ({error.strerror or error})")
        if self.wrap_still_lit:
            self.manifest.wrap_still_lit = True
        manifest = self.manifest
        manifest.end_time = iso_utc(time.time())
        manifest.outcome, manifest.reason = outcome, "; ".join([reason, *self.notes])
        manifest.rows = writer.rows_written if writer else 0
        manifest.wrap_left_on = self.wrap_left_on
        manifest.events = ctx.events if ctx is not None else []
        manifest.facts = asdict(facts)
        manifest.behaviour = wrap_behaviour(rows, facts)
        self.save_manifest()
        return RunResult(self.run_dir, outcome, manifest.reason, checks, manifest.rows, self.wrap_left_on,
                         self.wrap_still_lit, self.configuration_error)

    def save_manifest(self) -> None:
        """run.json by temp file + rename; if the run folder is gone, it is made again to hold the record."""
        path = self.run_dir / "run.json"
        try:
            write_json_atomic(path, self.manifest.to_json())
        except OSError:
            try:
                self.run_dir.mkdir(parents=True, exist_ok=True)
                self.notes.append("the run folder disappeared during the run and was made again for run.json")
                write_json_atomic(path, self.manifest.to_json())
            except OSError as error:
                log.error("run.json could not be written: %s", error)


def _attach_log(path: Path) -> logging.Handler | None:
    try:
        handler = logging.FileHandler(path, encoding="utf-8")
    except OSError:
        return None
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("rig")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    return handler


def _detach_log(handler: logging.Handler | None) -> None:
    if handler is not None:
        logging.getLogger("rig").removeHandler(handler)
        handler.close()
