"""Thermistor probes on an ADS1115, read with smbus2-style calls (real SMBus on the Pi, emulated in sim).

Open probes (node pulled to the supply) and shorted probes (node at ground) are
reported as faults with no temperature, never as -50 C or 300 C.
"""

from __future__ import annotations

from dataclasses import dataclass

from rig.clock import Clock
from rig.config import ThermalConfig
from rig.errors import SensorFault
from rig.hardware.ntc import Thermistor, divider_resistance_ohm

CONVERSION, CONFIG = 0x00, 0x01
PGA_CODES = {6.144: 0, 4.096: 1, 2.048: 2, 1.024: 3, 0.512: 4, 0.256: 5}
RATE_CODES = {8: 0, 16: 1, 32: 2, 64: 3, 128: 4, 250: 5, 475: 6, 860: 7}
OPEN_FRACTION, SHORT_FRACTION = 0.98, 0.02
VALID_RANGE_C = (-40.0, 150.0)


def config_word(channel: int, pga_v: float, rate_sps: int) -> int:
    """Single-shot conversion of AINx vs GND: OS=1, MUX=1xx, PGA, MODE=1, rate, comparator off."""
    return ((1 << 15) | ((0b100 | channel) << 12) | (PGA_CODES[pga_v] << 9) | (1 << 8)
            | (RATE_CODES[rate_sps] << 5) | 0x03)


class ADS1115:
    """The ADC: ``read_volts(channel)`` does one single-shot conversion."""

    def __init__(self, bus, address: int, clock: Clock, pga_v: float = 4.096, rate_sps: int = 128) -> None:
        self.bus = bus
        self.address = address
        self.clock = clock
        self.pga_v = pga_v
        self.rate_sps = rate_sps

    def read_volts(self, channel: int) -> float:
        """Volts on AIN``channel`` (vs GND). Bus errors become :class:`SensorFault` naming the address."""
        word = config_word(channel, self.pga_v, self.rate_sps)
        try:
            self.bus.write_i2c_block_data(self.address, CONFIG, [word >> 8, word & 0xFF])
            self.clock.sleep(1.0 / self.rate_sps + 0.0005)
            deadline = self.clock.monotonic() + 0.1
            while not self.bus.read_i2c_block_data(self.address, CONFIG, 2)[0] & 0x80:
                if self.clock.monotonic() > deadline:
                    raise SensorFault(f"ADS1115 at 0x{self.address:02x}: conversion did not finish")
                self.clock.sleep(0.001)
            high, low = self.bus.read_i2c_block_data(self.address, CONVERSION, 2)
        except OSError as error:
            raise SensorFault(f"ADS1115 at 0x{self.address:02x}: I2C error ({error})") from error
        code = int.from_bytes(bytes([high, low]), "big", signed=True)
        return code * self.pga_v / 32768.0

    def full_scale(self, volts: float) -> bool:
        """True when ``volts`` sits at the PGA's clipping limit."""
        return abs(volts) >= self.pga_v * 32767 / 32768


@dataclass(frozen=True)
class ProbeReading:
    """One probe: ``temp_c`` is None whenever ``fault`` is set."""

    name: str
    temp_c: float | None
    volts: float
    resistance_ohm: float | None
    fault: str | None = None


class ThermalProbes:
    """Every configured probe, read ratiometrically against the measured supply when there is a supply channel."""

    def __init__(self, bus, config: ThermalConfig, clock: Clock) -> None:
        self.config = config
        self.adc = ADS1115(bus, config.address, clock, config.pga_v, config.rate_sps)
        self.thermistors = {p.name: Thermistor(p) for p in config.probes}
        self.supply_volts = config.supply_v

    def read(self) -> dict[str, ProbeReading]:
        config = self.config
        if config.supply_channel is not None:
            measured = self.adc.read_volts(config.supply_channel)
            if self.adc.full_scale(measured) or measured < 0.5 * config.supply_v:
                raise SensorFault(f"divider supply on ADS1115 AIN{config.supply_channel} reads {measured:.3f} V "
                                  f"(expected about {config.supply_v} V): check the supply wire and pga_v")
            self.supply_volts = measured
        return {probe.name: self._probe(probe.name, probe.channel) for probe in config.probes}

    def _probe(self, name: str, channel: int) -> ProbeReading:
        volts = self.adc.read_volts(channel)
        supply = self.supply_volts
        if self.adc.full_scale(volts):
            return ProbeReading(name, None, volts, None, "out of range (ADC clipped: check pga_v)")
        if volts >= OPEN_FRACTION * supply:
            return ProbeReading(name, None, volts, None, "open")
        if volts <= SHORT_FRACTION * supply:
            return ProbeReading(name, None, volts, None, "short")
        resistance = divider_resistance_ohm(volts, supply, self.config.divider_r_ohm)
        try:
            temp_c = self.thermistors[name].temperature_c(resistance)
        except (ValueError, ZeroDivisionError, OverflowError):  # coefficients that are no NTC curve here
            return ProbeReading(name, None, volts, resistance, "no temperature for this resistance (check the "
                                "probe's coefficients)")
        if not VALID_RANGE_C[0] <= temp_c <= VALID_RANGE_C[1]:
            return ProbeReading(name, None, volts, resistance, "out of range")
        return ProbeReading(name, temp_c, volts, resistance)
