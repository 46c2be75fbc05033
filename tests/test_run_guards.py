"""The run's guards, in process: monitors on stated rows, the phase registry's checks, and whole runs on the
simulated bench where the wrap overheats, the relay is welded or a signal arrives (each stated below)."""

from __future__ import annotations

import csv
import json
import os
import signal
from dataclasses import replace

import pytest

from rig.clock import SimClock
from rig.config import ProbeConfig, load_bench_config
from rig.errors import ConfigError
from rig.profile import Claims, ModeProfile, WrapProfile
from rig.run import run_sequence
from rig.run.monitors import Frozen, Levels, LightCheck, OverTemperature, ProbeFault
from rig.sequence import Phase, Sequence
from rig.sim.backend import build_sim_bench
from rig.sim.wrap import LedString, WrapFaults, WrapMode, WrapSpec
from rig.spectrum.derive import make_deriver

CHANNELS = ("F1", "F2")


def rows_with(probe: str, temps: list[float | None], faults: list[str] | None = None) -> list[dict]:
    faults = faults or [""] * len(temps)
    pairs = enumerate(zip(temps, faults, strict=True))
    return [{"t_s": float(i), f"{probe}_c": t, f"{probe}_fault": f} for i, (t, f) in pairs]


def first_trip(monitor, rows: list[dict]) -> int | None:
    for index, row in enumerate(rows):
        if monitor.observe(row):
            return index
    return None


def test_over_temperature_trips_on_consecutive_readings_of_the_skin_probe_only():
    # 48.5 C once (a glitch) does not trip a 2-reading interlock; 48.2 then 48.3 does, at the second of them
    rows = rows_with("skin", [47.0, 48.5, 47.9, 48.2, 48.3])
    assert first_trip(OverTemperature("skin", 48.0, trip_samples=2), rows) == 4
    # a hot probe with another name (ambient, or a probe called "surface" that is not the skin one) is not read
    hot_elsewhere = [{"t_s": 0.0, "surface_c": 90.0, "skin_c": 30.0}] * 3
    assert first_trip(OverTemperature("skin", 48.0, trip_samples=1), hot_elsewhere) is None


def test_a_faulty_skin_probe_stops_the_run_after_the_allowed_readings():
    rows = rows_with("skin", [30.0, None, None, None], ["", "open", "open", "open"])
    monitor = ProbeFault("skin", max_failures=3)
    assert first_trip(monitor, rows) == 3 and "open" in rows[3]["event"]


def test_identical_raw_counts_mean_a_frozen_sensor():
    steady = [{"F1": 100 + i % 2, "F2": 50} for i in range(10)]  # a real sensor's counts jitter
    frozen = [{"F1": 100, "F2": 50}] * 5
    assert first_trip(Frozen(CHANNELS, limit=5), steady) is None
    assert first_trip(Frozen(CHANNELS, limit=5), frozen) == 4


def test_no_light_after_switch_on_and_light_after_switch_off_are_faults():
    levels = Levels(dark=0.1, switched_on_t_s=10.0)
    dark_while_on = [{"t_s": 10.0 + i, "wrap_on": True, "clear_basic": 0.12} for i in range(35)]
    assert first_trip(LightCheck(levels), dark_while_on) == 30  # 30 s after switch-on
    lit = Levels(dark=0.1, measured=50.0, lit_seen=True, switched_on_t_s=0.0, switched_off_t_s=100.0)
    assert first_trip(LightCheck(lit), [{"t_s": 101.0, "wrap_on": False, "clear_basic": 49.0}]) == 0
    assert first_trip(LightCheck(lit), [{"t_s": 101.0, "wrap_on": False, "clear_basic": 0.1}]) is None


@pytest.mark.parametrize(("phases", "key", "expected"), [
    ([Phase("on"), Phase("dark", 5.0, 1.0), Phase("measure", 5.0, 1.0)], "phases[1].kind", "while the wrap is off"),
    ([Phase("on", 5.0), Phase("measure", 5.0, 1.0)], "phases[0].duration_s", "no duration"),
    ([Phase("measure", 5.0, 1.0)], "phases[0].kind", "an 'on' phase before"),
    ([Phase("on"), Phase("measure", 5.0, 1.0, until_auto_off=True)], "phases[1].until_auto_off", "soak"),
    ([Phase("on"), Phase("flash", 5.0, 1.0)], "phases[1].kind", "one of dark, on"),
])
def test_the_phase_registry_names_the_phase_and_what_it_expected(phases, key, expected):
    with pytest.raises(ConfigError, match=rf"'{key.replace('[', chr(92) + '[').replace(']', chr(92) + ']')}'.*"
                                          rf"{expected}"):
        Sequence(phases=phases).validate()


