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

from rig.claims.session import wrap_behaviour
from rig.claims.verdict import ClaimCheck
from rig.errors import HardwareNotFound, RigError, SensorFault
from rig.lock import BenchLock
from rig.profile import ModeProfile, WrapProfile
from rig.results.schema import RunManifest
from rig.results.writer import SamplesWriter, iso_utc, make_run_dir, release_reserve, write_csv_atomic, write_run_record
from rig.run.context import Deriver, Progress, ResultsWriteError, RunContext
from rig.run.guard import WrapSession
from rig.run.manifest import new_manifest
from rig.run.modes import (
    ModeResult,
    cool_down_between_modes,
    judge_mode,
    mode_light_notes,
    modes_to_test,
    not_measured_on_this_chip,
    overall_verdict,
)
from rig.run.monitors import Levels, standard_monitors
from rig.run.phases import PHASE_KINDS
from rig.run.sample import take_sample
from rig.run.setup import apply_sensor_settings, attach_log, detach_log, samples_header
from rig.run.signals import NoLight, RunAborted, SignalGate, WrapStillLit, signal_gate
from rig.run.status import point_to_run
from rig.sequence import Sequence

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
    modes: list[ModeResult] = field(default_factory=list)  # one per mode tested (or to be tested), in order

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
    modes: list[str] | None = None,
    derive_for_mode: Callable[[ModeProfile], Deriver | None] | None = None,
) -> RunResult:
    """Run ``sequence`` on the bench from ``open_bench`` against ``profile``; results under ``results_base``.

    Both files must already be validated. The results folder is created and
    checked before the bench is opened, so nothing is switched on when it fails.
    ``lock_path`` (see :mod:`rig.lock`) keeps a second process off the same bench.
    ``modes``: the profile's modes to test, in turn (default: :func:`modes_to_test`); each gets its own dark
    baseline, switch-on and presses, the sequence's phases for it, switch-off and a cool-down before the next.
    ``derive_for_mode`` gives each mode its deriver (its claimed lines); else ``derive`` serves every mode.

    Signals (:mod:`rig.run.signals`) are noted from the start and stop only the phases, once: opening the bench,
    switching off, the light check and the record are never interrupted; a signal before the phases start is
    raised when they start, so every run folder ends with a record.
    """
    chosen = [profile.mode(name) for name in (modes or modes_to_test(profile, sequence))]
    derivers = [derive_for_mode(mode) if derive_for_mode is not None else derive for mode in chosen]
    with signal_gate() as gate, gate.noting():
        with BenchLock(lock_path) if lock_path is not None else contextlib.nullcontext():
            run = _Run(profile, sequence, chosen, results_base, calibration_id, extra_manifest)
            run.derivers = derivers
            if lock_path is not None:
                point_to_run(lock_path, run.run_dir)  # for `rig status`
            return run.execute(gate, open_bench, derivers[0], progress)


@dataclass
class _ModeRun:
    """A mode while it runs: its profile entry, its context (rows, facts, events) and how far it got."""

    mode: ModeProfile
    ctx: RunContext
    outcome: str = "RUNNING"
    notes: list[str] = field(default_factory=list)


