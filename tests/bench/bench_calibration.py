"""Irradiance error after calibration, across wavelengths 620-950 nm and 0.1-200 mW/cm2.

The simulated attenuator truly passes 1.3 % while the bench config says 1 %; one
660 nm calibration at 20 mW/cm2 (reference meter exact) must fix the scale: red light
(620-685 nm) within 5 % (median), and every case inside its stated U. The sensor is a
unit from the production spread, not the table, so an irradiance-only calibration
leaves its NIR response where the spread puts it (errors of 5-10 % at 830-940 nm,
printed, inside U): the spectral references fix that (bench_spectrum_accuracy).
"""

import numpy as np

from rig.calibration.file import CalibrationFile
from rig.calibration.fit import Reading, fit_scale, measure_nominal
from rig.clock import SimClock
from rig.config import SpectralConfig
from rig.hardware.spectral import SpectralSensor
from rig.sim.as7341 import AS7341Emulator, install_sim_clock
from rig.sim.bus import SimBus
from rig.sim.optics import FixedLight, SpectralLine
from rig.spectrum import estimate

TRUE_T, NOMINAL_T = 0.013, 0.01
WAVELENGTHS = (620, 630, 645, 660, 670, 685, 810, 830, 850, 880, 940)
LEVELS = (0.1, 0.5, 2.0, 10.0, 50.0, 100.0, 200.0)


def test_irradiance_error_after_calibration():
    clock, bus = SimClock(), SimBus()
    light = FixedLight()
    bus.attach(0x39, AS7341Emulator(clock, light, seed=21))
    with install_sim_clock(clock):
        sensor = SpectralSensor(bus.busio(), SpectralConfig(), clock, "ND 2.0", NOMINAL_T)

        def read(nm: float, mw: float):
            light.lines = [SpectralLine(nm, 20.0 if nm < 740 else 30.0, mw * 1000 * TRUE_T)]
            return sensor.read()

        cal_readings = [read(660.0, 20.0) for _ in range(10)]
        measured = measure_nominal([Reading(r.counts, r.gain_x, r.t_int_ms, r.saturated) for r in cal_readings],
                                   [660.0] * 10, NOMINAL_T)
        fit = fit_scale([20.0] * 10, measured, reference_u_rel=0.0)
        calibration = CalibrationFile(id="bench", sensor_id="as7341-1", transmission=NOMINAL_T, scale=fit.scale,
                                      scale_u_rel=fit.scale_u_rel).calibration()
        errors, covered, saturated_used, by_nm = [], [], 0, {}
        for nm in WAVELENGTHS:
            for mw in LEVELS:
                reading = read(float(nm), mw)
                if reading.saturated:
                    saturated_used += 1
                    continue
                result = estimate(reading.counts, reading.gain_x, reading.t_int_ms, calibration)
                error = (result.irradiance_mw_cm2 - mw) / mw
                errors.append(abs(error))
                covered.append(abs(result.irradiance_mw_cm2 - mw) <= result.irradiance_u_mw_cm2)
                by_nm.setdefault(nm, []).append(abs(error))
    errors = np.array(errors)
    print(f"\ncalibrated once at 660 nm / 20 mW/cm2: scale {fit.scale:.4f} (truth {NOMINAL_T / TRUE_T:.4f})")
    print("median |error| by wavelength: " + ", ".join(f"{nm}: {np.median(v):.1%}" for nm, v in by_nm.items()))
    print(f"{len(errors)} cases, 620-950 nm x 0.1-200 mW/cm2: median |error| {np.median(errors):.1%}, "
          f"p95 {np.percentile(errors, 95):.1%}, inside stated uncertainty {np.mean(covered):.1%}, "
          f"saturated readings used {saturated_used}")
    red = np.concatenate([by_nm[nm] for nm in WAVELENGTHS if nm < 740])
    print(f"red (620-685 nm): median |error| {np.median(red):.1%}")
    assert np.median(red) <= 0.05 and np.mean(covered) >= 0.95 and saturated_used == 0


def test_calibration_files_across_the_production_spread(tmp_path):
    """The README's calibration (dark, 660 nm irradiance with a 1 % meter, 630/660/850 nm references at u 0.5 nm)
    on production units, some with a tenth (or 0.3x) of the templates' out-of-band leakage in F1-F4, in two
    orders: the README's, and irradiance / spectral / irradiance again. Every file written loads, both orders give
    the same file, and a 645 nm LED at 30 mW/cm2 is verified against it."""
    import dataclasses

    from test_calibration_files import apply, content, low_leak, read, steps_for

    from rig.calibration.file import load_calibration, save_calibration
    from rig.calibration.jobs import calibration_target
    from rig.calibration.verify import verify
    from rig.errors import RigError
    from rig.sim.sensor_unit import SensorUnit

    units = {f"as7341-{k}": SensorUnit.draw(f"as7341-{k}", 0) for k in range(1, 6)}
    units |= {f"as7341-{k}/low 0.1": low_leak(SensorUnit.draw(f"as7341-{k}", 7)) for k in range(6, 9)}
    units |= {f"as7341-{k}/low 0.3": low_leak(SensorUnit.draw(f"as7341-{k}", 7), 0.3) for k in range(9, 11)}
    orders = {"README": ["dark", "irradiance 20", "spectral 631", "spectral 658.5", "spectral 852", "irradiance 45"],
              "issue": ["irradiance 20", "spectral 631", "spectral 658.5", "spectral 852", "irradiance 45", "dark"]}
    print(f"\n{'unit':18} {'outcome':46} {'scale':>7} {'u':>6} {'max res':>8} {'same':>5} "
          f"{'645 nm err':>10} {'U':>6} {'inside':>6}")
    calibrated = same_files = refused = 0
    for name, unit in units.items():
        steps = steps_for(unit)
        made, outcome = {}, "calibrated"
        for order_name, order in orders.items():
            path = tmp_path / f"{name.replace('/', '_').replace(' ', '_')}-{order_name}.toml"
            for step in order:
                _, calibration, _ = calibration_target(str(path), name, "ND 2.0", 0.01)
                apply(calibration, steps[step])
                try:
                    save_calibration(calibration, path)
                except RigError as error:  # refused: the file keeps what it had
                    outcome = "refused: " + str(error).split("'")[1]
            made[order_name] = load_calibration(path) if path.exists() else None
        files = [m for m in made.values() if m is not None]
        same = len(files) == 2 and content(files[0]) == content(dataclasses.replace(files[1], source=files[0].source))
        same_files += same
        refused += outcome != "calibrated"
        readme = made["README"]
        if readme is None or not readme.has_spectral:
            print(f"{name:18} {outcome:46}")
            continue
        calibrated += outcome == "calibrated"
        check = verify(read(unit, [(645.0, 20.0, 30.0)], 3, seed=11), readme.calibration(), 30.0, 0.01, None, 0.5)[0]
        print(f"{name:18} {outcome:46} {readme.scale:7.4f} {readme.scale_u_rel:6.1%} "
              f"{max(abs(r) for r in readme.residuals_rel):8.1%} {'yes' if same else 'NO':>5} "
              f"{check.error / 30.0:+10.1%} {check.measured_u / 30.0:6.1%} {'yes' if check.inside else 'NO':>6}")
    print(f"{len(units)} units: {calibrated} calibrated, {refused} refused a step (the file kept what it had), "
          f"same file in both orders: {same_files}")
    assert same_files == len(units)
