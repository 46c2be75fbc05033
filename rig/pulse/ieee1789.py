"""IEEE Std 1789-2015 flicker risk regions from percent flicker and frequency.

Source: IEEE Std 1789-2015, "IEEE Recommended Practices for Modulating Current
in High-Brightness LEDs for Mitigating Health Risks to Viewers", section 8.1
(Recommended Practice 1: low risk; Recommended Practice 2: no observable effect),
with Mod% = 100 (Lmax - Lmin) / (Lmax + Lmin) (percent flicker):

- low risk:              f < 90 Hz: Mod% < 0.025 f;  90 Hz <= f <= 1250 Hz: Mod% < 0.08 f;
                         f > 1250 Hz: no restriction;
- no observable effect:  f < 90 Hz: Mod% < 0.010 f;  90 Hz <= f <= 3000 Hz: Mod% < 0.0333 f;
                         f > 3000 Hz: exempt.

Regions reported: ``no observable effect``, ``low risk``, ``elevated risk`` (outside the low-risk
region), ``steady`` (no measurable modulation), or ``unknown`` (modulation without a frequency).
"""

from __future__ import annotations

NO_EFFECT, LOW_RISK, ELEVATED, STEADY, UNKNOWN = ("no observable effect", "low risk", "elevated risk", "steady",
                                                    "unknown")


def low_risk_limit_pct(frequency_hz: float) -> float:
    """Largest percent flicker still low risk at ``frequency_hz`` (inf: no restriction)."""
    if frequency_hz > 1250.0:
        return float("inf")
    return (0.025 if frequency_hz < 90.0 else 0.08) * frequency_hz


def no_effect_limit_pct(frequency_hz: float) -> float:
    """Largest percent flicker with no observable effect at ``frequency_hz`` (inf: exempt)."""
    if frequency_hz > 3000.0:
        return float("inf")
    return (0.010 if frequency_hz < 90.0 else 0.0333) * frequency_hz


def region(modulation_pct: float, frequency_hz: float | None, steady: bool = False) -> str:
    """The IEEE 1789 region of light modulated by ``modulation_pct`` at ``frequency_hz``.

    Pass a lower bound of the frequency when only that is known: the limits grow with frequency,
    so the region found at the bound is the worst case (a conservative answer).
    """
    if steady:
        return STEADY
    if frequency_hz is None or frequency_hz <= 0:
        return UNKNOWN
    if modulation_pct < no_effect_limit_pct(frequency_hz):
        return NO_EFFECT
    if modulation_pct < low_risk_limit_pct(frequency_hz):
        return LOW_RISK
    return ELEVATED
