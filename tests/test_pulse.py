"""Pulse modes through the AS7341's flicker FIFO (emulated at register level) and through `rig run`."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import rig_cli
from support.pulsed import sensor_on_wrap
from support.texts import led_string, phase, settings, wrap_mode

from rig.hardware.flicker import capture
from rig.pulse import analyze_trace
from rig.sim.wrap import WrapMode


def trace_of(pulse_hz: float, duty: float, seed: int = 0, seconds: float = 2.0):
    # 30 mW/cm2 of 660 nm pulsed at pulse_hz with the duty given
    with sensor_on_wrap([WrapMode("p", ["red"], pulse_hz=pulse_hz, duty=duty)], 30.0, seed,
                        0.123 + seed * 0.01) as (sensor, chip, clear_level):
        trace = capture(sensor, seconds, 2000.0, clear_level)
    assert chip.fifo_overflows == 0  # drained in time: no sample lost
    return analyze_trace(trace.samples, trace.rate_hz)


@pytest.mark.parametrize("pulse_hz", [10.0, 40.0, 73.0])
@pytest.mark.parametrize("duty", [0.25, 0.50])
def test_pulsed_wrap_frequency_and_duty_within_stated_tolerance(pulse_hz, duty):
    # stated tolerance: frequency within 0.5 %, duty within 3 percentage points, both inside the reported u
    result = trace_of(pulse_hz, duty)
    assert result.pulsed and result.modulation_pct > 90
    assert result.frequency_hz == pytest.approx(pulse_hz, rel=0.005)
    assert abs(result.frequency_hz - pulse_hz) <= result.frequency_u_hz
    assert abs(result.duty_pct - 100 * duty) <= 3.0
    assert abs(result.duty_pct - 100 * duty) <= result.duty_u_pct


def test_steady_wrap_reports_near_zero_flicker():
    result = trace_of(0.0, 1.0)
    assert not result.pulsed and result.frequency_hz is None
    assert result.modulation_pct <= result.modulation_u_pct and result.modulation_pct < 5.0


PROFILE = """
maker = "Pulse"
model = "Belt"
[[modes]]
name = "pulse"
[modes.claims]
red_peak_nm = 660.0
irradiance_mw_cm2 = {irradiance}
pulse_hz = {claimed_hz}
duty_pct = 50.0
"""

SEQUENCE = ("\n" + phase("dark", duration_s=3.0, interval_s=1.0) + phase("on") + phase("pulse", duration_s=2.0)
            + phase("measure", duration_s=30.0, interval_s=1.0) + phase("off"))

WRAP = ("\n" + settings(droop_fraction=0.0) + led_string("red", 660.0, 20.0, 40.0)
        + wrap_mode("pulse", ["red"], pulse_hz=10.0, duty=0.5))


@pytest.mark.parametrize(("claimed_hz", "verdict"), [(10.0, "PASS"), (40.0, "FAIL")])
def test_rig_run_judges_pulse_claims_and_averages_irradiance_over_the_duty(tmp_path, claimed_hz, verdict):
    # a 40 mW/cm2 string pulsed at 10 Hz, 50 % duty: the mean irradiance is 20 mW/cm2. Samples every 1 s are
    # phase-locked to the pulses, so the capture comes first and locks the integration to whole periods.
    (tmp_path / "p.toml").write_text(PROFILE.format(irradiance=20.0, claimed_hz=claimed_hz))
    (tmp_path / "s.toml").write_text(SEQUENCE)
    (tmp_path / "w.toml").write_text(WRAP)
    done = rig_cli(["run", "--sim", "--quiet", "--wrap", "p.toml",
                           "--sequence", "s.toml", "--sim-wrap", "w.toml", "--out", "results"], cwd=tmp_path)
    assert done.returncode in (0, 1), done.stderr
    (run_dir,) = list((tmp_path / "results").glob("[!.]*"))
    summary = pd.read_csv(run_dir / "summary.csv").set_index("claim")
    assert summary.loc["pulse frequency", "verdict"] == verdict
    assert summary.loc["pulse frequency", "measured"] == pytest.approx(10.0, rel=0.01)
    assert summary.loc["duty cycle", "verdict"] == "PASS"
    assert summary.loc["irradiance at contact", "measured"] == pytest.approx(20.0, rel=0.1)
    trace = pd.read_csv(run_dir / "pulse.csv")
    assert len(trace) == pytest.approx(2.0 * 1998.4, abs=2)


# --- any frequency: short-aperture bursts + trace (rig.pulse.detect), through the emulated FIFO ---------------

def detect(modes, seed: int = 0, level_mw: float = 40.0, ripple=()):
    from rig.pulse.detect import detect_pulsing

    with sensor_on_wrap(modes, level_mw, seed, 0.0371 + 0.013 * seed, ripple) as (sensor, _, clear_level):
        return detect_pulsing(sensor, clear_level, dark_counts=1.5)


@pytest.mark.parametrize("pulse_hz", [2000.0, 20000.0])
def test_fast_pwm_is_full_flicker_at_its_true_frequency(pulse_hz):
    # PWM at 30 % duty is on/off: 100 % percent flicker; at 2 kHz and 20 kHz a 2 kHz boxcar reads ~0 % (the bug)
    result = detect([WrapMode("pwm", ["red"], pulse_hz=pulse_hz, duty=0.3)])
    assert result.pulsed and result.modulation_pct >= 100.0 - result.modulation_u_pct
    assert abs(result.frequency_hz - pulse_hz) <= result.frequency_u_hz <= 0.01 * pulse_hz
    assert abs(result.duty_pct - 30.0) <= result.duty_u_pct
    assert result.flicker_region != "steady"


def test_1500_hz_pulse_is_not_reported_at_its_498_hz_alias():
    result = detect([WrapMode("pulse", ["red"], pulse_hz=1500.0, duty=0.5)], seed=2)
    assert abs(result.frequency_hz - 1500.0) <= result.frequency_u_hz <= 15.0
    assert result.modulation_pct > 90.0


def test_sine_ripple_of_20_percent_depth_is_20_percent_flicker_at_50_hz():
    from rig.sim.wrap import Ripple

    # mains ripple, not on/off: max 1.2, min 0.8 of the level -> (1.2 - 0.8) / (1.2 + 0.8) = 20 %
    result = detect([WrapMode("steady", ["red"])], ripple=[Ripple(50.0, 20.0, "sine")], seed=1)
    assert abs(result.modulation_pct - 20.0) <= max(result.modulation_u_pct, 2.0)
    assert abs(result.frequency_hz - 50.0) <= result.frequency_u_hz
    # IEEE 1789 at 50 Hz: low risk below 1.25 %, no observable effect below 0.5 %: 20 % is outside both
    assert result.flicker_region == "elevated risk"


def test_steady_light_is_steady_through_the_bursts_too():
    result = detect([WrapMode("steady", ["red"])], seed=3)
    assert result.frequency_hz is None and result.frequency_min_hz is None
    assert result.flicker_region == "steady" and result.modulation_pct < 5.0


def test_ieee_1789_regions_at_the_boundaries():
    from rig.pulse.ieee1789 import region

    # below 90 Hz: low risk < 0.025 f, no effect < 0.01 f; 90-1250 Hz: low risk < 0.08 f; to 3 kHz no effect < 0.0333 f
    assert region(1.0, 50.0) == "low risk" and region(0.4, 50.0) == "no observable effect"
    assert region(1.3, 50.0) == "elevated risk"
    assert region(7.9, 100.0) == "low risk" and region(8.1, 100.0) == "elevated risk"
    assert region(3.0, 100.0) == "no observable effect"
    assert region(100.0, 2000.0) == "low risk"  # above 1250 Hz: no restriction for low risk
    assert region(100.0, 3001.0) == "no observable effect"  # above 3 kHz: exempt
    assert region(0.5, None, steady=True) == "steady" and region(30.0, None) == "unknown"


def test_dim_fast_pwm_at_90_pct_duty_is_never_called_steady_or_flicker_free():
    # 10 mW/cm2 behind ND 2.0: the 5.6 us samples hold ~3 counts, and 20 kHz PWM at 90 % duty (a 5 us gap every
    # 50 us, 100 % percent flicker) hides in their noise in a first capture. The rig must not call it steady, nor
    # let a "flicker-free" claim (at most 5 %) pass.
    from rig.claims.bands import at_most
    from rig.claims.evidence import Evidence, RunFacts
    from rig.claims.judging import judge_claim
    from rig.claims.specs import CLAIM_SPECS

    result = detect([WrapMode("pwm", ["red"], pulse_hz=20000.0, duty=0.9)], level_mw=10.0, seed=4)
    assert result.flicker_region != "steady"
    assert result.modulation_pct + result.modulation_u_pct >= 100.0  # the stated range reaches the truth
    (spec,) = [s for s in CLAIM_SPECS if s.id == "flicker_pct"]
    check = judge_claim(spec, at_most(5.0), Evidence([], RunFacts(pulse={**result.as_dict(), "phase": "on"})))
    assert str(check.verdict) != "PASS"


def test_what_a_capture_could_see_and_what_the_claims_then_say():
    from rig.claims.bands import at_most, pct_band
    from rig.claims.evidence import Evidence, RunFacts
    from rig.claims.judging import judge_claim
    from rig.claims.specs import CLAIM_SPECS
    from rig.pulse.limit import COVER_MAX_HZ, SampleSet, box_variance, seen_up_to_hz

    # a 90 % duty square wave sampled with no averaging has variance D (1 - D) / D**2 of its mean**2 = 0.111
    assert box_variance(0.9, [1e-6])[0] == pytest.approx(0.1 / 0.9, rel=0.01)  # (512 phases)
    # 5.6 us samples of ~3 counts (noise variance 5): 8 bursts of 128 cannot tell 20 kHz PWM at 90 % duty from
    # noise (expected excess variance 9 x 0.07 = 0.6 against a threshold of 7 x 5 x sqrt(2/1024) = 1.5); 128
    # bursts can (threshold 0.39). The trace (500 us, ~270 counts) and the longer apertures (13.9, 36.1, 103 us;
    # 8 bursts each) cover the lower frequencies in both cases.
    others = [SampleSet(500e-6, 2.0, 270.0, 280.0, 4000)] + [
        SampleSet(steps * 2.78e-6, 128 * steps * 2.78e-6, 0.54 * steps, 0.6 * steps + 2.0, 8 * 128)
        for steps in (5, 13, 37)]
    few = SampleSet(5.56e-6, 128 * 5.56e-6, 3.0, 5.0, 8 * 128)
    many = SampleSet(5.56e-6, 128 * 5.56e-6, 3.0, 5.0, 128 * 128)
    assert seen_up_to_hz([*others, few]) < 20_000.0
    assert seen_up_to_hz([*others, many]) == COVER_MAX_HZ
    # a capture that could not tell: the flicker and pulse claims are NOT MEASURED, with the reason
    pulse = {"modulation_pct": 2.0, "modulation_u_pct": 98.0, "pulse_hz": None, "pulse_method": "limit",
             "pwm_seen_up_to_hz": 6000.0, "flicker_region": "unknown", "phase": "on"}
    evidence = Evidence([], RunFacts(pulse=pulse))
    specs = {s.id: s for s in CLAIM_SPECS}
    flicker = judge_claim(specs["flicker_pct"], at_most(5.0), evidence)
    frequency = judge_claim(specs["pulse_hz"], pct_band(1000.0, 5.0), evidence)
    assert str(flicker.verdict) == str(frequency.verdict) == "NOT MEASURED"
    assert "above 6000 Hz" in flicker.note
