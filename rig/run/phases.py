"""The phase registry: each phase kind is one class with its validation and its body.

A sequence file names phases by ``kind``; :data:`PHASE_KINDS` maps the kind to
its class. Adding a phase kind is one class here with :func:`register`: the
sequence loader validates through it and the runner runs it. Every body that
reads the bench goes through :meth:`RunContext.sample` (so every phase is
guarded by the same monitors) and waits through :meth:`RunContext.wait_until`
(so the temperature is watched between samples while the wrap is on).

Module imports stay light: the sequence loader imports this.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from rig.errors import ConfigError
from rig.run.monitors import OFF_SETTLE_S
from rig.run.signals import RunAborted, WrapStillLit

if TYPE_CHECKING:
    from rig.run.context import RunContext
    from rig.sequence import Phase

AUTO_OFF_FRACTION = 0.10  # output below 10 % of the measured level while switched on = the wrap turned itself off


class PhaseKind:
    """Base: a timed phase sampled every ``interval_s`` for ``duration_s``; subclasses say when it may run."""

    kind: ClassVar[str] = ""
    needs_wrap: ClassVar[str] = "any"  # "on": after an 'on' phase; "off": while the wrap is off; "any"
    timed: ClassVar[bool] = True  # has a duration_s
    colour: ClassVar[str] = "#bdbdbd"  # its strip in the report's timeline (none is the claim bands' green)
    lit_session: ClassVar[bool] = False  # its rows are lit readings at the main position: the session's light

    def validate(self, phase: Phase, key: str, path: str, wrap_on: bool) -> None:
        """Raise :class:`ConfigError` naming ``path`` and ``key`` if ``phase`` cannot run here."""
        if not self.timed:
            if phase.duration_s:
                raise ConfigError(path, f"{key}.duration_s", f"no duration for an '{phase.kind}' phase",
                                  phase.duration_s)
            return
        if not phase.duration_s > 0:
            raise ConfigError(path, f"{key}.duration_s", "seconds > 0", phase.duration_s)
        if self.needs_wrap == "on" and not wrap_on:
            raise ConfigError(path, f"{key}.kind", f"an 'on' phase before '{phase.kind}'", phase.kind)
        if self.needs_wrap == "off" and wrap_on:
            raise ConfigError(path, f"{key}.kind", f"a '{phase.kind}' phase only while the wrap is off", phase.kind)
        if phase.until_auto_off and not isinstance(self, SoakPhase):
            raise ConfigError(path, f"{key}.until_auto_off", "only on a 'soak' phase", True)
        self.validate_timing(phase, key, path)

    def validate_timing(self, phase: Phase, key: str, path: str) -> None:
        if not 0 < phase.interval_s <= phase.duration_s:
            raise ConfigError(path, f"{key}.interval_s", "seconds in (0, duration_s]", phase.interval_s)

    def switches_to(self, wrap_on: bool) -> bool:
        """The wrap's state after this phase (for validating the phases that follow)."""
        return wrap_on

    def run(self, ctx: RunContext, phase: Phase) -> None:
        """Sample every ``interval_s`` until ``duration_s`` (or until :meth:`after_row` says stop)."""
        clock = ctx.clock
        start = ctx.phase_start = clock.monotonic()
        ctx.phase_duration_s = phase.duration_s
        index = 0
        while True:
            target = start + index * phase.interval_s
            if target - start >= phase.duration_s - 1e-9:
                break
            ctx.wait_until(target)
            index += 1
            if self._sample(ctx, phase):
                return
        ctx.wait_until(start + phase.duration_s)  # the phase lasts its duration, not to its last sample
        self.at_end(ctx, phase)

    def _sample(self, ctx: RunContext, phase: Phase) -> bool:
        """One row through the pipeline, :meth:`after_row` marking it before it is written; True = stop."""
        stop: list[bool] = []
        ctx.sample(phase, before_write=lambda row: stop.append(self.after_row(ctx, phase, row)))
        return any(stop)

    def after_row(self, ctx: RunContext, phase: Phase, row: dict[str, Any]) -> bool:
        """Called on each sampled row before it is written; True ends the phase early."""
        return False

    def at_end(self, ctx: RunContext, phase: Phase) -> None:
        """Called when the phase ran its whole duration."""


