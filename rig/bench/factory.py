"""Open a bench for a config: real hardware, or simulated hardware when chosen explicitly."""

from __future__ import annotations

from rig.bench.bench import Bench
from rig.config import BenchConfig


def open_bench(config: BenchConfig, *, sim_wrap=None, seed: int = 0, sim_pace: float | None = None) -> Bench:
    """``config.backend`` decides: ``"sim"`` builds the simulator, ``"real"`` the Pi's hardware (no fallback).

    ``sim_pace``: simulated seconds per real second (None = as fast as possible).
    """
    if config.backend == "sim":
        from rig.clock import SimClock
        from rig.sim.backend import build_sim_bench

        return build_sim_bench(config, sim_wrap, seed=seed, clock=SimClock(pace=sim_pace))
    from rig.bench.real import build_real_bench

    return build_real_bench(config)
