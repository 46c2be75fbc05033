"""The session as a whole, through the runner on the simulated bench (real driver + register emulator):
auto-off time and its bracket, irradiance over the session (sag, throttling), dose from the main position only.

Each test states the wrap's physics and what the rig must then report.
"""

from __future__ import annotations

import json

import pytest

from rig.analysis import make_deriver
from rig.config import load_bench_config
from rig.profile import Claims, ModeProfile, WrapProfile
from rig.run import run_sequence
from rig.sequence import Phase, Sequence
from rig.sim.backend import build_sim_bench
from rig.sim.wrap import LedString, WrapMode, WrapSpec


def sequence(soak_s: float = 1000.0, soak_every_s: float = 5.0) -> Sequence:
    return Sequence(name="session", phases=[
        Phase("dark", 2.0, 1.0), Phase("on"), Phase("warmup", 10.0, 5.0), Phase("measure", 10.0, 2.0),
        Phase("soak", soak_s, soak_every_s, until_auto_off=True), Phase("off")]).validate()


def profile(**claims) -> WrapProfile:
    return WrapProfile(maker="Acme", model="Belt", unit="1",
                       modes=[ModeProfile("red", 0, Claims(**claims))]).validate()


def wrap(**overrides) -> WrapSpec:
    spec = dict(strings=[LedString("red", 660.0, 20.0, 40.0)], modes=[WrapMode("red", ["red"])],
                droop_fraction=0.0, auto_off_s=900.0)
    spec.update(overrides)
    return WrapSpec(**spec)


def run(tmp_path, spec: WrapSpec, claims: Profile | None = None, seq: Sequence | None = None, seed: int = 0):
    config = load_bench_config(backend="sim")
    result = run_sequence(claims or profile(session_s=900.0, session_tolerance_s=1.0), seq or sequence(),
                          lambda: build_sim_bench(config, spec, seed=seed), tmp_path / "results",
                          derive=make_deriver())
    assert result.outcome == "COMPLETED", result.reason
    manifest = json.loads((result.run_dir / "run.json").read_text())
    return result, manifest


Profile = WrapProfile


@pytest.mark.parametrize("seed", [0, 1])
def test_auto_off_at_exactly_900_s_lies_inside_the_measured_bracket(tmp_path, seed):
    # The wrap's controller switches the LEDs off exactly 900 s after power-on. The soak samples every 5 s; the
    # first dark reading auto-ranges (extra integrations at higher gain) before it is recorded, so its row time
    # is later than the 5 s grid. The stated session length must bracket 900 s, and not by more than one interval.
    result, manifest = run(tmp_path, wrap(), seed=seed)
    facts = manifest["facts"]
    after, before = facts["auto_off_bracket_s"]
    on = facts["switched_on_t_s"]
    assert after - on <= 900.0 <= before - on
    (check,) = [c for c in result.checks if c.claim_id == "session_s"]
    assert abs(check.measured - 900.0) <= check.uncertainty <= 5.0 / 2 + 2.0  # half an interval + the readings
    assert manifest["behaviour"]["auto_off_after_s"] == pytest.approx(check.measured)