PHASE_KINDS: dict[str, PhaseKind] = {}


def register(cls: type[PhaseKind]) -> type[PhaseKind]:
    PHASE_KINDS[cls.kind] = cls()
    return cls


@register
class DarkPhase(PhaseKind):
    """Wrap off: the dark baseline, subtracted from every reading."""

    kind, needs_wrap, colour = "dark", "off", "#424242"


@register
class OnPhase(PhaseKind):
    """Switch on, then press the wrap's button to reach the mode."""

    kind, timed = "on", False

    def switches_to(self, wrap_on: bool) -> bool:
        return True

    def run(self, ctx: RunContext, phase: Phase) -> None:
        ctx.switch_on()
        detect_pulsing(ctx, phase)


def detect_pulsing(ctx: RunContext, phase: Phase, capture_s: float | None = None) -> None:
    """In every sequence, right after switch-on: is the light pulsed, PWM-dimmed or rippled? The result goes to the
    run's facts (the pulse claims) and ``pulse.csv``; a pulsed light locks the integration to whole periods."""
    from rig.errors import SensorFault
    from rig.results.writer import write_csv_atomic
    from rig.run.sample import broadband_basic

    bench = ctx.bench
    keep: list = []
    if bench.flicker_unavailable:  # e.g. an AS7343 bench: the pulse claims are judged NOT MEASURED
        ctx.event(f"pulse check NOT MEASURED: {bench.flicker_unavailable}")
        return
    try:
        reading = bench.read_spectrum()
        level = broadband_basic(reading, bench.chip)
        result, locked_ms = bench.detect_pulsing(level, capture_s, keep)
    except SensorFault as error:
        ctx.event(f"pulse detection failed ({error}): readings are not locked to a pulse period")
        return
    ctx.facts.pulse = {**result.as_dict(), "phase": phase.label}
    text = (f"pulse check after switch-on ({result.method or 'steady'}): percent flicker {result.modulation_pct:.1f}"
            f" ± {result.modulation_u_pct:.1f} %" + (f" ({result.flicker_region})" if result.flicker_region else ""))
    if result.frequency_hz is not None:
        text += f", {result.frequency_hz:.4g} Hz"
    elif result.frequency_min_hz is not None:
        text += f", faster than {result.frequency_min_hz:.0f} Hz (beyond what the sensor resolves)"
    ctx.event(text)
    if locked_ms is not None:
        ctx.event(f"integration locked to {locked_ms:.1f} ms, a whole number of pulse periods")
    if keep:
        trace = keep[0]
        rows = [{"t_s": round(trace.t0_s - ctx.t0 + i / trace.rate_hz, 6), "counts": c, "gain_x": trace.gain_x}
                for i, c in enumerate(trace.samples)]
        try:
            write_csv_atomic(ctx.writer.path.parent / "pulse.csv", rows, ["t_s", "counts", "gain_x"])
        except OSError as error:
            ctx.event(f"pulse.csv could not be written ({error.strerror or error})")


@register
class WarmupPhase(PhaseKind):
    kind, needs_wrap, colour, lit_session = "warmup", "on", "#ffa726", True


@register
class MeasurePhase(PhaseKind):
    """Irradiance and peaks are judged on this phase's readings."""

    kind, needs_wrap, colour, lit_session = "measure", "on", "#7e57c2", True


