"""Detect pulsing right after switch-on, in every sequence, and lock the spectral integration to it.

The runner calls :func:`detect_pulsing` once the wrap is on (and after every mode change), then
:func:`lock_integration` with the result, before any spectral reading is taken for the dose.
"""

from __future__ import annotations

from rig.hardware.flicker import BURST_STEPS, BURSTS_PER_APERTURE, capture, capture_bursts
from rig.hardware.spectral import SpectralSensor
from rig.pulse.multirate import analyze_capture
from rig.pulse.trace import PulseResult

TRACE_RATE_HZ = 2000.0
MIN_TRACE_S = 2.0
MAX_TRACE_S = 8.0
LOCK_MIN_S = 0.1
LOW_LIGHT_APERTURES = 2  # when the first capture cannot exclude fast PWM: more bursts at the shortest apertures
LOW_LIGHT_BURSTS = 120  # ... this many more each (128 in all: the noise threshold falls by 4x)
CONFIRM_BURSTS = 24  # ... or this many more at every aperture, to confirm or replace a trace tone
TRACE_ALIAS_HZ = TRACE_RATE_HZ / 8  # a trace tone above this the bursts should confirm


def detect_pulsing(sensor: SpectralSensor, clear_basic_per_ms: float | None, trace_s: float = MIN_TRACE_S,
                   dark_counts: float = 0.0, keep: list | None = None) -> PulseResult:
    """Bursts at four short apertures plus a ~2 kHz trace; the trace is retaken longer for slow pulses
    (at least four periods, up to ``MAX_TRACE_S``); at low light (the short apertures too noisy to exclude
    full-depth PWM up to :data:`~rig.pulse.limit.COVER_MAX_HZ`) many more bursts at the shortest apertures.
    ``keep``, if given, receives the trace and the bursts."""
    bursts = capture_bursts(sensor, clear_basic_per_ms, BURST_STEPS, BURSTS_PER_APERTURE)
    trace = capture(sensor, trace_s, TRACE_RATE_HZ, clear_basic_per_ms)
    result = analyze_capture(trace, bursts, dark_counts)
    if result.frequency_hz is not None and 4.0 / result.frequency_hz > trace_s and trace_s < MAX_TRACE_S:
        trace = capture(sensor, min(MAX_TRACE_S, 4.0 / result.frequency_hz + 0.5), TRACE_RATE_HZ,
                        clear_basic_per_ms)
        result = analyze_capture(trace, bursts, dark_counts)
    # little light: fast PWM may hide in the noise of a few counts per sample ("limit"), or the bursts may miss
    # the tone whose alias the trace shows (a trace tone above TRACE_ALIAS_HZ may be an alias of a faster one)
    if result.method == "limit":
        bursts = bursts + capture_bursts(sensor, clear_basic_per_ms, BURST_STEPS[:LOW_LIGHT_APERTURES],
                                         LOW_LIGHT_BURSTS)
        result = analyze_capture(trace, bursts, dark_counts)
    elif result.method == "trace" and (result.frequency_hz or 0.0) > TRACE_ALIAS_HZ:
        bursts = bursts + capture_bursts(sensor, clear_basic_per_ms, BURST_STEPS, CONFIRM_BURSTS)
        result = analyze_capture(trace, bursts, dark_counts)
    if keep is not None:
        keep[:] = [trace, bursts]
    return result


def lock_integration(sensor: SpectralSensor, result: PulseResult, min_s: float = LOCK_MIN_S) -> float | None:
    """Integrate over a whole number of periods (>= ``min_s``) so every reading sees the duty-cycle mean.

    A frequency known only as a bound (> 1 kHz) needs no lock: any integration of >= 100 ms spans more
    than 100 periods, so phase changes the mean by < 1 %. Returns the locked t_int in ms, or None.
    """
    if result.frequency_hz is None or result.modulation_pct < 1.0:
        return None
    return sensor.lock_to_period(1.0 / result.frequency_hz, min_s)
