"""Bench configuration: I2C bus and addresses, pins, sensor settings, the jig.

Loaded from a TOML file (see ``rig/data/bench.toml`` for every key with its
default). Unknown keys, wrong types and impossible values raise
:class:`~rig.errors.ConfigError` naming the file and the key.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any, Literal, get_args, get_origin, get_type_hints

from rig.errors import ConfigError
from rig.input_files import load_toml  # the one TOML loader of every file kind

I2C_ADDRESSES = (0x08, 0x77)  # the 7-bit addresses a device may use (the others are reserved by the I2C spec)
I2C_TEXT = "a 7-bit I2C address 0x08..0x77"
MAX_AUTORANGE_STEPS = 64  # more than the 20 gain codes x a few integration times an auto-range ever needs
MAX_CALIBRATION_AGE_DAYS = 3650.0


@dataclass
class SpectralConfig:
    """Spectral sensor settings, checked against ``chip``'s own gains, ATIME/ASTEP rules and address range.

    ``chip``: a key of :data:`rig.chips.CHIPS` ("as7341", "as7343"); ``gain_x`` a nominal gain that chip has."""

    chip: str = "as7341"  # a key of rig.chips.CHIPS
    address: int | None = None  # None: the chip's default address
    sensor_id: str = "as7341-1"
    gain_x: float = 4
    atime: int | None = None  # None: the chip's suggested setting (both ams chips: 29 / 599, about 50 ms)
    astep: int | None = None
    auto_range: bool = True
    max_autorange_steps: int = 12

    def __post_init__(self) -> None:
        from rig.chips import CHIPS

        chip = CHIPS.get(self.chip)
        if chip is not None:  # an unknown chip is validate()'s to name
            self.address = chip.default_address if self.address is None else self.address
            self.atime = chip.timing.default_atime if self.atime is None else self.atime
            self.astep = chip.timing.default_astep if self.astep is None else self.astep

    def validate(self, path: str, prefix: str) -> None:
        from rig.chips import CHIPS

        _check(self.chip in CHIPS, path, f"{prefix}.chip", "one of " + ", ".join(CHIPS), self.chip)
        chip = CHIPS[self.chip]
        gains = chip.gain_codes_x
        _check(self.gain_x in gains, path, f"{prefix}.gain_x", f"one of the {chip.name}'s gains {gains}", self.gain_x)
        _check(0 <= self.atime <= chip.timing.atime_max, path, f"{prefix}.atime",
               f"an integer 0..{chip.timing.atime_max}", self.atime)
        _check(0 <= self.astep <= chip.timing.astep_max, path, f"{prefix}.astep",
               f"an integer 0..{chip.timing.astep_max}", self.astep)
        timing_error = chip.timing.check(self.atime, self.astep)
        _check(timing_error is None, path, f"{prefix}.atime/astep", f"{timing_error} on the {chip.name}",
               (self.atime, self.astep))
        _check(I2C_ADDRESSES[0] <= self.address <= I2C_ADDRESSES[1], path, f"{prefix}.address", I2C_TEXT,
               self.address)
        _check(0 <= self.max_autorange_steps <= MAX_AUTORANGE_STEPS, path, f"{prefix}.max_autorange_steps",
               f"an integer 0..{MAX_AUTORANGE_STEPS} (gain/time steps the auto-range may take per reading)",
               self.max_autorange_steps)


@dataclass
class ProbeConfig:
    """One NTC thermistor in a divider on an ADS1115 input.

    Beta model by default (``r0_ohm`` at ``t0_c``, ``beta_k``); if all three
    Steinhart-Hart coefficients are given they are used instead.
    """

    name: str = "surface"
    channel: int = 0
    skin: bool = False  # on the wrap's skin-facing surface: the over-temperature interlock and the claim read it
    r0_ohm: float = 10_000.0
    t0_c: float = 25.0
    beta_k: float = 3950.0
    sh_a: float | None = None
    sh_b: float | None = None
    sh_c: float | None = None

    def validate(self, path: str, prefix: str) -> None:
        _check(0 <= self.channel <= 3, path, f"{prefix}.channel", "an ADS1115 input 0..3", self.channel)
        _check(self.r0_ohm > 0, path, f"{prefix}.r0_ohm", "a resistance > 0", self.r0_ohm)
        _check(self.beta_k > 0, path, f"{prefix}.beta_k", "a Beta value > 0 K", self.beta_k)
        given = [c is not None for c in (self.sh_a, self.sh_b, self.sh_c)]
        _check(all(given) or not any(given), path, f"{prefix}.sh_a/sh_b/sh_c",
               "all three Steinhart-Hart coefficients or none")
        from rig.hardware.ntc import probe_curve_problem  # rig.hardware.ntc imports this module

        problem = probe_curve_problem(self)
        _check(problem is None, path, f"{prefix}.{problem[0] if problem else ''}",
               f"an NTC curve over -20..120 C: {problem[1] if problem else ''}")


def _default_probes() -> list[ProbeConfig]:
    return [ProbeConfig(name="surface", channel=0, skin=True), ProbeConfig(name="ambient", channel=1)]


@dataclass
class ThermalConfig:
    """ADS1115 and the thermistor dividers (supply -> ``divider_r_ohm`` -> node -> NTC -> ground)."""

    address: int = 0x48
    pga_v: float = 4.096
    rate_sps: int = 128
    supply_v: float = 3.3
    supply_channel: int | None = 3
    divider_r_ohm: float = 10_000.0
    probes: list[ProbeConfig] = field(default_factory=_default_probes)

    def validate(self, path: str, prefix: str) -> None:
        _check(self.pga_v in (6.144, 4.096, 2.048, 1.024, 0.512, 0.256), path, f"{prefix}.pga_v",
               "one of 6.144, 4.096, 2.048, 1.024, 0.512, 0.256", self.pga_v)
        _check(self.rate_sps in (8, 16, 32, 64, 128, 250, 475, 860), path, f"{prefix}.rate_sps",
               "one of 8, 16, 32, 64, 128, 250, 475, 860", self.rate_sps)
        _check(I2C_ADDRESSES[0] <= self.address <= I2C_ADDRESSES[1], path, f"{prefix}.address", I2C_TEXT,
               self.address)
        _check(self.supply_channel is None or 0 <= self.supply_channel <= 3, path, f"{prefix}.supply_channel",
               "an ADS1115 input 0..3 (or leave it out: no supply measurement)", self.supply_channel)
        _check(0 < self.supply_v <= 5.5, path, f"{prefix}.supply_v", "a voltage in (0, 5.5] (the ADS1115's supply)",
               self.supply_v)
        _check(self.divider_r_ohm > 0, path, f"{prefix}.divider_r_ohm", "a resistance > 0", self.divider_r_ohm)
        _check(bool(self.probes), path, f"{prefix}.probes", "at least one probe")
        names = [p.name for p in self.probes]
        _check(len(set(names)) == len(names), path, f"{prefix}.probes", "unique probe names", names)
        channels = [p.channel for p in self.probes] + (
            [self.supply_channel] if self.supply_channel is not None else [])
        _check(len(set(channels)) == len(channels), path, f"{prefix}.probes",
               "each probe (and the supply) on its own channel", channels)
        for index, probe in enumerate(self.probes):
            probe.validate(path, f"{prefix}.probes[{index}]")
        skin = [p.name for p in self.probes if p.skin]
        _check(len(skin) == 1, path, f"{prefix}.probes", "exactly one probe marked 'skin = true' (the one on the "
               "wrap's skin-facing surface: the over-temperature interlock reads it)", skin or None)

    @property
    def skin_probe(self) -> str:
        """Name of the skin-side probe (validated: exactly one)."""
        return next(p.name for p in self.probes if p.skin)


@dataclass
class SwitchConfig:
    """GPIO pins (BCM numbers): the power MOSFET/relay and the optocoupler on the wrap's button."""

    power_pin: int = 17
    button_pin: int | None = 27
    active_high: bool = True
    button_press_s: float = 0.3

    def validate(self, path: str, prefix: str) -> None:
        _check(0 <= self.power_pin <= 27, path, f"{prefix}.power_pin", "a BCM GPIO number 0..27", self.power_pin)
        if self.button_pin is not None:
            _check(0 <= self.button_pin <= 27, path, f"{prefix}.button_pin", "a BCM GPIO number 0..27",
                   self.button_pin)
            _check(self.button_pin != self.power_pin, path, f"{prefix}.button_pin", "a pin other than power_pin",
                   self.button_pin)
        _check(0 < self.button_press_s <= 10, path, f"{prefix}.button_press_s", "seconds in (0, 10]",
               self.button_press_s)


