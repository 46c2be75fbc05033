"""`rig off` needs only the pin: a bench config that is missing, broken elsewhere or partly wrong in [switch]
never stops it from driving the power pin to its off level; each fallback is a warning on stderr.

The simulated bench (gpiozero's MockFactory) stands in for the Pi's pins: what is checked is which pin the
config leads `rig off` to drive and to which level.
"""

from __future__ import annotations

from conftest import rig_cli
from gpiozero.pins.mock import MockFactory

from rig.config import SwitchConfig
from rig.hardware.switch import force_off
from rig.wiring import switch_settings


def bench(tmp_path, text: str):
    path = tmp_path / "bench.toml"
    path.write_text(text)
    return path


def test_a_mistake_elsewhere_in_the_config_is_a_warning_and_the_configured_pin_is_driven(tmp_path):
    path = bench(tmp_path, 'backend = "sim"\n[spectral]\ngain_x = 7\n[switch]\npower_pin = 22\nactive_high = false\n')
    result = rig_cli(["off", "--bench", path])
    assert result.returncode == 0, result.stderr
    assert "power pin GPIO22 driven high (off)" in result.stdout  # active-low wiring: off is high
    assert "gain_x" in result.stderr and "warning" in result.stderr


def test_a_missing_bench_file_falls_back_to_the_default_pins_with_a_warning(tmp_path, monkeypatch):
    monkeypatch.setenv("RIG_BENCH", str(tmp_path / "gone.toml"))
    result = rig_cli(["off", "--sim"])
    assert result.returncode == 0, result.stderr
    assert "power pin GPIO17 driven low (off)" in result.stdout
    assert "gone.toml" in result.stderr and "built-in switch settings" in result.stderr


def test_a_file_that_is_not_toml_falls_back_to_the_defaults(tmp_path):
    result = rig_cli(["off", "--sim", "--bench", bench(tmp_path, "[switch\npower_pin = 22\n")])
    assert result.returncode == 0, result.stderr
    assert "GPIO17 driven low" in result.stdout and "valid TOML" in result.stderr


def test_unusable_switch_keys_fall_back_one_by_one(tmp_path):
    # power_pin 40 does not exist on the header: the default 17; the button pin then clashes with it: not driven;
    # active_high = false is fine and kept
    path = bench(tmp_path, "[switch]\npower_pin = 40\nbutton_pin = 17\nactive_high = false\nbutton_press_s = -1\n")
    switch, backend, warnings = switch_settings(str(path))
    assert (switch.power_pin, switch.button_pin, switch.active_high, backend) == (17, None, False, "real")
    assert any("power_pin" in w for w in warnings) and any("button_pin" in w for w in warnings)
    factory = MockFactory()
    force_off(switch, factory)
    assert factory.pin(17).state == 1  # active-low: driven high, off


def test_a_good_config_gives_its_own_pins_and_no_warning(tmp_path):
    path = bench(tmp_path, "[switch]\npower_pin = 5\nbutton_pin = 6\n")
    assert switch_settings(str(path)) == (SwitchConfig(power_pin=5, button_pin=6), "real", [])


def test_print_env_gives_the_units_pin_and_off_level_and_drives_nothing(tmp_path):
    path = bench(tmp_path, "[switch]\npower_pin = 22\nactive_high = false\n")
    result = rig_cli(["off", "--print-env", "--bench", path])  # real backend: would need a pin factory to drive
    assert (result.returncode, result.stdout) == (0, "RIG_POWER_PIN=22\nRIG_POWER_OFF=dh\n"), result.stderr


def test_an_impossible_power_pin_is_named_and_the_default_pin_driven(tmp_path):
    result = rig_cli(["off", "--sim", "--bench", bench(tmp_path, "[switch]\npower_pin = 40\n")])
    assert result.returncode == 0, result.stderr
    assert "GPIO17 driven low" in result.stdout
    assert all(text in result.stderr for text in ("bench.toml", "switch.power_pin", "using power_pin = 17"))
