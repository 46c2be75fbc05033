"""The REAL backend's code path (rig/hardware/real.py) on emulated chips: mock at the bus, not at our classes.

The simulator's emulated I2C bus (smbus2 face), its TCA9548A, AS7341 and ADS1115 register emulators and
gpiozero's MockFactory stand in for /dev/i2c-1 and the Pi's GPIO; everything above them is the real bench's code.
"""

from __future__ import annotations

import json

import pytest

from rig.config import load_bench_config
from rig.errors import HardwareNotFound
from rig.hardware.real import build_real_bench
from rig.profile import load_profile
from rig.run import run_sequence
from rig.sequence import load_sequence
from rig.sim.backend import build_sim_bench
from rig.sim.wrap import load_wrap_spec
from rig.spectrum.derive import make_deriver
from tests.test_uniformity import PROFILE, SEQUENCE, WRAP

CHANNELS = {"a": 1, "b": 3, "c": 4, "d": 6}  # not 0..3: a wrong channel mapping cannot pass by accident


def emulated_bench(tmp_path, dead: str = '"right"'):
    """Emulated chips on an emulated bus (built by the simulator), and the bench config naming them."""
    lines = []
    for x, (name, channel) in enumerate(CHANNELS.items()):
        lines += ["[[positions]]", f'name = "{name}"', f"x_mm = {50 * x}.0", f"mux_channel = {channel}"]
    (tmp_path / "bench.toml").write_text("\n".join(lines) + "\n")
    (tmp_path / "w.toml").write_text(WRAP.format(dead=dead))
    config = load_bench_config(tmp_path / "bench.toml")
    sim = build_sim_bench(config, load_wrap_spec(tmp_path / "w.toml"), seed=3)
    sim.switch.close()  # free the mock pins: the real backend drives them now
    return config, sim


def test_real_backend_selects_each_mux_channel_and_reads_each_sensor(tmp_path):
    config, sim = emulated_bench(tmp_path)
    hardware = sim.hardware
    (mux,) = hardware.bus.muxes
    chips = {name: mux.downstream[channel][config.spectral.address] for name, channel in CHANNELS.items()}
    reads_before = {name: chip.integrations_read for name, chip in chips.items()}
    mux.history.clear()
    (tmp_path / "p.toml").write_text(PROFILE)
    (tmp_path / "s.toml").write_text(SEQUENCE)
    opened = []

    def open_real():
        bench = build_real_bench(config, smbus=hardware.bus.smbus(), pin_factory=hardware.pin_factory,
                                 clock=hardware.clock)
        opened.append(bench)
        return bench

    try:
        result = run_sequence(load_profile(tmp_path / "p.toml"), load_sequence(tmp_path / "s.toml"), open_real,
                              tmp_path / "results", derive=make_deriver())
    finally:
        sim.close()
    assert opened[0].backend == "real" and type(opened[0]).__name__ == "Bench"  # not the SimBench
    assert result.outcome == "COMPLETED", result.reason
    # the real code wrote each position's channel mask to the TCA9548A ...
    assert {1 << channel for channel in CHANNELS.values()} <= set(mux.history)
    assert set(mux.history) <= {1 << channel for channel in CHANNELS.values()}  # never two channels at once
    # ... and every sensor behind it was read (the main sensor, channel 1, most of all)
    assert all(chip.integrations_read > reads_before[name] for name, chip in chips.items())
    # the right string is dead: positions c and d (channels 4, 6) see only 15 % crosstalk of a and b's light
    positions = {p["name"]: p["irradiance_mw_cm2"]
                 for p in json.loads((result.run_dir / "run.json").read_text())["facts"]["uniformity"]["positions"]}
    assert positions["c"] / positions["a"] == pytest.approx(0.15, abs=0.04)
    assert positions["d"] / positions["b"] == pytest.approx(0.15, abs=0.04)
    assert not hardware.wrap.is_lit(hardware.clock.monotonic())  # the real switch code left the wrap off


def test_real_backend_names_a_missing_mux(tmp_path):
    config, sim = emulated_bench(tmp_path)
    sim.hardware.bus.disconnect(config.mux_address)
    try:
        with pytest.raises(HardwareNotFound, match="no TCA9548A mux at 0x70"):
            build_real_bench(config, smbus=sim.hardware.bus.smbus(), pin_factory=sim.hardware.pin_factory,
                             clock=sim.hardware.clock)
        assert not sim.hardware.wrap.is_lit(sim.hardware.clock.monotonic())
    finally:
        sim.close()


def test_real_backend_names_a_missing_sensor_behind_its_channel(tmp_path):
    config, sim = emulated_bench(tmp_path)
    (mux,) = sim.hardware.bus.muxes
    del mux.downstream[CHANNELS["c"]][config.spectral.address]  # board 'c' unplugged from its mux channel
    try:
        with pytest.raises(HardwareNotFound, match=r"no AS7341 at address 0x39 behind mux channel 4 \('c'\)"):
            build_real_bench(config, smbus=sim.hardware.bus.smbus(), pin_factory=sim.hardware.pin_factory,
                             clock=sim.hardware.clock)
    finally:
        sim.close()


def test_uniformity_without_irradiance_is_recorded_not_a_crash(tmp_path):
    # no analysis attached: readings carry raw counts only; the phase must say so, not end the run in ERROR
    config, sim = emulated_bench(tmp_path)
    (tmp_path / "p.toml").write_text(PROFILE)
    (tmp_path / "s.toml").write_text(SEQUENCE)
    hardware = sim.hardware
    try:
        result = run_sequence(load_profile(tmp_path / "p.toml"), load_sequence(tmp_path / "s.toml"),
                              lambda: build_real_bench(config, smbus=hardware.bus.smbus(),
                                                       pin_factory=hardware.pin_factory, clock=hardware.clock),
                              tmp_path / "results")
    finally:
        sim.close()
    assert result.outcome == "COMPLETED", result.reason
    events = json.loads((result.run_dir / "run.json").read_text())["events"]
    assert any("uniformity: no irradiance at any of 4 positions" in str(event) for event in events)
