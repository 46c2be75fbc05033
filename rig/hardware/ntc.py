"""NTC thermistor maths: Beta and Steinhart-Hart models, and the divider they sit in.

Divider: supply -> fixed resistor ``r_fixed_ohm`` -> node -> NTC -> ground, so
R_ntc = R_fixed x V / (Vs - V).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # rig.config calls back into this module to check a probe's curve
    from rig.config import ProbeConfig

KELVIN = 273.15
CURVE_RANGE_C = (-20.0, 120.0)  # where a probe's curve must be a proper NTC curve (the interlock reads it here)
BETA_RANGE_K = (1000.0, 10_000.0)  # NTC thermistors: B about 2500-5000 K
RESISTANCE_RANGE_OHM = (1.0, 1e8)


def beta_resistance_ohm(t_c: float, r0_ohm: float, t0_c: float, beta_k: float) -> float:
    """R(T) = R0 exp(B (1/T - 1/T0))."""
    return r0_ohm * math.exp(beta_k * (1.0 / (t_c + KELVIN) - 1.0 / (t0_c + KELVIN)))


def beta_temperature_c(r_ohm: float, r0_ohm: float, t0_c: float, beta_k: float) -> float:
    """1/T = 1/T0 + ln(R/R0)/B."""
    return 1.0 / (1.0 / (t0_c + KELVIN) + math.log(r_ohm / r0_ohm) / beta_k) - KELVIN


def steinhart_hart_temperature_c(r_ohm: float, a: float, b: float, c: float) -> float:
    """1/T = A + B ln R + C (ln R)^3."""
    ln_r = math.log(r_ohm)
    return 1.0 / (a + b * ln_r + c * ln_r**3) - KELVIN


def steinhart_hart_resistance_ohm(t_c: float, a: float, b: float, c: float) -> float:
    """Inverse of Steinhart-Hart: the root x = ln R of C x^3 + B x + (A - 1/T) = 0 on the curve's rising branch
    (1/T increasing with ln R: B + 3 C x^2 > 0), by Cardano (one real root) or the trigonometric form (three);
    ValueError when no root lies on a rising branch."""
    inverse_t = 1.0 / (t_c + KELVIN)
    if c == 0:
        return math.exp((inverse_t - a) / b)
    p, q = b / c, (a - inverse_t) / c
    discriminant = (q / 2) ** 2 + (p / 3) ** 3
    if discriminant >= 0:
        root = math.sqrt(discriminant)
        roots = [math.copysign(abs(-q / 2 + root) ** (1 / 3), -q / 2 + root)
                 + math.copysign(abs(-q / 2 - root) ** (1 / 3), -q / 2 - root)]
    else:  # three real roots (p < 0)
        radius = 2.0 * math.sqrt(-p / 3)
        angle = math.acos(max(-1.0, min(1.0, 3 * q / (p * radius)))) / 3
        roots = [radius * math.cos(angle - 2 * math.pi * k / 3) for k in range(3)]
    rising = [x for x in roots if b + 3 * c * x * x > 0]
    if not rising:
        raise ValueError(f"Steinhart-Hart curve has no resistance on a rising branch at {t_c:g} C")
    guess = (inverse_t - a) / b if b else 0.0
    return math.exp(min(rising, key=lambda x: abs(x - guess)))


def divider_resistance_ohm(v_node: float, v_supply: float, r_fixed_ohm: float) -> float:
    """NTC resistance from the node voltage (NTC on the low side)."""
    return r_fixed_ohm * v_node / (v_supply - v_node)


def divider_node_v(r_ntc_ohm: float, v_supply: float, r_fixed_ohm: float) -> float:
    """Node voltage for an NTC resistance (NTC on the low side)."""
    return v_supply * r_ntc_ohm / (r_ntc_ohm + r_fixed_ohm)


class Thermistor:
    """One probe's model: Steinhart-Hart when the config has all three coefficients, else Beta."""

    def __init__(self, probe: ProbeConfig) -> None:
        self.probe = probe
        self.model = "steinhart-hart" if probe.sh_a is not None else "beta"

    def temperature_c(self, r_ohm: float) -> float:
        p = self.probe
        if self.model == "steinhart-hart":
            return steinhart_hart_temperature_c(r_ohm, p.sh_a, p.sh_b, p.sh_c)
        return beta_temperature_c(r_ohm, p.r0_ohm, p.t0_c, p.beta_k)

    def resistance_ohm(self, t_c: float) -> float:
        p = self.probe
        if self.model == "steinhart-hart":
            return steinhart_hart_resistance_ohm(t_c, p.sh_a, p.sh_b, p.sh_c)
        return beta_resistance_ohm(t_c, p.r0_ohm, p.t0_c, p.beta_k)