@register
class SoakPhase(PhaseKind):
    """The rest of the session, optionally until the wrap switches itself off (within ``duration_s``)."""

    kind, needs_wrap, colour, lit_session = "soak", "on", "#42a5f5", True

    def run(self, ctx: RunContext, phase: Phase) -> None:
        ctx.facts.soak_interval_s = phase.interval_s if phase.until_auto_off else ctx.facts.soak_interval_s
        ctx.phase_state.update(last_lit_start_s=None, read_start_s=ctx.now_s())
        super().run(ctx, phase)

    def _sample(self, ctx: RunContext, phase: Phase) -> bool:
        """One row through the pipeline, :meth:`after_row` marking it before it is written; True = stop.

        The time before the reading starts is kept: the auto-off lies after the start of the last lit reading
        and before the end of the first dark one (which may include extra auto-range integrations)."""
        stop: list[bool] = []
        ctx.phase_state["read_start_s"] = ctx.now_s()
        ctx.sample(phase, before_write=lambda row: stop.append(self.after_row(ctx, phase, row)))
        return any(stop)

    def after_row(self, ctx: RunContext, phase: Phase, row: dict[str, Any]) -> bool:
        measured = ctx.levels.measured
        if not (phase.until_auto_off and row["wrap_on"] and measured) or row.get("position"):
            return False
        if row["clear_basic"] < AUTO_OFF_FRACTION * measured:
            last_lit = ctx.phase_state.get("last_lit_start_s")
            after = last_lit if last_lit is not None else _last_lit_start(ctx, row)
            before = float(row["t_s"])  # the end of this (dark) reading's last integration
            ctx.facts.auto_off_t_s = round((after + before) / 2, 4)
            ctx.facts.auto_off_u_s = round((before - after) / 2, 4)
            ctx.facts.auto_off_bracket_s = [round(after, 4), round(before, 4)]
            row["event"] = "auto-off detected"
            ctx.event(f"wrap switched itself off between {after:.1f} s and {before:.1f} s")
            return True
        ctx.phase_state["last_lit_start_s"] = ctx.phase_state["read_start_s"]
        return False

    def at_end(self, ctx: RunContext, phase: Phase) -> None:
        if phase.until_auto_off:
            ctx.facts.soak_limit_reached = True
            ctx.facts.soak_end_t_s = ctx.now_s()
            ctx.event(f"soak time limit {phase.duration_s:.0f} s reached without auto-off")


def _last_lit_start(ctx: RunContext, dark_row: dict[str, Any]) -> float:
    """When the soak's first reading is already dark: the start of the last lit main-position reading before it
    (its end less its two integrations), else the switch-on."""
    for row in reversed(ctx.rows):
        if row["wrap_on"] and not row.get("position") and not row.get("saturated") and row is not dark_row:
            return float(row["t_s"]) - 2.0 * float(row.get("t_int_ms") or 0.0) / 1000.0
    return ctx.facts.switched_on_t_s or 0.0


@register
class OffPhase(PhaseKind):
    """Switch off, then check that the light really went out."""

    kind, timed = "off", False

    def switches_to(self, wrap_on: bool) -> bool:
        return False

    def run(self, ctx: RunContext, phase: Phase) -> None:
        ctx.switch_off()
        verify_dark(ctx, phase)


def verify_dark(ctx: RunContext, phase: Phase) -> None:
    """After switch-off: one reading must show the light gone; else WRAP STILL LIT stops the run."""
    ctx.clock.sleep(OFF_SETTLE_S)
    row = ctx.sample(phase)  # the monitors' light check sees it too
    if row is None:
        ctx.event("light after switch-off not verified: the sensor gave no reading")
        return
    if ctx.wrap.judge(row["clear_basic"]):  # settles the light check owed since switch-on (rig.run.guard)
        row["event"] = "fault: WRAP STILL LIT after switch-off"
        raise WrapStillLit("WRAP STILL LIT after switch-off: its relay/MOSFET has failed on; disconnect its "
                           "power by hand")
    row["event"] = row.get("event") or "light gone after switch-off"


@register
class CooldownPhase(PhaseKind):
    kind, needs_wrap, colour = "cooldown", "off", "#78909c"


