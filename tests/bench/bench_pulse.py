"""Pulse frequency and duty error over a grid of simulated pulse modes, through the emulated flicker FIFO."""

import numpy as np

from rig.clock import SimClock
from rig.config import SpectralConfig
from rig.hardware.flicker import capture
from rig.hardware.spectral import SpectralSensor
from rig.pulse import analyze_trace
from rig.responsivity import gain_ratio
from rig.sim.as7341 import AS7341Emulator, install_sim_clock
from rig.sim.backend import JigLight
from rig.sim.bus import SimBus
from rig.sim.wrap import LedString, WrapMode, WrapModel, WrapSpec

FREQUENCIES = (2.0, 5.0, 10.0, 25.0, 40.0, 73.0, 100.0, 146.0, 250.0)
DUTIES = (0.1, 0.25, 0.5, 0.75)
LEVELS_MW = (1.0, 30.0)


def test_pulse_accuracy_grid():
    rows = []
    for hz in FREQUENCIES:
        for duty in DUTIES:
            for level in LEVELS_MW:
                clock, bus = SimClock(), SimBus()
                wrap = WrapModel(WrapSpec(strings=[LedString("red", 660.0, 20.0, level)],
                                          modes=[WrapMode("p", ["red"], pulse_hz=hz, duty=duty)], droop_fraction=0.0))
                wrap.set_power(0.0, True)
                bus.attach(0x39, AS7341Emulator(clock, JigLight(wrap, 0.01), seed=int(hz * 100 + duty * 10)))
                with install_sim_clock(clock):
                    sensor = SpectralSensor(bus.busio(), SpectralConfig(), clock, "ND 2.0", 0.01)
                    clock.sleep(0.0371 * (1 + duty))
                    reading = sensor.read()
                    trace = capture(sensor, 2.0, 2000.0,
                                    reading.counts[8] / (gain_ratio(reading.gain_x) * reading.t_int_ms))
                result = analyze_trace(trace.samples, trace.rate_hz)
                rows.append((hz, duty, level, result))
    missed = [r for r in rows if not r[3].pulsed]
    found = [r for r in rows if r[3].pulsed]
    f_err = np.array([abs(r[3].frequency_hz - r[0]) / r[0] for r in found])
    d_err = np.array([abs(r[3].duty_pct - 100 * r[1]) for r in found])
    f_cover = np.mean([abs(r[3].frequency_hz - r[0]) <= r[3].frequency_u_hz for r in found])
    d_cover = np.mean([abs(r[3].duty_pct - 100 * r[1]) <= r[3].duty_u_pct for r in found])
    print(f"\n{len(rows)} pulse modes: {FREQUENCIES} Hz x duty {DUTIES} x {LEVELS_MW} mW/cm2, 2 s at 2 kHz")
    print(f"pulsing detected: {len(found)}/{len(rows)}")
    print(f"frequency error: median {np.median(f_err):.3%}, p95 {np.percentile(f_err, 95):.3%}, "
          f"max {f_err.max():.3%}; inside stated u {f_cover:.1%}")
    print(f"duty error: median {np.median(d_err):.2f} points, p95 {np.percentile(d_err, 95):.2f}, "
          f"max {d_err.max():.2f}; inside stated u {d_cover:.1%}")
    for level in LEVELS_MW:
        errors = [abs(r[3].duty_pct - 100 * r[1]) for r in found if r[2] == level]
        cover = np.mean([abs(r[3].duty_pct - 100 * r[1]) <= r[3].duty_u_pct for r in found if r[2] == level])
        print(f"  at {level:g} mW/cm2: duty error median {np.median(errors):.2f}, max {max(errors):.2f} points; "
              f"inside u {cover:.1%}")
    worst = sorted(found, key=lambda r: -abs(r[3].duty_pct - 100 * r[1]))[:3]
    print("largest duty errors: " + "; ".join(f"{r[0]:g} Hz {100 * r[1]:g} % at {r[2]:g} mW/cm2 -> "
                                              f"{r[3].duty_pct:.1f} ± {r[3].duty_u_pct:.1f} %" for r in worst))
    assert not missed
    assert np.median(f_err) < 0.005 and np.median(d_err) < 2.0
    assert f_cover >= 0.9 and d_cover >= 0.9