class _Run:
    """One run's lifecycle (internal to :func:`run_sequence`)."""

    def __init__(self, profile: WrapProfile, sequence: Sequence, modes: list[ModeProfile], results_base: Path,
                 calibration_id: str, extra_manifest: dict[str, Any] | None) -> None:
        self.profile, self.sequence, self.modes = profile, sequence, modes
        self.mode = modes[0]
        self.derivers: list[Deriver | None] = [None] * len(modes)
        self.mode_runs: list[_ModeRun] = []  # the modes started so far, each with its own context
        start_wall = time.time()
        self.run_dir = make_run_dir(results_base, start_wall, profile.label)
        self.results_base = results_base
        self.manifest: RunManifest = new_manifest(self.run_dir.name, iso_utc(start_wall), profile, sequence,
                                                  ", ".join(m.name for m in modes), calibration_id, extra_manifest)
        self.manifest.log_file = "run.log"
        self.manifest.extra["planned_s"] = sum(sequence.planned_for(m.name) for m in modes)  # for `rig status`
        self.notes: list[str] = []
        self.save_manifest()
        self.ctx: RunContext | None = None
        self.writer: SamplesWriter | None = None
        self.wrap_left_on = self.wrap_still_lit = self.configuration_error = False

    # --- the run --------------------------------------------------------------------------------------------------
    def execute(self, gate: SignalGate, open_bench, derive, progress) -> RunResult:
        """Called inside ``gate.noting()``: only the phases (``gate.raising()``) can be stopped by a signal;
        the switch-off, the read-back, the light check and the record run to their end whatever arrives."""
        handler = attach_log(self.run_dir / "run.log")
        log.info("run %s started: %s, mode %s, sequence %s", self.run_dir.name, self.profile.label,
                 self.manifest.mode, self.sequence.name)
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
        detach_log(handler)
        return result

    def _opened(self, bench, derive=None) -> None:
        manifest = self.manifest
        manifest.backend = bench.backend
        manifest.bench = asdict(bench.config)
        manifest.pin_factory = bench.pin_factory
        manifest.sensor_id = (f"{bench.chip.name.upper()} @ I2C bus {bench.config.i2c_bus} "
                              f"0x{bench.config.spectral.address:02x} ({bench.backend})")
        self.save_manifest()
        apply_sensor_settings(bench, self.sequence)
        try:
            self.writer = SamplesWriter(self.run_dir / "samples.csv", samples_header(bench, self.derivers))
        except OSError as error:
            raise ResultsWriteError(f"cannot create samples.csv ({error.strerror or error})") from error

    def _phases(self, bench, derive, progress) -> None:
        t0 = None
        for index, mode in enumerate(self.modes):
            ctx = self._mode_context(bench, mode, self.derivers[index], progress, t0)
            t0 = ctx.t0
            mode_run = _ModeRun(mode, ctx)
            self.mode_runs.append(mode_run)
            phases = self.sequence.phases_for(mode.name)
            if len(self.modes) > 1:
                ctx.event(f"mode {index + 1}/{len(self.modes)}: '{mode.name}'")
            try:
                for number, phase in enumerate(phases, start=1):
                    ctx.phase_number, ctx.phase_state = number, {}
                    log.info("mode %s, phase %d/%d: %s", mode.name, number, len(phases), phase.label)
                    PHASE_KINDS[phase.kind].run(ctx, phase)
                    ctx.facts.phases_done.append(phase.kind)
            except NoLight:
                if len(self.modes) == 1:
                    raise  # one mode: no light at all stops the run (the wiring or the switch may be at fault)
                # several modes: the others show whether the wiring works; this one is reported, not the run
                mode_run.outcome = "DID NOT START"
                mode_run.notes.append(f"mode '{mode.name}' did not start: no light after switch-on and "
                                      f"{mode.presses} presses")  # switched off (light checked) below or at the end
            else:
                mode_run.notes.extend(mode_light_notes(mode, ctx.rows, ctx.levels.lit_seen))
                mode_run.outcome = "COMPLETED"
            if index + 1 < len(self.modes):
                cool_down_between_modes(ctx, self.sequence, self.modes[index + 1])

    def _mode_context(self, bench, mode: ModeProfile, derive, progress, t0: float | None) -> RunContext:
        """A fresh context for one mode: its own levels, monitors, dark baseline and facts; the run's clock."""
        safety = self.sequence.safety
        levels = Levels()
        monitors = standard_monitors(bench.chip.channels, bench.config.thermal.skin_probe, safety.interlock_surface_c,
                                     safety.trip_samples, safety.max_sensor_failures, safety.max_identical_samples,
                                     levels)
        ctx = self.ctx = RunContext(bench, self.sequence, mode.name, mode.presses, self.writer, monitors, levels,
                                    derive, progress, t0=t0, phases=self.sequence.phases_for(mode.name),
                                    planned_s=sum(self.sequence.planned_for(m.name) for m in self.modes))
        if ctx.estimate_note:
            ctx.event(ctx.estimate_note)
        return ctx

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
        """The light check's reading, written to samples.csv as a 'shutdown' row; its broadband level (basic
        counts)."""
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
        from rig.claims.evidence import RunFacts

        mode_results = self._judge_modes(outcome, reason)
        checks = [check for mode_result in mode_results for check in mode_result.checks]
        first = self.mode_runs[0].ctx if self.mode_runs else None
        facts = first.facts if first is not None else RunFacts()
        first_rows = first.rows if first is not None else []
        release_reserve(self.run_dir)  # the space held since the start: a full disk still gets the record
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
        manifest.events = [event for run in self.mode_runs for event in run.ctx.events] if self.mode_runs else (
            ctx.events if ctx is not None else [])
        manifest.facts = asdict(facts)
        manifest.behaviour = wrap_behaviour(first_rows, facts)
        manifest.modes = [self._mode_record(result) for result in mode_results]
        manifest.verdict = overall_verdict(checks, outcome)
        self.save_manifest()
        return RunResult(self.run_dir, outcome, manifest.reason, checks, manifest.rows, self.wrap_left_on,
                         self.wrap_still_lit, self.configuration_error, mode_results)

    def _judge_modes(self, outcome: str, reason: str) -> list[ModeResult]:
        """Each mode judged on its own rows: finished modes as COMPLETED whatever happened later, the mode the
        run stopped in with the run's outcome, the modes never started NOT RUN (their claims NOT MEASURED)."""
        from rig.claims.evidence import RunFacts

        results = []
        stopped_in = None
        for index, mode in enumerate(self.modes):
            run = self.mode_runs[index] if index < len(self.mode_runs) else None
            if run is not None and run.outcome in ("COMPLETED", "DID NOT START"):
                mode_outcome = run.outcome
                mode_reason = "all phases ran" if run.outcome == "COMPLETED" else "no light after switch-on"
            elif run is not None:
                mode_outcome, mode_reason = outcome, reason
                stopped_in = mode.name
            else:
                where = f"the run stopped in mode '{stopped_in}'" if stopped_in else "the run stopped before it"
                mode_outcome, mode_reason = "NOT RUN", f"not tested: {where} ({reason})"
            rows = run.ctx.rows if run is not None else []
            facts = run.ctx.facts if run is not None else RunFacts()
            checks = judge_mode(mode, rows, facts, mode_outcome, mode_reason)
            if run is not None:
                checks = not_measured_on_this_chip(checks, run.ctx)
            results.append(ModeResult(mode.name, mode_outcome, mode_reason, list(run.notes) if run else [], checks))
        return results

    def _mode_record(self, result: ModeResult) -> dict[str, Any]:
        """What ``run.json`` keeps of one mode (``modes`` list)."""
        run = next((r for r in self.mode_runs if r.mode.name == result.name), None)
        record: dict[str, Any] = {"name": result.name, "outcome": result.outcome, "reason": result.reason,
                                  "notes": result.notes, "verdict": overall_verdict(result.checks, result.outcome)}
        if run is not None:
            record.update(presses=run.mode.presses, facts=asdict(run.ctx.facts),
                          behaviour=wrap_behaviour(run.ctx.rows, run.ctx.facts))
        return record

    def save_manifest(self) -> None:
        """run.json by temp file + rename; if the run folder is gone, it is made again to hold the record."""
        path = self.run_dir / "run.json"
        try:
            write_run_record(path, self.manifest.to_json())
        except OSError:
            try:
                self.run_dir.mkdir(parents=True, exist_ok=True)
                self.notes.append("the run folder disappeared during the run and was made again for run.json")
                write_run_record(path, self.manifest.to_json())
            except OSError as error:
                log.error("run.json could not be written: %s", error)
