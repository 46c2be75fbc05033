"""Accuracy of the spectral estimate over a grid of simulated LEDs, through the emulated chip and auto-range."""

import itertools

import numpy as np

from rig.bench.spectral import SpectralSensor
from rig.clock import SimClock
from rig.config import SpectralConfig
from rig.responsivity import Responsivity
from rig.sim.as7341 import AS7341Emulator, install_sim_clock
from rig.sim.bus import SimBus
from rig.sim.optics import FixedLight, SpectralLine
from rig.spectrum import Calibration, estimate

T = 0.01
RED_PEAKS = np.arange(615, 686, 1.0)
FWHMS = (12.0, 18.0, 24.0, 30.0)
IRRADIANCES = (0.1, 1.0, 10.0, 50.0, 200.0)  # mW/cm2 at the surface
NIR = (None, 810.0, 850.0, 940.0)


def test_spectral_accuracy_grid():
    rng = np.random.default_rng(7)
    cal = Calibration(Responsivity.load(), transmission=T, dark_counts=(1.5,) * 10)
    clock, bus = SimClock(), SimBus()
    light = FixedLight()
    bus.attach(0x39, AS7341Emulator(clock, light, seed=11))
    red_err, red_cover, irr_err, irr_cover, nir_bucket, nir_cover, saturated_used = [], [], [], [], [], [], 0
    cases = list(itertools.product(RED_PEAKS, FWHMS, IRRADIANCES, NIR))
    with install_sim_clock(clock):
        sensor = SpectralSensor(bus.busio(), SpectralConfig(), clock, "ND 2.0", T)
        for peak, fwhm, irradiance, nir in cases:
            lines = [SpectralLine(peak, fwhm, irradiance * 1000 * T)]
            total = irradiance
            if nir is not None:
                nir_mw = irradiance * rng.uniform(0.5, 1.0)
                lines.append(SpectralLine(nir, 30.0, nir_mw * 1000 * T))
                total += nir_mw
            light.lines = lines
            reading = sensor.read()
            if reading.saturated:
                saturated_used += 1
                continue
            result = estimate(reading.counts, reading.gain_x, reading.t_int_ms, cal, reading.saturated)
            if result.red_peak_nm is None:
                red_err.append(np.inf)
                red_cover.append(False)
            else:
                red_err.append(abs(result.red_peak_nm - peak))
                red_cover.append(red_err[-1] <= result.red_peak_u_nm)
            irr_err.append(abs(result.irradiance_mw_cm2 - total) / total)
            irr_cover.append(abs(result.irradiance_mw_cm2 - total) <= result.irradiance_u_mw_cm2)
            if nir is not None and result.nir_peak_nm is not None:
                nir_bucket.append(min((810, 850, 940), key=lambda b: abs(b - result.nir_peak_nm)) == nir)
                nir_cover.append(abs(result.nir_peak_nm - nir) <= result.nir_peak_u_nm)
            elif nir is not None:
                nir_bucket.append(False)
                nir_cover.append(False)
    red_err = np.array(red_err)
    finite = red_err[np.isfinite(red_err)]
    print(f"\n{len(cases)} simulated LEDs: red 615-685 nm (1 nm steps), FWHM {FWHMS} nm, "
          f"{IRRADIANCES} mW/cm2, NIR line {NIR}")
    print(f"red peak error: median {np.median(red_err):.2f} nm, p95 {np.percentile(red_err, 95):.2f} nm, "
          f"max {finite.max():.2f} nm, red band missed {np.sum(~np.isfinite(red_err))}")
    print(f"true red peak inside the stated uncertainty: {np.mean(red_cover):.1%}")
    print(f"irradiance error: median {np.median(irr_err):.1%}, p95 {np.percentile(irr_err, 95):.1%}; "
          f"inside stated uncertainty: {np.mean(irr_cover):.1%}")
    print(f"NIR peak nearest bucket (810/850/940) correct: {np.mean(nir_bucket):.1%}; "
          f"true NIR peak inside stated uncertainty: {np.mean(nir_cover):.1%}")
    print(f"saturated readings used: {saturated_used} (auto-range found an unsaturated setting every time)")
    assert np.median(red_err) <= 1.5 and np.percentile(red_err, 95) <= 4.0
    assert np.mean(red_cover) >= 0.90 and np.mean(irr_cover) >= 0.90
    assert saturated_used == 0