def curve_problem(model: str, coefficients: Mapping[str, float]) -> str | None:
    """Why these coefficients do not describe an NTC over -20..120 C (resistance falling as temperature rises,
    one temperature per resistance, the model's inverse exact), or None when they do."""
    c = coefficients
    low, high = CURVE_RANGE_C
    if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in c.values()):
        return "coefficients must be finite numbers"
    if model == "beta":
        if not BETA_RANGE_K[0] <= c["beta_k"] <= BETA_RANGE_K[1]:
            return (f"beta_k = {c['beta_k']:g} K is not an NTC's Beta ({BETA_RANGE_K[0]:g}-{BETA_RANGE_K[1]:g} K; "
                    "a negative or tiny Beta means resistance that does not fall with temperature)")
        if c["r0_ohm"] <= 0:
            return f"r0_ohm = {c['r0_ohm']:g} must be > 0"
        def resistance(t_c: float) -> float:
            return beta_resistance_ohm(t_c, c["r0_ohm"], c["t0_c"], c["beta_k"])

        def temperature(r_ohm: float) -> float:
            return beta_temperature_c(r_ohm, c["r0_ohm"], c["t0_c"], c["beta_k"])
    else:
        a, b, c3 = c["sh_a"], c["sh_b"], c["sh_c"]

        def resistance(t_c: float) -> float:
            return steinhart_hart_resistance_ohm(t_c, a, b, c3)

        def temperature(r_ohm: float) -> float:
            return steinhart_hart_temperature_c(r_ohm, a, b, c3)
    temps = [low + 0.5 * i for i in range(int((high - low) / 0.5) + 1)]
    try:
        resistances = [resistance(t) for t in temps]
        back = [temperature(r) for r in resistances]
    except (ValueError, OverflowError, ZeroDivisionError):
        return f"the curve has no single resistance for every temperature in {low:g}..{high:g} C"
    for t, r, t_back in zip(temps, resistances, back, strict=True):
        if not (math.isfinite(r) and RESISTANCE_RANGE_OHM[0] <= r <= RESISTANCE_RANGE_OHM[1]):
            return f"the curve gives {r:.4g} ohm at {t:g} C (expected {RESISTANCE_RANGE_OHM[0]:g}-" \
                   f"{RESISTANCE_RANGE_OHM[1]:g} ohm)"
        if abs(t_back - t) > 0.01:
            return f"the curve is not one-to-one near {t:g} C (reads {t_back:.2f} C back)"
    for (t1, r1), (t2, r2) in zip(zip(temps, resistances, strict=True), zip(temps[1:], resistances[1:], strict=True),
                                  strict=False):
        if not r2 < r1:
            return f"resistance does not fall with temperature between {t1:g} and {t2:g} C (not an NTC curve)"
    if model != "beta":  # 1/T = A + B x + C x^3 must fall... rise with x = ln R everywhere in between: B + 3 C x^2 > 0
        x_low, x_high = math.log(resistances[-1]), math.log(resistances[0])
        xs = [x_low, x_high] + ([0.0] if x_low < 0 < x_high else [])
        if min(b + 3 * c3 * x * x for x in xs) <= 0:
            return f"the curve turns back within {low:g}..{high:g} C (not an NTC curve)"
    return None


def probe_curve_problem(probe: ProbeConfig) -> tuple[str, str] | None:
    """(key, why) when a probe's configured curve is not an NTC's over -20..120 C (see :func:`curve_problem`)."""
    if probe.sh_a is not None and probe.sh_b is not None and probe.sh_c is not None:
        problem = curve_problem("steinhart-hart", {"sh_a": probe.sh_a, "sh_b": probe.sh_b, "sh_c": probe.sh_c})
        return ("sh_a/sh_b/sh_c", problem) if problem else None
    problem = curve_problem("beta", {"r0_ohm": probe.r0_ohm, "t0_c": probe.t0_c, "beta_k": probe.beta_k})
    return ("beta_k", problem) if problem else None
