"""Pulse, PWM and ripple of a wrap's light: frequency (alias-resolved or bounded), duty, percent flicker, IEEE 1789.

- :mod:`rig.pulse.trace`: one evenly sampled trace (the continuous ~2 kHz capture);
- :mod:`rig.pulse.multirate`: short-aperture bursts at several rates, combined with the trace;
- :mod:`rig.pulse.ieee1789`: risk regions;
- :mod:`rig.pulse.detect`: the capture + analysis the runner calls after every switch-on.
"""

from rig.pulse.trace import PULSED_MODULATION_PCT, PulseResult, analyze_trace

__all__ = ["PULSED_MODULATION_PCT", "PulseResult", "analyze_trace"]