# --- whole runs on the simulated bench ------------------------------------------------------------------------
RED = [LedString("red", 660.0, 20.0, 30.0)]
PROFILE = WrapProfile(maker="Acme", model="Belt", unit="1",
                      modes=[ModeProfile("red", 0, Claims(red_peak_nm=660.0, irradiance_mw_cm2=30.0))]).validate()


def skin_named(name: str):
    config = load_bench_config(backend="sim")
    probes = [ProbeConfig(name="surface", channel=0), ProbeConfig(name=name, channel=2, skin=True),
              ProbeConfig(name="ambient", channel=1)]
    return replace(config, thermal=replace(config.thermal, probes=probes)).validate()


def read_rows(run_dir) -> list[dict]:
    with (run_dir / "samples.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_the_interlock_follows_the_probe_marked_skin_whatever_its_name(tmp_path):
    # The wrap heats 3 C/min on top of an 8 C rise; the skin-side probe is called "skin" (another probe is still
    # called "surface"): the 48 C cut-out must act on "skin", well before a 94 C surface.
    config = skin_named("skin")
    wrap = WrapSpec(strings=RED, modes=[WrapMode("red", ["red"])], faults=WrapFaults(runaway_c_per_min=3.0))
    sequence = Sequence(phases=[Phase("dark", 3.0, 1.0), Phase("on"), Phase("measure", 10.0, 1.0),
                                Phase("soak", 900.0, 30.0), Phase("off")]).validate()
    result = run_sequence(PROFILE, sequence, lambda: build_sim_bench(config, wrap), tmp_path, derive=make_deriver())
    assert result.outcome == "ABORTED" and "over-temperature: skin" in result.reason
    manifest = json.loads((result.run_dir / "run.json").read_text())
    # sampled every 30 s, but guarded every 2 s: at 0.05 C/s at most ~0.3 C past the cut-out
    assert 48.0 < manifest["facts"]["guard_surface_max_c"] < 48.4
    assert not result.wrap_left_on and manifest["sim_wrap_lit_at_end"] is False


def test_a_welded_relay_is_reported_as_still_lit_not_as_off(tmp_path):
    wrap = WrapSpec(strings=RED, modes=[WrapMode("red", ["red"])], faults=WrapFaults(stuck_on=True))
    sequence = Sequence(phases=[Phase("dark", 3.0, 1.0), Phase("on"), Phase("measure", 10.0, 1.0), Phase("off"),
                                Phase("cooldown", 10.0, 5.0)]).validate()
    result = run_sequence(PROFILE, sequence, lambda: build_sim_bench(load_bench_config(backend="sim"), wrap), tmp_path,
                          derive=make_deriver())
    assert result.outcome == "ABORTED" and "WRAP STILL LIT" in result.reason and result.wrap_still_lit
    manifest = json.loads((result.run_dir / "run.json").read_text())
    assert manifest["wrap_still_lit"] is True and manifest["sim_wrap_lit_at_end"] is True


class SignalAt(SimClock):
    """A simulated clock that sends this process ``signum`` once simulated time passes ``at_s``."""

    def __init__(self, signum: int, at_s: float) -> None:
        super().__init__()
        self.signum, self.at_s, self.sent = signum, at_s, False

    def sleep(self, duration_s: float) -> None:
        super().sleep(duration_s)
        if not self.sent and self.monotonic() >= self.at_s:
            self.sent = True
            os.kill(os.getpid(), self.signum)


@pytest.mark.parametrize("name", ["SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGPIPE", "SIGTERM", "SIGINT"])
def test_every_catchable_signal_switches_off_and_records_the_run_as_aborted(tmp_path, name):
    # Closing the terminal (HUP), a dropped pipe (PIPE) or kill (TERM) 20 s into a 60 s measure phase.
    signum = getattr(signal, name)
    clock = SignalAt(signum, 20.0)
    wrap = WrapSpec(strings=RED, modes=[WrapMode("red", ["red"])])
    sequence = Sequence(phases=[Phase("dark", 3.0, 1.0), Phase("on"), Phase("measure", 60.0, 1.0),
                                Phase("off")]).validate()
    before = signal.getsignal(signum)
    result = run_sequence(PROFILE, sequence,
                          lambda: build_sim_bench(load_bench_config(backend="sim"), wrap, clock=clock), tmp_path,
                          derive=make_deriver())
    assert signal.getsignal(signum) == before  # the handlers are put back
    manifest = json.loads((result.run_dir / "run.json").read_text())
    assert manifest["outcome"] == "ABORTED" and name in manifest["reason"]
    assert manifest["wrap_left_on"] is False and manifest["sim_wrap_lit_at_end"] is False
    assert manifest["rows"] == len(read_rows(result.run_dir))
    measure = [r for r in read_rows(result.run_dir) if r["phase_kind"] == "measure"]
    assert 10 <= len(measure) < 60  # stopped part-way
    verdicts = {c.claim_id: c.verdict for c in result.checks}
    assert verdicts["irradiance_mw_cm2"] == "NOT MEASURED"  # the measure phase never finished


# --- commands that switch the wrap on outside a run ---------------------------------------------------------
def test_rig_read_on_is_stopped_by_the_interlock_of_an_overheating_wrap(tmp_path):
    # 8 C rise plus 30 C/min of runaway heating: the skin side passes 48 C within ~1.5 minutes; `rig read --on`
    # for 20 readings 10 s apart must stop there (exit 3), wrap off, not read on to 200 s.
    from conftest import rig_cli

    wrap = tmp_path / "hot.toml"
    wrap.write_text('name = "hot"\nsurface_rise_c = 8.0\n[[strings]]\nname = "red"\npeak_nm = 660.0\n'
                    'fwhm_nm = 20.0\nirradiance_mw_cm2 = 30.0\n[[modes]]\nname = "red"\nstrings = ["red"]\n'
                    '[faults]\nrunaway_c_per_min = 30.0\n')
    done = rig_cli(["read", "--sim", "--sim-wrap", wrap, "--on", "--count", "20", "--interval", "10",
                    "--out", tmp_path / "results"])
    assert done.returncode == 3 and "over-temperature" in done.stderr, done.stderr


def test_a_live_calibration_with_a_welded_relay_says_still_lit(tmp_path):
    from rig.calibration.jobs import live_readings
    from rig.errors import RigError

    wrap = WrapSpec(strings=RED, modes=[WrapMode("red", ["red"])], faults=WrapFaults(stuck_on=True))
    with build_sim_bench(load_bench_config(backend="sim"), wrap) as bench:
        with pytest.raises(RigError, match="WRAP STILL LIT"):
            live_readings(bench, 3, switch_on=True, settle_s=5.0)
    honest = WrapSpec(strings=RED, modes=[WrapMode("red", ["red"])])
    with build_sim_bench(load_bench_config(backend="sim"), honest) as bench:
        assert len(live_readings(bench, 3, switch_on=True, settle_s=5.0)) == 3
        assert not bench.switch.is_on


def test_a_signal_in_the_on_phase_still_ends_with_the_light_check_of_a_welded_relay(tmp_path):
    # The relay is welded; SIGTERM lands in the 'on' phase (switched on at 3.0 s, the pulse check after it still
    # running), before any lit sample: the final light check must still run and say WRAP STILL LIT
    clock = SignalAt(signal.SIGTERM, 3.05)
    wrap = WrapSpec(strings=RED, modes=[WrapMode("red", ["red"])], faults=WrapFaults(stuck_on=True))
    sequence = Sequence(phases=[Phase("dark", 3.0, 1.0), Phase("on"), Phase("measure", 60.0, 1.0),
                                Phase("off")]).validate()
    result = run_sequence(PROFILE, sequence,
                          lambda: build_sim_bench(load_bench_config(backend="sim"), wrap, clock=clock), tmp_path,
                          derive=make_deriver())
    manifest = json.loads((result.run_dir / "run.json").read_text())
    assert manifest["outcome"] == "ABORTED" and "WRAP STILL LIT" in manifest["reason"] and "SIGTERM" in \
        manifest["reason"]
    assert manifest["wrap_still_lit"] is True and manifest["wrap_left_on"] is False  # pin off, relay welded
    rows = read_rows(result.run_dir)
    assert not [r for r in rows if r["phase_kind"] == "measure"]  # stopped in the 'on' phase
    assert rows[-1]["phase_kind"] == "shutdown" and "WRAP STILL LIT" in rows[-1]["event"]


@pytest.mark.parametrize("welded", [True, False])
def test_a_live_calibration_stopped_during_its_settle_checks_the_light(welded):
    # SIGINT 2 s into the 5 s settle (no reading taken while on yet): a welded relay must be reported, an honest
    # switch must not be
    from support.handlers import handlers_restored

    from rig.calibration.jobs import live_readings
    from rig.run.signals import RunAborted, WrapStillLit, signal_gate

    wrap = WrapSpec(strings=RED, modes=[WrapMode("red", ["red"])], faults=WrapFaults(stuck_on=welded))
    with handlers_restored(), signal_gate(), \
            build_sim_bench(load_bench_config(backend="sim"), wrap, clock=SignalAt(signal.SIGINT, 2.0)) as bench:
        with pytest.raises(RunAborted) as stop:
            live_readings(bench, 3, switch_on=True, settle_s=5.0)
        assert isinstance(stop.value, WrapStillLit) == welded, stop.value
        assert bench.hardware.wrap.is_lit(bench.clock.monotonic()) == welded and not bench.switch.is_on
