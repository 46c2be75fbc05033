"""Values no one used to check, and TOML nested too deep to read: each refused with exit 2 naming the file, the key and
what was expected, before anything is switched on or written (the hostile probe of issue 21)."""

from __future__ import annotations

import pytest
from test_bad_input import PROFILE, ROLES, SEQUENCE, assert_refused, cli

SIM_WRAP = "[[strings]]\nname = 'red'\npeak_nm = 660.0\nfwhm_nm = 20.0\nirradiance_mw_cm2 = 25.0\n" \
           "[[modes]]\nname = 'red'\nstrings = ['red']\n"
UNIFORMITY = PROFILE + "min_uniformity_ratio = {}\n"

VALUE_CASES = {
    "supply channel -1": ("bench", "[thermal]\nsupply_channel = -1\n", "thermal.supply_channel", "0..3"),
    "supply channel 4": ("bench", "[thermal]\nsupply_channel = 4\n", "thermal.supply_channel", "0..3"),
    "adc address negative": ("bench", "[thermal]\naddress = -72\n", "thermal.address", "0x08..0x77"),
    "sensor address negative": ("bench", "[spectral]\naddress = -1\n", "spectral.address", "0x08..0x77"),
    "mux address negative": ("bench", "mux_address = -112\n", "mux_address", "0x08..0x77"),
    "adc on the sensor's address": ("bench", "[thermal]\naddress = 0x39\n", "thermal.address", "other than"),
    "autorange steps negative": ("bench", "[spectral]\nmax_autorange_steps = -3\n", "spectral.max_autorange_steps",
                                 "0..64"),
    "calibration age negative": ("bench", "calibration_max_age_days = -1.0\n", "calibration_max_age_days",
                                 "days in (0, 3650]"),
    "calibration age zero": ("bench", "calibration_max_age_days = 0.0\n", "calibration_max_age_days", "days"),
    "uniformity ratio negative": ("profile", UNIFORMITY.format("-0.5"), "modes[0].claims.min_uniformity_ratio",
                                  "(0, 1]"),
    "uniformity ratio above 1": ("profile", UNIFORMITY.format("1.5"), "modes[0].claims.min_uniformity_ratio",
                                 "(0, 1]"),
    "uniformity CV negative": ("profile", PROFILE + "max_cv_pct = -5.0\n", "modes[0].claims.max_cv_pct", "[0, 100]"),
    "sim-wrap weight nan": ("sim-wrap", SIM_WRAP + "[[positions]]\nname = 'left'\nweights = { red = nan }\n",
                            "positions[0].weights.red", "0..10"),
    "sim-wrap weight negative": ("sim-wrap", SIM_WRAP + "[[positions]]\nname = 'left'\nweights = { red = -1.0 }\n",
                                 "positions[0].weights.red", "0..10"),
    "sim-wrap weight of no string": ("sim-wrap", SIM_WRAP + "[[positions]]\nname = 'left'\nweights = { blue = 1.0 }\n",
                                     "positions[0].weights.blue", "names of strings"),
    "sim-wrap fault on no probe": ("sim-wrap", SIM_WRAP + "[[faults.events]]\nat_s = 5.0\nkind = 'probe_open'\n"
                                   "probe = 'nowhere'\n", "faults.events[0].probe", "surface, ambient"),
    # a 1e12 s phase sampled every microsecond ran for ever, writing 4.8 MB a minute
    "phase of 1e12 s": ("sequence", SEQUENCE.replace("duration_s = 10.0", "duration_s = 1e12"),
                        "phases[2].duration_s", "at most 86400 s"),
    "a sample every microsecond": ("sequence", SEQUENCE.replace("interval_s = 1.0\n[[phases]]\nkind = \"off\"",
                                                                "interval_s = 1e-6\n[[phases]]\nkind = \"off\""),
                                   "phases[2].interval_s", "at most 100000 samples"),
}


@pytest.mark.parametrize("case", VALUE_CASES)
def test_an_impossible_value_is_refused_naming_the_key_and_the_range(tmp_path, capsys, case):
    role, text, key, expected = VALUE_CASES[case]
    path = tmp_path / f"{role}.toml"
    path.write_text(text)
    out = tmp_path / "results"
    code, _, err = cli(["run", "--sim", "--quiet", ROLES[role], path, "--out", out], capsys)
    assert_refused(code, err, str(path), key, expected)
    assert not out.exists()  # nothing created, nothing switched on


def test_a_fault_event_on_a_probe_the_bench_has_is_accepted(tmp_path):
    from rig.config import load_bench_config
    from rig.sim.backend import build_sim_bench
    from rig.sim.wrap import load_wrap_spec

    path = tmp_path / "wrap.toml"
    path.write_text(SIM_WRAP + "[[faults.events]]\nat_s = 5.0\nkind = 'probe_open'\nprobe = 'ambient'\n")
    build_sim_bench(load_bench_config(backend="sim"), load_wrap_spec(path)).close()


NESTINGS = {
    "arrays": "x = " + "[" * 1000 + "]" * 1000 + "\n",
    "inline tables": "x = " + "{ a = " * 1000 + "1" + " }" * 1000 + "\n",
    "dotted keys": "name = " + ".".join(["a"] * 1000) + " = 1\n",
}


@pytest.mark.parametrize("nesting", NESTINGS)
@pytest.mark.parametrize("role", ROLES)
def test_toml_nested_1000_levels_deep_is_refused_by_every_file_kind(tmp_path, capsys, role, nesting):
    path = tmp_path / f"{role}.toml"
    text = NESTINGS[nesting]
    path.write_text(text.replace("name = ", "") if nesting == "dotted keys" else text)
    out = tmp_path / "results"
    code, _, err = cli(["run", "--sim", "--quiet", ROLES[role], path, "--out", out], capsys)
    assert_refused(code, err, str(path), "nested at most 16 levels")
    assert not out.exists()
