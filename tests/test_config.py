"""Bench config: the shipped file is the defaults, and mistakes name file, key and expectation."""

from importlib.resources import files

import pytest

from rig.config import BenchConfig, load_bench_config
from rig.errors import ConfigError


def test_shipped_bench_file_states_the_defaults():
    shipped = load_bench_config(str(files("rig") / "data" / "bench.toml"))
    defaults = BenchConfig()
    assert (shipped.i2c_bus, shipped.spectral.address, shipped.thermal.address) == (1, 0x39, 0x48)
    assert shipped.spectral == defaults.spectral
    assert shipped.thermal == defaults.thermal
    assert shipped.switch == defaults.switch
    assert shipped.jig == defaults.jig


@pytest.mark.parametrize(("text", "key", "expected"), [
    ("i2c_bus = 'one'\n", "i2c_bus", "an integer"),
    ("[spectral]\ngain_x = 3\n", "spectral.gain_x", "one of"),
    ("[spectral]\ncolour = 1\n", "spectral.colour", "one of the known keys"),
    ("[jig]\ntransmission = 1.5\n", "jig.transmission", "a fraction"),
    ("backend = 'laptop'\n", "backend", "one of 'real', 'sim'"),
    ("[[thermal.probes]]\nname = 'a'\nchannel = 0\n[[thermal.probes]]\nname = 'b'\nchannel = 0\n",
     "thermal.probes", "own channel"),
    ("[switch]\npower_pin = 40\n", "switch.power_pin", "BCM GPIO"),
    ("i2c_bus = \n", "<syntax>", "valid TOML"),
])
def test_bad_bench_config_names_file_key_and_expectation(tmp_path, text, key, expected):
    path = tmp_path / "bench.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_bench_config(path)
    message = str(info.value)
    assert str(path) in message and f"'{key}'" in message and expected in message


def test_backend_override_is_explicit():
    assert load_bench_config(backend="sim").backend == "sim"
    assert load_bench_config().backend == "real"