@dataclass
class JigConfig:
    """What sits between the wrap and the sensor: an attenuator of known nominal transmission."""

    attenuator: str = "ND 2.0 + PTFE diffuser, 3 mm aperture"
    transmission: float = 0.01
    distance_mm: float = 0.0

    def validate(self, path: str, prefix: str) -> None:
        _check(0 < self.transmission <= 1, path, f"{prefix}.transmission", "a fraction in (0, 1]",
               self.transmission)


@dataclass
class PositionConfig:
    """A sensor position on the wrap for uniformity: behind a TCA9548A channel, or (no channel) moved by hand."""

    name: str = "centre"
    mux_channel: int | None = None
    x_mm: float = 0.0
    y_mm: float = 0.0


@dataclass
class BenchConfig:
    """The whole bench. ``backend`` is ``real`` (default) or ``sim``; never switched silently."""

    backend: Literal["real", "sim"] = "real"
    i2c_bus: int = 1
    spectral: SpectralConfig = field(default_factory=SpectralConfig)
    thermal: ThermalConfig = field(default_factory=ThermalConfig)
    switch: SwitchConfig = field(default_factory=SwitchConfig)
    jig: JigConfig = field(default_factory=JigConfig)
    calibration: str = ""
    calibration_max_age_days: float = 180.0
    mux_address: int = 0x70
    positions: list[PositionConfig] = field(default_factory=list)
    source: str = "<defaults>"

    def validate(self) -> BenchConfig:
        path = self.source
        _check(self.backend in ("real", "sim"), path, "backend", "'real' or 'sim'", self.backend)
        _check(self.i2c_bus >= 0, path, "i2c_bus", "a bus number >= 0", self.i2c_bus)
        _check(I2C_ADDRESSES[0] <= self.mux_address <= I2C_ADDRESSES[1], path, "mux_address", I2C_TEXT,
               self.mux_address)
        _check(0 < self.calibration_max_age_days <= MAX_CALIBRATION_AGE_DAYS, path, "calibration_max_age_days",
               f"days in (0, {MAX_CALIBRATION_AGE_DAYS:g}]", self.calibration_max_age_days)
        self.spectral.validate(path, "spectral")
        self.thermal.validate(path, "thermal")
        self.switch.validate(path, "switch")
        self.jig.validate(path, "jig")
        addresses = [self.spectral.address, self.thermal.address] + ([self.mux_address] if self.positions else [])
        _check(len(set(addresses)) == len(addresses), path, "thermal.address",
               "an I2C address other than the spectral sensor's (and the mux's)", addresses)
        names = [p.name for p in self.positions]
        _check(len(set(names)) == len(names), path, "positions", "unique position names", names)
        channels = [p.mux_channel for p in self.positions]
        _check(all(c is None for c in channels) or all(c is not None for c in channels), path, "positions",
               "every position behind the mux (mux_channel) or none (one sensor moved by hand)")
        muxed = [c for c in channels if c is not None]
        _check(all(0 <= c <= 7 for c in muxed) and len(set(muxed)) == len(muxed), path, "positions",
               "distinct TCA9548A channels 0..7", muxed)
        return self