@register
class PulsePhase(PhaseKind):
    """A longer flicker capture (the trace lasts ``duration_s``) than the one after every switch-on: frequency,
    duty and percent flicker, recorded on one sample row; the integration stays locked to whole periods."""

    kind, needs_wrap, colour, lit_session = "pulse", "on", "#ec407a", True

    def validate_timing(self, phase: Phase, key: str, path: str) -> None:
        if not 0.2 <= phase.duration_s <= 30:
            raise ConfigError(path, key, "a 'pulse' capture of 0.2..30 s while the wrap is on", phase.duration_s)

    def run(self, ctx: RunContext, phase: Phase) -> None:
        detect_pulsing(ctx, phase, capture_s=phase.duration_s)
        pulse = dict(ctx.facts.pulse or {})

        def annotate(row: dict[str, Any]) -> None:
            row.update({k: v for k, v in pulse.items() if k != "phase"})
            row["event"] = "pulse capture: " + ", ".join(
                f"{k} {v}" for k, v in pulse.items() if k in ("pulse_hz", "pulse_min_hz", "modulation_pct",
                                                             "duty_pct", "flicker_region") and v not in (None, ""))

        if ctx.sample(phase, before_write=annotate) is None:
            raise RunAborted("no spectral reading after the pulse capture")


@register
class UniformityPhase(PhaseKind):
    """``duration_s`` at every sensor position of the bench, a sample every ``interval_s``."""

    kind, needs_wrap, colour = "uniformity", "on", "#fdd835"  # lit, but at the other positions

    def run(self, ctx: RunContext, phase: Phase) -> None:
        from rig.calibration.positions import position_scales
        from rig.claims.uniformity import summarize_positions

        bench = ctx.bench
        if not bench.positions:
            raise RunAborted("the sequence has a 'uniformity' phase but the bench config lists no [[positions]]")
        per_position: dict[str, list[dict[str, Any]]] = {}
        count = max(1, int(round(phase.duration_s / phase.interval_s)))
        ctx.phase_start, ctx.phase_duration_s = ctx.clock.monotonic(), phase.duration_s * len(bench.positions)
        try:
            for position in bench.positions:
                if position.by_hand:
                    ctx.event(f"sensor moved by hand to '{position.name}'")
                    bench.move_sensor(position)
                for _ in range(count):
                    ctx.wait_until(ctx.clock.monotonic() + phase.interval_s)
                    row = ctx.sample(phase, position)
                    if row is not None:
                        per_position.setdefault(position.name, []).append(row)
        finally:
            if any(p.by_hand for p in bench.positions):
                bench.move_sensor(None)
        ctx.facts.uniformity = summary = summarize_positions(bench.positions, per_position,
                                                             position_scales(bench.config.calibration))
        if summary["min_max_ratio"] is None:  # no irradiance at any position (e.g. no analysis attached)
            ctx.event(f"uniformity: no irradiance at any of {len(bench.positions)} positions")
        else:
            ctx.event(f"uniformity over {len(summary['positions'])} positions: min/max "
                      f"{summary['min_max_ratio']:.2f}, CV {summary['cv_pct']:.1f} %")


def validate_phases(phases: list[Phase], path: str, indices: list[int] | None = None, mode: str | None = None
                    ) -> None:
    """Every phase valid in its place (the wrap's state follows the 'on' / 'off' phases).

    ``indices``: each phase's place in the file (when ``phases`` are those of one ``mode``, named in errors).
    """
    wrap_on = False
    for index, phase in zip(indices if indices is not None else range(len(phases)), phases, strict=True):
        key = f"phases[{index}]"
        kind = PHASE_KINDS.get(phase.kind)
        if kind is None:
            raise ConfigError(path, f"{key}.kind", "one of " + ", ".join(PHASE_KINDS), phase.kind)
        try:
            kind.validate(phase, key, path, wrap_on)
        except ConfigError as error:
            if not mode:
                raise
            raise ConfigError(path, error.key, f"{error.expected} (in mode '{mode}')", error.got) from None
        wrap_on = kind.switches_to(wrap_on)
