"""Application wiring: the one place that picks simulated or real hardware, and the simulated wrap to show it.

The hardware layer (:mod:`rig.hardware`) never imports the simulator; the
simulator (:mod:`rig.sim`) builds on the hardware classes. Only this module
knows both. The backend is always explicit (``--sim`` or ``backend`` in the
bench config): a real bench that is missing is an error, never a simulation.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files

from rig.config import BenchConfig, SwitchConfig, load_bench_config
from rig.errors import RigError
from rig.hardware.bench import Bench


def shipped(name: str) -> str:
    """Path of a file shipped in ``rig/data`` (examples, defaults)."""
    return str(files("rig") / "data" / name)


def open_bench(config: BenchConfig, *, sim_wrap=None, seed: int = 0, sim_pace: float | None = None) -> Bench:
    """``config.backend`` decides: ``"sim"`` builds the simulator, ``"real"`` the Pi's hardware (no fallback).

    ``sim_wrap``: the simulated wrap (a :class:`rig.sim.wrap.WrapSpec`); ``sim_pace``: simulated seconds per
    real second (None = as fast as possible).
    """
    if config.backend == "sim":
        from rig.clock import SimClock
        from rig.sim.backend import build_sim_bench

        return build_sim_bench(config, sim_wrap, seed=seed, clock=SimClock(pace=sim_pace))
    from rig.hardware.real import build_real_bench

    return build_real_bench(config)


@dataclass
class BenchRequest:
    """What a command asked for: a bench config file (or the default one), the simulator or not, and its wrap."""

    bench_path: str | None = None
    sim: bool = False
    sim_wrap_path: str | None = None
    seed: int = 0
    sim_pace: float | None = None

    def config(self) -> BenchConfig:
        config = load_bench_config(self.bench_path, backend="sim" if self.sim else None)
        if self.sim_wrap_path and config.backend != "sim":
            raise RigError("--sim-wrap needs the simulated backend (--sim or backend = \"sim\" in the bench config)")
        return config

    def sim_wrap(self, default=None):
        """The simulated wrap: --sim-wrap, else ``default``, else the shipped example (validated here)."""
        from rig.sim.wrap import check_event_probes, load_wrap_spec

        if self.sim_wrap_path:
            spec = load_wrap_spec(self.sim_wrap_path)
            check_event_probes(spec, [probe.name for probe in self.config().thermal.probes])  # its fault events
            return spec
        return default if default is not None else load_wrap_spec(shipped("example_wrap.toml"))

    def open(self, default_wrap=None, config: BenchConfig | None = None) -> Bench:
        config = config or self.config()
        spec = self.sim_wrap(default_wrap) if config.backend == "sim" else None
        return open_bench(config, sim_wrap=spec, seed=self.seed, sim_pace=self.sim_pace)


def reference_source_wrap(peak_nm: float, irradiance_mw_cm2: float, fwhm_nm: float = 20.0):
    """A simulated reference LED (for a live calibration on the simulated bench)."""
    from rig.sim.wrap import LedString, WrapMode, WrapSpec

    return WrapSpec(name="reference source", droop_fraction=0.0, wavelength_drift_nm=0.0,
                    strings=[LedString("ref", peak_nm, fwhm_nm, irradiance_mw_cm2)],
                    modes=[WrapMode("ref", ["ref"])]).validate()


def default_wrap_for(profile):
    """The simulated wrap that honestly does what ``profile`` claims."""
    from rig.sim.from_profile import wrap_spec_from_profile

    return wrap_spec_from_profile(profile)


def switch_settings(bench_path: str | None, sim: bool = False) -> tuple[SwitchConfig, str, list[str]]:
    """Only what ``rig off`` needs from the bench config: the ``[switch]`` settings and the backend.

    Never refuses: a missing or unreadable file, a mistake elsewhere in it (``[spectral] gain_x = 7``) or an
    unusable key of ``[switch]`` itself falls back to that key's default, each with a warning (returned, for
    stderr). Returns ``(switch, backend, warnings)``.
    """
    from rig.config import build_dataclass, default_bench_path, load_toml

    warnings: list[str] = []
    path = bench_path if bench_path is not None else default_bench_path()
    data: dict = {}
    if path is not None:
        try:
            data = load_toml(path)
        except RigError as error:
            warnings.append(f"{error}; using the built-in switch settings")
    backend = data.get("backend", "real")
    if backend not in ("real", "sim"):
        warnings.append(f"{path}: 'backend': expected \"real\" or \"sim\" (got {backend!r}); using \"real\"")
        backend = "real"
    backend = "sim" if sim else backend
    table = data.get("switch", {})
    if not isinstance(table, dict):
        warnings.append(f"{path}: 'switch': expected a table (got {table!r:.40}); using the built-in pins")
        table = {}
    try:
        switch = build_dataclass(SwitchConfig, table, str(path), "switch.")
        switch.validate(str(path), "switch")
    except RigError:
        pass
    else:
        if path is not None and not warnings:
            try:
                load_bench_config(path)
            except RigError as error:  # said, so it gets fixed before the next run; no reason not to switch off
                warnings.append(f"{error} (not needed to switch off: ignored)")
        return switch, backend, warnings
    switch = SwitchConfig()
    for key in ("power_pin", "active_high", "button_pin"):  # what driving the pins off needs, key by key
        if key not in table:
            continue
        try:
            trial = build_dataclass(SwitchConfig, {"power_pin": switch.power_pin, key: table[key]}, str(path),
                                    "switch.")
            if key != "button_pin":
                trial.button_pin = None  # checked on its own turn
            trial.validate(str(path), "switch")
        except RigError as error:
            fallback = None if key == "button_pin" else getattr(switch, key)
            warnings.append(f"{error}; using {key} = {fallback!r}" + (" (not driven)" if fallback is None else ""))
            if key == "button_pin":
                switch.button_pin = None
            continue
        setattr(switch, key, table[key])
    return switch, backend, warnings