def _check(ok: bool, path: str, key: str, expected: str, got: object = None) -> None:
    if not ok:
        raise ConfigError(path, key, expected, got)


def _type_ok(value: Any, annotation: Any) -> bool:
    origin = get_origin(annotation)
    if annotation is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if annotation in (bool, str):
        return isinstance(value, annotation)
    if origin is Literal:
        return value in get_args(annotation)
    args = get_args(annotation)
    if args and type(None) in args:  # Optional[X]
        return any(_type_ok(value, a) for a in args if a is not type(None))
    return True


def _type_name(annotation: Any) -> str:
    names = {float: "a finite number", int: "an integer", bool: "true or false", str: "a string"}
    if annotation in names:
        return names[annotation]
    if get_origin(annotation) is Literal:
        return "one of " + ", ".join(repr(a) for a in get_args(annotation))
    args = [a for a in get_args(annotation) if a is not type(None)]
    return " or ".join(_type_name(a) for a in args) if args else str(annotation)


def build_dataclass(cls: type, data: dict[str, Any], path: str, prefix: str = "") -> Any:
    """Build dataclass ``cls`` from a TOML table, naming the file and key on any mistake."""
    if not isinstance(data, dict):
        raise ConfigError(path, prefix or "<top>", "a table", data)
    hints = get_type_hints(cls)
    known = {f.name for f in fields(cls) if f.name != "source"}
    renamed: dict[str, str] = getattr(cls, "RENAMED_KEYS", {})
    data = {renamed.get(key, key) if renamed.get(key) not in data else key: value for key, value in data.items()}
    for key in data:
        if key not in known:
            raise ConfigError(path, f"{prefix}{key}", "one of the known keys: " + ", ".join(sorted(known)))
    kwargs: dict[str, Any] = {}
    for name in known & data.keys():
        value, annotation, key = data[name], hints[name], f"{prefix}{name}"
        if is_dataclass(annotation):
            kwargs[name] = build_dataclass(annotation, value, path, f"{key}.")
        elif get_origin(annotation) is list:
            (item_type,) = get_args(annotation)
            if not isinstance(value, list):
                raise ConfigError(path, key, "a list", value)
            if is_dataclass(item_type):
                kwargs[name] = [build_dataclass(item_type, item, path, f"{key}[{i}].") for i, item in enumerate(value)]
            else:
                for i, item in enumerate(value):
                    if not _type_ok(item, item_type):
                        raise ConfigError(path, f"{key}[{i}]", _type_name(item_type), item)
                kwargs[name] = list(value)
        elif not _type_ok(value, annotation):
            raise ConfigError(path, key, _type_name(annotation), value)
        else:
            kwargs[name] = float(value) if annotation is float else value
    return cls(**kwargs)


