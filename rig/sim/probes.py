"""Simulated thermistor dividers: true probe temperatures to ADS1115 input voltages, with open/short faults.

Each simulated probe is a physical part with its own TRUE curve (by default the Beta part the bench config
names: ``r0_ohm``, ``t0_c``, ``beta_k``; or one a test states), never the coefficients rig reads it with: rig
converts the resistance back with its configured (calibrated) coefficients, so wrong coefficients give the
wrong temperatures they would give on the bench.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from rig.config import ProbeConfig, ThermalConfig
from rig.hardware.ntc import Thermistor, divider_node_v


def true_part(probe: ProbeConfig) -> ProbeConfig:
    """The physical thermistor behind a configured probe: its Beta datasheet values (no calibration applied)."""
    return ProbeConfig(name=probe.name, channel=probe.channel, r0_ohm=probe.r0_ohm, t0_c=probe.t0_c,
                       beta_k=probe.beta_k)


class NtcDividerSim:
    """``temperatures(name)`` is the physical model's true temperature at each probe (C); ``true_probes``
    (by name) the parts' true curves (default :func:`true_part` of each configured probe)."""

    def __init__(self, config: ThermalConfig, temperatures: Callable[[str], float],
                 true_probes: Mapping[str, ProbeConfig] | None = None) -> None:
        self.config = config
        self.temperatures = temperatures
        self.by_channel = {p.channel: p for p in config.probes}
        true_probes = true_probes or {}
        self.thermistors = {p.name: Thermistor(true_probes.get(p.name) or true_part(p)) for p in config.probes}
        self.faults: dict[str, str | None] = {}

    def set_fault(self, name: str, fault: str | None) -> None:
        """``'open'`` (cable cut: the pull-up takes the node to the supply), ``'short'`` (node at 0 V) or None."""
        if name not in self.thermistors:
            raise KeyError(f"no probe named {name!r}")
        self.faults[name] = fault

    def __call__(self, channel: int) -> float:
        supply = self.config.supply_v
        if channel == self.config.supply_channel:
            return supply
        probe = self.by_channel.get(channel)
        if probe is None:
            return 0.0
        fault = self.faults.get(probe.name)
        if fault == "open":
            return supply
        if fault == "short":
            return 0.0
        resistance = self.thermistors[probe.name].resistance_ohm(self.temperatures(probe.name))
        return divider_node_v(resistance, supply, self.config.divider_r_ohm)
