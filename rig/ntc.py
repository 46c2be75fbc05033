"""NTC thermistor maths: Beta and Steinhart-Hart models, and the divider they sit in.

Divider: supply -> fixed resistor ``r_fixed_ohm`` -> node -> NTC -> ground, so
R_ntc = R_fixed x V / (Vs - V).
"""

from __future__ import annotations

import math

from rig.config import ProbeConfig

KELVIN = 273.15


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
    """Inverse of Steinhart-Hart: the real root of C x^3 + B x + (A - 1/T) = 0 with x = ln R (Cardano)."""
    inverse_t = 1.0 / (t_c + KELVIN)
    if c == 0:
        return math.exp((inverse_t - a) / b)
    p, q = b / c, (a - inverse_t) / c
    root = math.sqrt((q / 2) ** 2 + (p / 3) ** 3)
    x = math.copysign(abs(-q / 2 + root) ** (1 / 3), -q / 2 + root) + math.copysign(abs(-q / 2 - root) ** (1 / 3),
                                                                                   -q / 2 - root)
    return math.exp(x)


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
