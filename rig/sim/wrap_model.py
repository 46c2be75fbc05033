"""A physical model of an LED wrap over time, driven by its power and button pins (the wrap as described:
:mod:`rig.sim.wrap`).

The model is a pure function of simulated time: every pin change appends a
*segment* (power, mode, lit) with the thermal state at its start, and every
query evaluates closed-form solutions inside the segment that holds the time
asked for. So the emulated sensors can ask about any past window (an
integration) in any order, and an hour of wrap runs in microseconds.

Physics, per segment (``x`` is the LED junction warm-up state, 0 cold .. 1 warm):

- warm-up: ``x`` moves toward 1 while lit (toward 0 while dark) with
  ``warmup_tau_s``; output is scaled by ``1 - droop_fraction * x`` and every
  peak shifts by ``+wavelength_drift_nm * x``;
- surface heating: first order toward ``ambient + surface_rise_c * drive``
  with ``heat_tau_s`` (drive = lit strings' share of the full power, times duty),
  plus a linear ``runaway_c_per_min`` while lit (the overheating fault);
- pulse modes: a square wave of ``pulse_hz`` and ``duty`` from the mode's start;
- ripple (``[[ripple]]`` for every mode, e.g. mains, and ``[[modes.ripple]]``): the
  output swings between ``1 - depth`` and ``1 + depth`` of its level (depth_pct is
  the ripple's own percent flicker), shaped ``sine``, ``triangle``, ``sawtooth`` or
  ``square`` (at ``duty``); ripples add, and the pulse gate multiplies them. The
  light over a window is the exact integral of that waveform (closed-form
  antiderivatives over every on-interval of the gate), so a sensor aperture sees
  what a real one would;
- auto-off: the controller turns the LEDs off ``auto_off_s`` after power-on;
- thermal throttling (``[[throttle]]``): a step down of the drive to ``output_factor`` of its level (light and
  heat alike) once the surface reaches ``at_surface_c`` or ``at_s`` seconds after power-on, whichever comes first;
  a step holds until the power is switched off, and the lowest factor of the steps reached applies.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from rig.sim.optics import SpectralLine
from rig.sim.wrap import LedString, Ripple, WrapMode, WrapSpec


@dataclass(frozen=True)
class _Segment:
    """A stretch of time with constant drive; thermal state given at its start."""

    start_s: float
    powered: bool
    mode_index: int
    lit: bool
    auto_off_at_s: float | None
    junction_x0: float
    surface_c0: float
    powered_at_s: float | None = None  # when the power came on (throttle steps count from it)
    throttled: frozenset[int] = frozenset()  # indices of the throttle steps reached since power-on


class WrapModel:
    """The simulated wrap: call :meth:`set_power` / :meth:`press_button` at sim times, query any time."""

    def __init__(self, spec: WrapSpec, start_s: float = 0.0) -> None:
        self.spec = spec.validate()
        self._string_by_name = {s.name: s for s in spec.strings}
        self._position_weights = {p.name: dict(p.weights) for p in spec.positions}
        self._rise_factors = {p.name: p.rise_factor for p in spec.positions}
        full_power = sum(self._heat(s) for s in spec.strings) or 1.0
        self._full_power_mw_cm2 = full_power
        self._segments = [_Segment(start_s, False, spec.start_mode, False, None, 0.0, spec.ambient_c)]
        self._starts = [start_s]
        self._next_cache: tuple[_Segment | None, tuple[float, int] | None] = (None, None)
        self.power_events: list[tuple[float, bool]] = []
        self.button_presses: list[float] = []

    # --- driving ------------------------------------------------------------
    def set_power(self, t_s: float, powered: bool) -> None:
        """The power switch changed at ``t_s`` (from the power pin)."""
        self.power_events.append((t_s, powered))
        current = self._segment_at(t_s)
        if powered == current.powered:
            return
        if not powered and self.spec.faults.stuck_on:
            return  # welded relay: the wrap keeps its power
        auto_off = None
        mode = self.spec.start_mode if powered else current.mode_index
        if powered and not self.spec.faults.auto_off_broken:
            auto_off = t_s + self._auto_off_s(mode)
        self._append(t_s, powered=powered, mode_index=mode, lit=powered, auto_off_at_s=auto_off,
                     powered_at_s=t_s if powered else None, throttled=frozenset())

    def press_button(self, t_s: float) -> None:
        """The wrap's button was pressed at ``t_s``: step to the next mode (if powered and lit)."""
        self.button_presses.append(t_s)
        current = self._segment_at(t_s)
        if not current.powered:
            return
        next_mode = (current.mode_index + 1) % len(self.spec.modes)
        auto_off = current.auto_off_at_s
        own = self.spec.modes[next_mode].auto_off_s
        if current.lit and own is not None and not self.spec.faults.auto_off_broken:
            auto_off = t_s + own  # this mode's own timer starts when it is entered
        self._append(t_s, powered=True, mode_index=next_mode, lit=current.lit, auto_off_at_s=auto_off)

    # --- queries --------------------------------------------------------------
    def is_lit(self, t_s: float) -> bool:
        """Are the LEDs on (powered, not auto-off'd; stuck-on and never-on faults applied)?"""
        return self._effective_lit(self._segment_at(t_s))

    def mode_name(self, t_s: float) -> str:
        return self.spec.modes[self._segment_at(t_s).mode_index].name

    def surface_c(self, t_s: float) -> float:
        """Temperature of the wrap's skin-facing surface (C)."""
        segment = self._segment_at(t_s)
        return self._surface_at(segment, t_s - segment.start_s)

    def ambient_c(self, t_s: float) -> float:
        return self.spec.ambient_c

    def temperature_c(self, probe_name: str, t_s: float) -> float:
        """The true temperature at a named probe: ``surface``, a position's name (its hot-spot rise), or anything
        else (ambient air)."""
        if probe_name == "surface":
            return self.surface_c(t_s)
        factor = self._rise_factors.get(probe_name)
        if factor is not None:
            return self.ambient_c(t_s) + factor * (self.surface_c(t_s) - self.ambient_c(t_s))
        return self.ambient_c(t_s)

    def lines_between(self, t0_s: float, t1_s: float, position: str | None = None) -> list[SpectralLine]:
        """Lines at the wrap surface (irradiance in uW/cm2), averaged over ``[t0_s, t1_s]``, at a named
        position (each string weighted by its share there) or, by default, where every string counts fully."""
        totals: dict[tuple[str, float], list[float]] = {}
        for name, _inside, peak_nm, fwhm_nm, irradiance in self._string_light(np.array([t0_s]), np.array([t1_s]),
                                                                              position):
            shift = float(peak_nm[0]) - self._string_by_name[name].peak_nm
            entry = totals.setdefault((name, round(shift, 3)), [float(peak_nm[0]), fwhm_nm, 0.0])
            entry[2] += float(irradiance[0])
        return [SpectralLine(peak, fwhm, e) for peak, fwhm, e in totals.values() if e > 0]

    def weighted_between(self, starts_s: np.ndarray, ends_s: np.ndarray, weight: Callable[[SpectralLine], float],
                         position: str | None = None) -> np.ndarray:
        """:meth:`lines_between` for many intervals at once, each reduced to the sum over its lines of irradiance
        (uW/cm2 at the surface) x ``weight(line)``; the weight is taken once per drifted peak (0.01 nm steps,
        as the responsivity table caches them)."""
        starts_s = np.asarray(starts_s, float)
        total = np.zeros(len(starts_s))
        for _name, inside, peak_nm, fwhm_nm, irradiance in self._string_light(starts_s, ends_s, position):
            unique, back = np.unique(np.round(peak_nm, 2), return_inverse=True)
            per_peak = np.array([weight(SpectralLine(float(p), fwhm_nm, 1.0)) for p in unique])
            total[inside] += irradiance * per_peak[back.reshape(-1)]
        return total

    def _string_light(self, starts_s: np.ndarray, ends_s: np.ndarray, position: str | None
                      ) -> Iterator[tuple[str, np.ndarray, np.ndarray, float, np.ndarray]]:
        """Each lit string's light in each segment that overlaps the intervals ``[starts_s, ends_s]``: (string
        name, the intervals it reaches, their drifted peaks (nm), FWHM, mean irradiance over the interval (uW/cm2
        at the surface, times the string's share at ``position``)). Per segment: the on-fraction of the
        waveform, the junction state at the overlap's middle (droop, drift) and the throttle, as arrays."""
        weights = self._position_weights.get(position, {}) if position is not None else {}
        ends_s = np.maximum(np.asarray(ends_s, float), starts_s + 1e-6)
        if not len(starts_s):
            return
        t0, t1 = float(starts_s.min()), float(ends_s.max())
        first = max(0, bisect.bisect_right(self._starts, t0) - 1)
        self._segment_at(t1)  # materialise auto-off segments up to t1
        for index in range(first, len(self._segments)):
            segment = self._segments[index]
            if segment.start_s >= t1:
                break
            if not self._effective_lit(segment):
                continue
            end = self._segments[index + 1].start_s if index + 1 < len(self._segments) else t1
            a, b = np.maximum(starts_s, segment.start_s), np.minimum(ends_s, end)
            inside = np.flatnonzero(b > a)
            if not len(inside):
                continue
            a, b = a[inside], b[inside]
            mode = self.spec.modes[segment.mode_index]
            on_fraction = _waveform_means(a - segment.start_s, b - segment.start_s, mode.pulse_hz, mode.duty,
                                          self.spec.ripple + mode.ripple)
            x = self._junction_at(segment, (a + b) / 2 - segment.start_s)
            factor = (1 - self.spec.droop_fraction * x) * mode.intensity * self._throttle_factor(segment) \
                * on_fraction * (b - a) / (ends_s[inside] - starts_s[inside])
            shift = self.spec.wavelength_drift_nm * x
            for name in self._lit_strings(mode):
                string = self._string_by_name[name]
                yield (name, inside, string.peak_nm + shift, string.fwhm_nm,
                       string.irradiance_mw_cm2 * 1000.0 * factor * weights.get(name, 1.0))

    # --- internals ------------------------------------------------------------
    @staticmethod
    def _heat(string: LedString) -> float:
        return string.irradiance_mw_cm2 if string.heat_weight is None else string.heat_weight

    def _lit_strings(self, mode: WrapMode) -> list[str]:
        return [n for n in mode.strings if n not in self.spec.faults.dead_strings]

    def _effective_lit(self, segment: _Segment) -> bool:
        faults = self.spec.faults
        if faults.never_on:
            return False
        return segment.lit

    def _drive(self, segment: _Segment) -> float:
        """Heating drive: lit strings' share of full electrical power, times duty."""
        if not self._effective_lit(segment):
            return 0.0
        mode = self.spec.modes[segment.mode_index]
        power = sum(self._heat(self._string_by_name[n]) for n in self._lit_strings(mode))
        ripple = 1.0 + sum(r.depth_pct / 100.0 * r.mean() for r in self.spec.ripple + mode.ripple)
        return power / self._full_power_mw_cm2 * mode.duty * mode.intensity * ripple * self._throttle_factor(segment)

    def _throttle_factor(self, segment: _Segment) -> float:
        """The drive left by the throttle steps reached (the lowest factor applies); 1 when none."""
        return min((self.spec.throttle[i].output_factor for i in segment.throttled), default=1.0)

    def _crossing_dt_s(self, segment: _Segment, threshold_c: float, horizon_s: float = 1e6) -> float | None:
        """Seconds into ``segment`` when the surface first reaches ``threshold_c`` (None: not within the horizon)."""
        if self._surface_at(segment, 0.0) >= threshold_c:
            return 0.0
        step, lo = self.spec.heat_tau_s / 8.0, 0.0
        while lo < horizon_s:  # bracket the first crossing, then bisect
            hi = lo + step
            if self._surface_at(segment, hi) >= threshold_c:
                for _ in range(60):
                    mid = (lo + hi) / 2
                    lo, hi = (lo, mid) if self._surface_at(segment, mid) >= threshold_c else (mid, hi)
                return hi
            lo, step = hi, step * 1.25
        return None

    def _next_event(self, segment: _Segment) -> tuple[float, int] | None:
        """The segment's next own event: (time, -1) for the auto-off timer, (time, i) for throttle step i."""
        if not segment.powered:
            return None
        if self._next_cache[0] is segment:  # the last segment is asked on every query
            return self._next_cache[1]
        events: list[tuple[float, int]] = []
        if segment.auto_off_at_s is not None:
            events.append((segment.auto_off_at_s, -1))
        for i, step in enumerate(self.spec.throttle):
            if i in segment.throttled:
                continue
            if step.at_s is not None and segment.powered_at_s is not None:
                events.append((max(segment.start_s, segment.powered_at_s + step.at_s), i))
            if step.at_surface_c is not None and self._effective_lit(segment):
                dt = self._crossing_dt_s(segment, step.at_surface_c)
                if dt is not None:
                    events.append((segment.start_s + dt, i))
        event = min(events) if events else None
        self._next_cache = (segment, event)
        return event

    def _junction_at(self, segment: _Segment, dt_s: Any) -> Any:
        """Junction warm-up state (0 cold .. 1 warm) ``dt_s`` into ``segment`` (a float, or an array of them)."""
        target = 1.0 if self._effective_lit(segment) else 0.0
        x = target + (segment.junction_x0 - target) * np.exp(-np.asarray(dt_s) / self.spec.warmup_tau_s)
        return float(x) if np.ndim(x) == 0 else x

    def _surface_at(self, segment: _Segment, dt_s: float) -> float:
        spec = self.spec
        target = spec.ambient_c + spec.surface_rise_c * self._drive(segment)
        value = target + (segment.surface_c0 - target) * math.exp(-dt_s / spec.heat_tau_s)
        if self._effective_lit(segment):
            value += spec.faults.runaway_c_per_min * dt_s / 60.0
        return value

    def _append(self, t_s: float, **changes: Any) -> None:
        current = self._segment_at(t_s)
        dt = t_s - current.start_s
        new = replace(current, start_s=t_s, junction_x0=self._junction_at(current, dt),
                      surface_c0=self._surface_at(current, dt), **changes)
        # Later segments (queried ahead of time) are superseded by this event.
        keep = bisect.bisect_right(self._starts, t_s)
        if keep and self._starts[keep - 1] == t_s:
            keep -= 1
        del self._segments[keep:], self._starts[keep:]
        self._segments.append(new)
        self._starts.append(t_s)

    def _auto_off_s(self, mode_index: int) -> float:
        own = self.spec.modes[mode_index].auto_off_s
        return own if own is not None else self.spec.auto_off_s

    def _segment_at(self, t_s: float) -> _Segment:
        last = self._segments[-1]
        relight = self.spec.relight_after_s
        while (event := self._next_event(last)) is not None and event[0] <= t_s:
            at_s, step = event
            dt = at_s - last.start_s
            state = dict(start_s=at_s, junction_x0=self._junction_at(last, dt), surface_c0=self._surface_at(last, dt))
            if step >= 0:  # a throttle step: the drive drops from here on
                last = replace(last, throttled=last.throttled | {step}, **state)
            elif last.lit:  # auto-off; a controller that relights sets its next event as the "auto-off" time
                last = replace(last, lit=False, auto_off_at_s=None if relight is None else at_s + relight, **state)
            else:  # relit after ``relight_after_s``, with a fresh timer
                last = replace(last, lit=True, auto_off_at_s=at_s + self._auto_off_s(last.mode_index), **state)
            self._segments.append(last)
            self._starts.append(last.start_s)
        index = max(0, bisect.bisect_right(self._starts, t_s) - 1)
        return self._segments[index]


