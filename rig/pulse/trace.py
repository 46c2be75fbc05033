"""Pulse frequency, duty cycle and modulation depth (percent flicker, IEEE 1789) from one evenly sampled trace.

A single sampling rate cannot tell a frequency from its alias: this is the
low-frequency half of the analysis (see :mod:`rig.pulse.multirate` for the rest).
numpy only (runs on the Pi). Uncertainties are expanded (k = 2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

PULSED_MODULATION_PCT = 20.0  # at least this: on/off pulsing (a duty cycle is reported)
RIPPLE_MIN_PCT = 2.0  # at least this (and 3 u): modulated light, its frequency is reported


@dataclass(frozen=True)
class PulseResult:
    """What a trace says about the light's time course."""

    modulation_pct: float  # IEEE 1789 percent flicker: 100 (max - min) / (max + min)
    modulation_u_pct: float
    pulsed: bool
    frequency_hz: float | None = None
    frequency_u_hz: float | None = None
    duty_pct: float | None = None
    duty_u_pct: float | None = None
    frequency_min_hz: float | None = None  # modulated faster than the capture resolves: "> frequency_min_hz"
    flicker_region: str = ""  # IEEE 1789 region (rig.pulse.ieee1789)
    aperture_us: float | None = None  # aperture of the samples the percent flicker comes from
    method: str = ""  # how the frequency was found ("trace", "bursts", "bursts+trace", "bound"; "none": steady;
    # "limit": nothing found, but too little light to exclude full-depth PWM above seen_up_to_hz)
    seen_up_to_hz: float | None = None  # no modulation found: full-depth PWM would have shown up to this frequency

    def as_dict(self) -> dict[str, float | str | None]:
        def r(value: float | None, digits: int) -> float | None:
            return None if value is None else round(value, digits)

        return {"modulation_pct": round(self.modulation_pct, 3), "modulation_u_pct": round(self.modulation_u_pct, 3),
                "pulse_hz": r(self.frequency_hz, 4), "pulse_u_hz": r(self.frequency_u_hz, 4),
                "pulse_min_hz": r(self.frequency_min_hz, 1),
                "duty_pct": r(self.duty_pct, 3), "duty_u_pct": r(self.duty_u_pct, 3),
                "flicker_region": self.flicker_region, "flicker_aperture_us": r(self.aperture_us, 2),
                "pulse_method": self.method, "pwm_seen_up_to_hz": r(self.seen_up_to_hz, 1)}


def analyze_trace(samples, rate_hz: float, dark_counts: float = 0.0) -> PulseResult:
    """Modulation depth always; frequency and duty when the light is pulsed."""
    x = np.asarray(samples, dtype=float) - dark_counts
    if len(x) < 16:
        raise ValueError("a pulse analysis needs at least 16 samples")
    high, low = np.percentile(x, 99.5), np.percentile(x, 0.5)
    mean = max(float(x.mean()), 1e-9)
    noise = math.sqrt(max(mean, 1.0) + 1.0)  # shot + read noise of one sample at the mean level, counts
    # the 0.5/99.5 percentiles of pure noise lie 5.15 sigma apart: take that spread out of the peak-to-peak
    peak_to_peak = math.sqrt(max(0.0, (high - low) ** 2 - (5.15 * noise) ** 2))
    modulation = float(min(100.0, 100.0 * peak_to_peak / max(high + max(low, 0.0), 1e-9)))
    modulation_u = float(100.0 * 2 * noise / (2 * mean))
    if modulation < max(RIPPLE_MIN_PCT, modulation_u) or peak_to_peak < 3 * noise:
        return PulseResult(modulation, modulation_u, False)
    n = len(x)
    centred = x - x.mean()
    padded = 8 * 2 ** int(math.ceil(math.log2(n)))
    spectrum = np.abs(np.fft.rfft(centred * np.hanning(n), padded))
    freqs = np.fft.rfftfreq(padded, 1.0 / rate_hz)
    spectrum[freqs < 0.5] = 0.0
    # the fundamental: the lowest strong peak (harmonics of a square wave can be strong too)
    strong = np.flatnonzero(spectrum >= 0.5 * spectrum.max())
    k = int(strong[0])
    while k + 1 < len(spectrum) and spectrum[k + 1] > spectrum[k]:
        k += 1
    if 0 < k < len(spectrum) - 1:
        a, b, c = np.log(spectrum[k - 1:k + 2] + 1e-12)
        shift = 0.5 * (a - c) / (a - 2 * b + c) if (a - 2 * b + c) != 0 else 0.0
    else:
        shift = 0.0
    frequency = float(freqs[k] + shift * (freqs[1] - freqs[0]))
    duration = n / rate_hz
    frequency_u = max(0.1 / duration, 0.002 * frequency)
    if modulation < PULSED_MODULATION_PCT:
        return PulseResult(modulation, modulation_u, False, frequency, frequency_u)
    # duty: the fraction of samples above the midpoint between the on and off levels (the medians of the
    # samples on either side of the first midpoint); a sample straddling an edge counts by its coverage
    threshold = 0.5 * (high + low)
    on_level, off_level = float(np.median(x[x > threshold])), float(np.median(x[x <= threshold]))
    threshold = 0.5 * (on_level + off_level)
    whole = int(int(frequency * duration) * rate_hz / frequency) if frequency * duration >= 1 else n
    duty = 100.0 * float(np.mean(x[:max(whole, 16)] > threshold))  # whole periods only: no partial one
    periods = max(frequency * duration, 1.0)
    per_period = rate_hz / frequency
    # two edge samples per period are classified by noise as much as by coverage: their share of the
    # samples times the noise-to-amplitude ratio, plus the count statistics of the edges, plus a floor
    amplitude = max(on_level - off_level, 1e-9)
    edge_u = 2.0 * 100.0 / per_period * min(1.0, 2.0 * noise / amplitude)
    duty_u = 2.0 * math.hypot(edge_u, 100.0 / per_period / math.sqrt(periods)) + 0.5
    return PulseResult(modulation, modulation_u, True, frequency, frequency_u, duty, duty_u)
