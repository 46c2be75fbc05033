"""Simulated thermistor dividers: true probe temperatures to ADS1115 input voltages, with open/short faults."""

from __future__ import annotations

from collections.abc import Callable

from rig.config import ThermalConfig
from rig.ntc import Thermistor, divider_node_v


class NtcDividerSim:
    """``temperatures(name)`` is the physical model's true temperature at each probe (C)."""

    def __init__(self, config: ThermalConfig, temperatures: Callable[[str], float]) -> None:
        self.config = config
        self.temperatures = temperatures
        self.by_channel = {p.channel: p for p in config.probes}
        self.thermistors = {p.name: Thermistor(p) for p in config.probes}
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