def _waveform_mean(t0_s: float, t1_s: float, pulse_hz: float, duty: float, ripples: list[Ripple]) -> float:
    """Mean over ``[t0_s, t1_s]`` of gate(t) x (1 + sum of depth x shape(t)); the gate is a square wave of
    ``pulse_hz`` at ``duty`` (on first, from t = 0), or always on. Exact: integrated over each on-interval."""
    if pulse_hz <= 0 or duty >= 1:
        starts, ends = np.array([t0_s]), np.array([t1_s])
    else:
        period = 1.0 / pulse_hz
        k = np.arange(math.floor(t0_s / period), math.floor(t1_s / period) + 1)
        starts = np.maximum(k * period, t0_s)
        ends = np.minimum(k * period + duty * period, t1_s)
        keep = ends > starts
        starts, ends = starts[keep], ends[keep]
    total = float(np.sum(ends - starts))
    for ripple in ripples:
        total += ripple.depth_pct / 100.0 * float(np.sum(ripple.integral(ends) - ripple.integral(starts)))
    return max(total, 0.0) / (t1_s - t0_s)


def _waveform_means(t0_s: np.ndarray, t1_s: np.ndarray, pulse_hz: float, duty: float, ripples: list[Ripple]
                    ) -> np.ndarray:
    """:func:`_waveform_mean` for many intervals: in closed form when steady or without ripple, else one by one."""
    if pulse_hz <= 0 or duty >= 1:
        total = t1_s - t0_s
        for ripple in ripples:
            total = total + ripple.depth_pct / 100.0 * (ripple.integral(t1_s) - ripple.integral(t0_s))
        return np.maximum(total, 0.0) / (t1_s - t0_s)
    if not ripples:
        period = 1.0 / pulse_hz

        def on_time(t: np.ndarray) -> np.ndarray:  # of the gate from 0 to t: whole periods, then the part
            whole = np.floor(t / period)
            return whole * duty * period + np.minimum(t - whole * period, duty * period)

        return np.maximum(on_time(t1_s) - on_time(t0_s), 0.0) / (t1_s - t0_s)
    return np.array([_waveform_mean(a, b, pulse_hz, duty, ripples) for a, b in zip(t0_s, t1_s, strict=True)])
