"""A wrap of a red and a NIR string with one mode lighting each, its claims, the short sequence the multi-mode
tests run over every mode, and that run (`rig run --mode all`). Each test states the irradiances it simulates
and claims; the strings' light is stated here: red 660 nm (20 nm FWHM), NIR 850 nm (30 nm FWHM)."""

from __future__ import annotations

from pathlib import Path

from conftest import rig_cli

from support.texts import led_string, phase, profile_mode, settings, wrap_mode, write_run_files

RED_NM, NIR_NM = 660.0, 850.0

# no droop, no drift, a slow small rise and no auto-off within a run: each mode's light is what the test states
STEADY = {"auto_off_s": 3000.0, "surface_rise_c": 3.0, "heat_tau_s": 60.0, "droop_fraction": 0.0,
          "wavelength_drift_nm": 0.0}


def red_nir_wrap(name: str, red_mw_cm2: float, nir_mw_cm2: float, **wrap_settings) -> str:
    """The simulated wrap: mode 'red' lights the red string only, mode 'nir' the NIR string (more modes may be
    appended with :func:`support.texts.wrap_mode`)."""
    return ("\n" + settings(name=name, **wrap_settings) + led_string("red", RED_NM, 20.0, red_mw_cm2)
            + led_string("nir", NIR_NM, 30.0, nir_mw_cm2) + wrap_mode("red", ["red"]) + wrap_mode("nir", ["nir"]))


def red_nir_profile(model: str, unit: str, red_mw_cm2: float, nir_mw_cm2: float) -> str:
    """The maker's claims: mode 'red' (no press) peaks at 660 nm, mode 'nir' (one press) at 850 nm, each at the
    irradiance given +/- 40 % (more modes may be appended with :func:`support.texts.profile_mode`)."""
    return ("\n" + settings(maker="Modeco", model=model, unit=unit)
            + profile_mode("red", 0, red_peak_nm=RED_NM, irradiance_mw_cm2=red_mw_cm2, irradiance_tolerance_pct=40.0)
            + profile_mode("nir", 1, nir_peak_nm=NIR_NM, irradiance_mw_cm2=nir_mw_cm2, irradiance_tolerance_pct=40.0))


def mode_sequence(name: str, *before_off: str) -> str:
    """Each mode's sequence: dark 5 s, on, warm-up 10 s, measure 20 s every 2 s, the phases ``before_off``, off,
    cool-down 10 s every 5 s."""
    return ("\n" + settings(name=name) + phase("dark", duration_s=5.0) + phase("on")
            + phase("warmup", duration_s=10.0) + phase("measure", duration_s=20.0, interval_s=2.0)
            + "".join(before_off) + phase("off") + phase("cooldown", duration_s=10.0, interval_s=5.0))


def run_all_modes(folder: Path, results: Path, profile: str, sequence: str, sim_wrap: str, *extra: str):
    """`rig run --sim --mode all` on these texts (written into ``folder``), its results under ``results``: the
    command's result and the run folder it made."""
    args = write_run_files(folder, profile, sequence, sim_wrap)
    before = set(results.glob("*/run.json"))
    result = rig_cli(["run", "--sim", "--quiet", "--mode", "all", "--out", results, *args, *extra], cwd=folder)
    (made,) = set(results.glob("*/run.json")) - before
    return result, made.parent