def load_validated(cls: type, path: str | Path) -> Any:
    """Read a TOML file into dataclass ``cls``, remember where it came from, and run its ``validate()``."""
    loaded = build_dataclass(cls, load_toml(path), str(path))
    loaded.source = str(path)
    return loaded.validate()


BENCH_ENV = "RIG_BENCH"


def default_bench_path() -> Path | None:
    """The bench config used when no ``--bench`` is given: ``$RIG_BENCH``, else ``~/.config/rig/bench.toml``
    (``$XDG_CONFIG_HOME`` respected) if it exists, else None (built-in defaults)."""
    import os

    if os.environ.get(BENCH_ENV):
        return Path(os.environ[BENCH_ENV])
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    candidate = base / "rig" / "bench.toml"
    return candidate if candidate.is_file() else None


def load_bench_config(path: str | Path | None = None, *, backend: str | None = None) -> BenchConfig:
    """Load the bench config (``path``, else :func:`default_bench_path`, else defaults); ``backend`` overrides.

    Paths inside the file (``calibration``) are relative to the file, not to the current directory.
    """
    path = path if path is not None else default_bench_path()
    if path is None:
        config = BenchConfig()
    else:
        config = build_dataclass(BenchConfig, load_toml(path), str(path))
        config.source = str(path)  # validated below, after the backend override
        if config.calibration and not Path(config.calibration).is_absolute():
            config.calibration = str(Path(path).parent / config.calibration)
    if backend is not None:
        config.backend = backend  # type: ignore[assignment]
    return config.validate()
