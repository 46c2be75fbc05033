"""rig's AS7341 reader on the emulated chip in front of a lit simulated wrap: the setup of the pulse tests and the
pulse benchmarks, each of which states the wrap's modes and level."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rig.clock import SimClock
from rig.config import SpectralConfig
from rig.hardware.spectral import SpectralSensor
from rig.sim.as7341 import AS7341Emulator, install_sim_clock
from rig.sim.backend import JigLight
from rig.sim.bus import SimBus
from rig.sim.wrap import LedString, WrapSpec
from rig.sim.wrap_model import WrapModel
from rig.spectrum.responsivity import gain_ratio

CLEAR = 8  # the AS7341's clear channel


@contextmanager
def sensor_on_wrap(modes, level_mw_cm2: float, seed: int, phase_s: float, ripple=()) -> Iterator[tuple]:
    """One red string (660 nm, 20 nm FWHM, no droop) at ``level_mw_cm2`` lit in ``modes[0]`` behind ND 2.0, the
    emulated chip (lot ``seed``) and rig's sensor, read once ``phase_s`` after switch-on (an arbitrary phase of the
    pulse train). Yields the sensor (sim clock installed), the emulated chip and that reading's clear channel as
    counts per ms at the 64x gain ratio."""
    clock, bus = SimClock(), SimBus()
    wrap = WrapModel(WrapSpec(strings=[LedString("red", 660.0, 20.0, level_mw_cm2)], modes=modes,
                              ripple=list(ripple), droop_fraction=0.0))
    wrap.set_power(0.0, True)
    chip = bus.attach(0x39, AS7341Emulator(clock, JigLight(wrap, 0.01), seed=seed))
    with install_sim_clock(clock):
        sensor = SpectralSensor(bus.busio(), SpectralConfig(), clock, "ND 2.0", 0.01)
        clock.sleep(phase_s)
        reading = sensor.read()
        yield sensor, chip, reading.counts[CLEAR] / (gain_ratio(reading.gain_x) * reading.t_int_ms)
