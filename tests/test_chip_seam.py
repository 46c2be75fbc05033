"""The chip as a value: the bench config's ``[spectral] chip`` picks the chip, and the bench, the config checks,
``rig check``/``read``/``run`` and the safety checks follow it (AS7341 and AS7343, each through its own real
Adafruit driver on its register-level emulator). Each test states the chip facts it relies on (datasheets:
AS7341 DS000504, AS7343 DS001046) and the light or fault it sets up.
"""

from __future__ import annotations

import csv
import dataclasses
import json
from types import SimpleNamespace

import adafruit_as7341
import adafruit_as7343
import pytest
from conftest import rig_cli

from rig.chips import CHIPS, Role
from rig.config import load_bench_config
from rig.errors import ConfigError
from rig.profile import Claims, ModeProfile, WrapProfile
from rig.run import run_sequence
from rig.run.guard import WrapGuard
from rig.run.sample import broadband_basic, take_sample
from rig.run.signals import WrapStillLit
from rig.sequence import Phase, Sequence
from rig.sim.as7341 import AS7341Emulator
from rig.sim.as7343 import AS7343Emulator
from rig.sim.backend import build_sim_bench
from rig.sim.wrap import LedString, WrapFaults, WrapMode, WrapSpec
from rig.spectrum.derive import make_deriver
from rig.spectrum.responsivity import Responsivity

CHIP_NAMES = ("as7341", "as7343")
RED = [LedString("red", 660.0, 20.0, 30.0)]
PROFILE = WrapProfile(maker="Acme", model="Belt", unit="1",
                      modes=[ModeProfile("red", 0, Claims(red_peak_nm=660.0, irradiance_mw_cm2=30.0))]).validate()


def bench_file(tmp_path, chip: str, extra: str = "") -> str:
    path = tmp_path / f"bench-{chip}.toml"
    path.write_text(f'[spectral]\nchip = "{chip}"\nsensor_id = "{chip}-1"\n{extra}', encoding="utf-8")
    return str(path)


def sim_config(tmp_path, chip: str):
    return load_bench_config(bench_file(tmp_path, chip), backend="sim")


# --- the config checks the named chip's own values ---
def test_the_config_checks_gain_and_timing_against_the_named_chip(tmp_path):
    # DS001046: the AS7343 has AGAIN codes up to 2048x; the AS7341 (DS000504) stops at 512x
    assert load_bench_config(bench_file(tmp_path, "as7343", "gain_x = 2048\n")).spectral.gain_x == 2048
    with pytest.raises(ConfigError, match=r"spectral\.gain_x.*as7341"):
        load_bench_config(bench_file(tmp_path, "as7341", "gain_x = 2048\n"))
    # DS001046 10.2.2: ATIME and ASTEP must not both be 0 on the AS7343; the AS7341 allows it (2.78 us)
    zero = "atime = 0\nastep = 0\n"
    assert load_bench_config(bench_file(tmp_path, "as7341", zero)).spectral.atime == 0
    with pytest.raises(ConfigError, match=r"spectral\.atime/astep.*not both 0"):
        load_bench_config(bench_file(tmp_path, "as7343", zero))
    with pytest.raises(ConfigError, match=r"spectral\.astep.*0\.\.65534"):  # 65535 is reserved on both
        load_bench_config(bench_file(tmp_path, "as7343", "astep = 65535\n"))
    # left out, address and timing are the chip's own defaults: both at 0x39, ATIME 29 / ASTEP 599 (~50 ms)
    spectral = load_bench_config(bench_file(tmp_path, "as7343")).spectral
    assert (spectral.address, spectral.atime, spectral.astep) == (0x39, 29, 599)
    with pytest.raises(ConfigError, match=r"spectral\.chip.*as7341, as7343"):
        load_bench_config(bench_file(tmp_path, "tsl2591"))


# --- the bench carries its chip, built with that chip's driver and emulator ---
@pytest.mark.parametrize(("chip", "driver", "emulator"), [("as7341", adafruit_as7341.AS7341, AS7341Emulator),
                                                          ("as7343", adafruit_as7343.AS7343, AS7343Emulator)])
def test_the_simulated_bench_reads_the_named_chip_through_its_real_driver(tmp_path, chip, driver, emulator):
    # a 660 nm LED at 30 mW/cm2 behind the jig's 1 % attenuator, switched on: the broadband channel sees it
    wrap = WrapSpec(strings=RED, modes=[WrapMode("red", ["red"])])
    with build_sim_bench(sim_config(tmp_path, chip), wrap) as bench:
        assert bench.chip is CHIPS[chip]
        assert isinstance(bench.spectral, driver) and isinstance(bench.hardware.sensor_chip, emulator)
        dark = take_sample(bench)
        bench.switch.on()
        bench.clock.sleep(1.0)
        lit = take_sample(bench)
    assert all(name in lit for name in CHIPS[chip].channels)
    broadband = CHIPS[chip].name_of(Role.BROADBAND)
    assert broadband == {"as7341": "Clear", "as7343": "VIS"}[chip]  # the datasheets' unfiltered channel
    assert lit[broadband] > 20 * max(dark[broadband], 1)
    assert lit["clear_basic"] > 20 * max(dark["clear_basic"], 0.01)


def test_safety_reads_the_broadband_channel_by_role_not_by_position():
    # the AS7341's channels in another order (broadband first): the level must still be Clear's, at its gain ratio
    as7341 = CHIPS["as7341"]
    specs = (as7341.channel_specs[8], *as7341.channel_specs[:8], as7341.channel_specs[9])
    reordered = dataclasses.replace(as7341, channel_specs=specs)
    counts = tuple([5000] + [10] * 9)  # Clear 5000 counts, every filter 10
    reading = SimpleNamespace(counts=counts, gain_x=16.0, t_int_ms=50.0)
    # DS000504 measured gain ratio at 16x: 0.25 of 64x, so 5000 / (0.25 x 50 ms) = 400 basic counts
    assert broadband_basic(reading, reordered) == pytest.approx(400.0)
    assert broadband_basic(reading, as7341) == pytest.approx(10 / (0.25 * 50.0))  # counts[8] in chip order


# --- the commands, end to end, on a simulated AS7343 ---
def test_rig_check_and_read_on_a_simulated_as7343(tmp_path):
    bench = bench_file(tmp_path, "as7343")
    done = rig_cli(["check", "--sim", "--bench", bench, "--out", tmp_path / "results"])
    # DS001046: the ID register (0x5A, bank 1) reads 0x81
    assert done.returncode == 0 and "OK AS7343 spectral sensor at 0x39" in done.stdout and "ID 0x81" in done.stdout
    done = rig_cli(["read", "--sim", "--bench", bench, "--on", "--count", "2", "--interval", "0.5",
                    "--out", tmp_path / "results"])
    assert done.returncode == 0, done.stderr
    for label in ("F6 640", "F7 690", "F8 745", "VIS", "NIR"):  # DS001046 Fig. 7 typical peaks
        assert label in done.stdout


def test_rig_check_says_which_chip_answered_when_the_config_names_the_other(tmp_path):
    # an AS7341 board with a config that says AS7343: its ID register is not where the AS7343's is (bank 1 0x5A)
    from rig.check import probe_devices

    config = sim_config(tmp_path, "as7341")
    with build_sim_bench(config) as bench:
        wrong = dataclasses.replace(config, spectral=dataclasses.replace(config.spectral, chip="as7343"))
        status = probe_devices(bench.probe_bus, wrong)[0]
    assert not status.present and "expected 0x81" in status.detail


def test_rig_run_on_a_simulated_as7343_records_its_channels_and_keeps_every_guard(tmp_path):
    # the shipped example: a 660 nm + 850 nm belt that switches itself off after 900 s
    done = rig_cli(["run", "--sim", "--bench", bench_file(tmp_path, "as7343"), "--quiet", "--out",
                    tmp_path / "results"])
    assert done.returncode in (0, 1), done.stderr
    (run_dir,) = (tmp_path / "results").glob("[!.]*")
    manifest = json.loads((run_dir / "run.json").read_text())
    assert manifest["outcome"] == "COMPLETED" and manifest["sensor_id"].startswith("AS7343")
    with (run_dir / "samples.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert all(name in rows[0] for name in CHIPS["as7343"].channels) and "Clear" not in rows[0]
    dark = [r for r in rows if r["phase_kind"] == "dark"]
    lit = [r for r in rows if r["phase_kind"] == "measure" and r["wrap_on"] == "1"]
    assert dark and lit

    def mean(subset, key):
        return sum(float(r[key]) for r in subset) / len(subset)

    # 660 nm lies in F6's passband (640 nm, FWHM 50), far from F1's (405 nm); 850 nm on NIR's peak (855 nm)
    assert mean(lit, "F6") > 20 * mean(lit, "F1")
    assert mean(lit, "clear_basic") > 10 * mean(dark, "clear_basic")
    with (run_dir / "summary.csv").open(newline="") as handle:
        summary = {r["claim_id"]: r for r in csv.DictReader(handle)}
    # the estimate runs on the AS7343's own table: the 660 nm line's peak, with its k=2 interval, covers 660 nm
    assert summary["red_peak_nm"]["verdict"] != "NOT MEASURED"
    peaks = [(float(r["red_peak_nm"]), float(r["red_peak_u_nm"])) for r in lit if r["red_peak_nm"]]
    assert peaks and all(abs(peak - 660.0) <= u for peak, u in peaks)
    assert summary["session_s"]["verdict"] == "PASS"  # the auto-off at 900 s, seen on VIS going dark
    assert any(e.startswith("pulse check NOT MEASURED") for e in manifest["events"])
    assert not manifest["wrap_left_on"] and manifest["sim_wrap_lit_at_end"] is False
    # the run folder re-analysed and reported: both read the AS7343's columns
    done = rig_cli(["analyze", str(run_dir), "--wrap", "rig/data/example_profile.toml"])
    assert done.returncode in (0, 1), done.stderr
    assert list(run_dir.glob("reanalysis-*/summary.csv"))
    done = rig_cli(["report", str(run_dir)])
    assert done.returncode == 0, done.stderr
    assert (run_dir / "report" / "report.html").is_file()


# --- the safety checks on both chips ---
@pytest.mark.parametrize("chip", CHIP_NAMES)
def test_a_welded_relay_is_reported_as_still_lit_on_either_chip(tmp_path, chip):
    wrap = WrapSpec(strings=RED, modes=[WrapMode("red", ["red"])], faults=WrapFaults(stuck_on=True))
    sequence = Sequence(phases=[Phase("dark", 3.0, 1.0), Phase("on"), Phase("measure", 10.0, 1.0), Phase("off"),
                                Phase("cooldown", 10.0, 5.0)]).validate()
    config = sim_config(tmp_path, chip)
    result = run_sequence(PROFILE, sequence, lambda: build_sim_bench(config, wrap), tmp_path / "results",
                          derive=make_deriver())
    assert result.outcome == "ABORTED" and "WRAP STILL LIT" in result.reason and result.wrap_still_lit
    manifest = json.loads((result.run_dir / "run.json").read_text())
    assert manifest["sim_wrap_lit_at_end"] is True


@pytest.mark.parametrize("chip", CHIP_NAMES)
def test_no_light_after_switch_on_stops_the_run_on_either_chip(tmp_path, chip):
    wrap = WrapSpec(strings=RED, modes=[WrapMode("red", ["red"])], faults=WrapFaults(never_on=True))
    sequence = Sequence(phases=[Phase("dark", 3.0, 1.0), Phase("on"), Phase("measure", 60.0, 5.0),
                                Phase("off")]).validate()
    config = sim_config(tmp_path, chip)
    result = run_sequence(PROFILE, sequence, lambda: build_sim_bench(config, wrap), tmp_path / "results",
                          derive=make_deriver())
    assert result.outcome == "ABORTED" and "no light" in result.reason and not result.wrap_left_on


@pytest.mark.parametrize("chip", CHIP_NAMES)
def test_the_guard_of_rig_read_on_says_still_lit_on_either_chip(tmp_path, chip):
    for stuck in (True, False):
        wrap = WrapSpec(strings=RED, modes=[WrapMode("red", ["red"])], faults=WrapFaults(stuck_on=stuck))
        with build_sim_bench(sim_config(tmp_path, chip), wrap) as bench:
            guard = WrapGuard(bench)
            guard.on()
            guard.sleep(1.0)
            guard.note_reading(bench.read_spectrum())
            if stuck:
                with pytest.raises(WrapStillLit):
                    guard.off()
            else:
                guard.off()  # the light went out: no error


def test_a_sequences_sensor_settings_are_checked_against_the_benchs_chip(tmp_path):
    # ATIME = ASTEP = 0 is a valid AS7341 setting (loading the sequence checks the default chip) but not an AS7343
    # one (DS001046 10.2.2): the run refuses before the wrap is switched on
    from rig.sequence import SensorSettings

    sequence = Sequence(phases=[Phase("dark", 3.0, 1.0), Phase("on"), Phase("measure", 5.0, 1.0), Phase("off")],
                        sensor=SensorSettings(atime=0, astep=0)).validate()
    wrap = WrapSpec(strings=RED, modes=[WrapMode("red", ["red"])])
    config = sim_config(tmp_path, "as7343")
    result = run_sequence(PROFILE, sequence, lambda: build_sim_bench(config, wrap), tmp_path / "results")
    assert result.outcome == "ERROR" and "sensor.atime/astep" in result.reason and "not both 0" in result.reason
    assert result.rows_written == 0 and not result.wrap_left_on


# --- the real backend's code path on an emulated AS7343 ---
def test_the_real_backend_opens_the_named_chips_driver_and_refuses_the_other_chip(tmp_path):
    from rig.errors import HardwareNotFound
    from rig.hardware.as7343 import AS7343Sensor
    from rig.hardware.real import build_real_bench

    wrap = WrapSpec(strings=RED, modes=[WrapMode("red", ["red"])])
    for on_the_bus, in_the_config in (("as7343", "as7343"), ("as7341", "as7343")):
        sim = build_sim_bench(sim_config(tmp_path, on_the_bus), wrap)
        sim.switch.close()  # free the mock pins: the real backend drives them now
        hardware = sim.hardware
        config = load_bench_config(bench_file(tmp_path, in_the_config))
        try:
            if on_the_bus != in_the_config:
                # an AS7341 board answers at 0x39 but has no AS7343 ID (0x81 in bank 1): a clear error, no fallback
                with pytest.raises(HardwareNotFound, match=r"no AS7343 at address 0x39.*chip = \"as7343\""):
                    build_real_bench(config, smbus=hardware.bus.smbus(), pin_factory=hardware.pin_factory,
                                     clock=hardware.clock)
                continue
            with build_real_bench(config, smbus=hardware.bus.smbus(), pin_factory=hardware.pin_factory,
                                  clock=hardware.clock) as bench:
                assert bench.backend == "real" and bench.chip is CHIPS["as7343"]
                assert isinstance(bench.spectral, AS7343Sensor)
                bench.switch.on()
                bench.clock.sleep(1.0)
                row = take_sample(bench)
                assert row["VIS"] > 100 and row["F6"] > 20 * max(row["F1"], 1)  # 660 nm: F6 (640), not F1 (405)
        finally:
            sim.close()


def test_a_simulated_wraps_sensor_spread_draws_an_as7343_unit_from_the_as7343s_own_spread():
    import numpy as np

    from rig.sim.as7343 import unit_from_spread
    from rig.sim.sensor_unit import SensorSpread

    table = Responsivity.load(chip=CHIPS["as7343"])
    typical = unit_from_spread("u", 0, SensorSpread(scale=0.0))  # no spread at all: the typical table itself
    assert typical.responsivity.matrix.shape == table.matrix.shape == (len(table.wavelengths_nm), 13)
    assert np.allclose(typical.responsivity.matrix, table.matrix)
    # a wider centre spread (20 nm instead of 2.5) moves the filter centres further, on the same draw
    narrow = unit_from_spread("u", 0, SensorSpread())
    wide = unit_from_spread("u", 0, SensorSpread(centre_nm=20.0, centre_limit_nm=40.0))
    assert np.abs(wide.centre_offset_nm).max() > 3 * np.abs(narrow.centre_offset_nm).max()
    with pytest.raises(ValueError, match="out_of_band_tilt is an AS7341 setting"):
        unit_from_spread("u", 0, SensorSpread(out_of_band_tilt=0.5))


# --- calibration and counts CSVs carry their chip ---
def _counts_csv(path, chip, counts, gain_x=64.0, t_int_ms=50.0, extra=None):
    extra = extra or {}
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([*chip.channels, "gain_x", "t_int_ms", *extra])
        for row in counts:
            writer.writerow([*row, gain_x, t_int_ms, *extra.values()])
    return path


def test_rig_calibrate_dark_on_an_as7343_stores_its_own_channels_and_the_chip(tmp_path):
    from rig.calibration.file import load_calibration

    as7343 = CHIPS["as7343"]
    out = tmp_path / "cal.toml"
    done = rig_cli(["calibrate", "dark", "--sim", "--bench", bench_file(tmp_path, "as7343"), "--count", "3",
                    "--out", out])
    assert done.returncode == 0, done.stderr
    loaded = load_calibration(out)
    # one dark value per AS7343 channel (not the AS7341's ten), the chip recorded, named in the output
    assert loaded.chip == "as7343" and len(loaded.dark_counts) == as7343.n_channels
    assert "VIS" in done.stdout and "Clear" not in done.stdout
    # the same file on an AS7341 bench: refused, naming both chips, file unchanged
    before = out.read_text()
    done = rig_cli(["calibrate", "dark", "--sim", "--bench", bench_file(tmp_path, "as7341"), "--count", "3",
                    "--out", out])
    assert done.returncode == 2 and "AS7343" in done.stderr and "AS7341" in done.stderr
    assert out.read_text() == before
    done = rig_cli(["run", "--sim", "--bench", bench_file(tmp_path, "as7341"), "--calibration", out, "--quiet",
                    "--out", tmp_path / "results"])
    assert done.returncode == 2 and "AS7343" in done.stderr and "AS7341" in done.stderr


def test_a_calibration_file_checks_its_lists_against_its_own_chip(tmp_path):
    from rig.calibration.file import CalibrationFile

    as7341, as7343 = CHIPS["as7341"], CHIPS["as7343"]
    ok = CalibrationFile(id="x", sensor_id="s", chip="as7343", dark_counts=[1.0] * as7343.n_channels)
    assert ok.validate().calibration().chip is as7343
    with pytest.raises(ConfigError, match="dark_counts"):
        CalibrationFile(id="x", sensor_id="s", chip="as7343", dark_counts=[1.0] * as7341.n_channels).validate()
    with pytest.raises(ConfigError, match="chip"):
        CalibrationFile(id="x", sensor_id="s", chip="tsl2591").validate()
    # a file written before the field existed was made on the default chip (the AS7341)
    assert CalibrationFile(id="x", sensor_id="s", dark_counts=[1.0] * 10).validate().calibration().chip is as7341


def test_rig_analyze_reads_a_counts_csv_by_its_chips_columns(tmp_path):
    from rig.sim.as7343 import draw_unit

    as7343 = CHIPS["as7343"]
    # one 660 nm line, 20 nm FWHM, 30 uW/cm2 at the sensor, seen by a typical AS7343 (counts per uW/cm2 per ms at 64x)
    unit = draw_unit("typical", scale=0.0)
    counts = [[round(float(c) * 30.0 * 50.0 + 2.0, 1) for c in unit.responsivity.line_response(660.0, 20.0)]]
    source = _counts_csv(tmp_path / "counts.csv", as7343, counts)
    done = rig_cli(["analyze", str(source), "--transmission", "1.0"])
    assert done.returncode == 0, done.stderr
    with (tmp_path / "counts-analyzed.csv").open(newline="") as handle:
        (row,) = list(csv.DictReader(handle))
    assert abs(float(row["red_peak_nm"]) - 660.0) <= float(row["red_peak_u_nm"])
    # AS7341 columns with one missing: the error names the file, the missing column and each chip's columns
    bad = tmp_path / "bad.csv"
    bad.write_text("F1,F2,F3,F4,F5,F6,F7,F8,NIR,gain_x,t_int_ms\n" + ",".join(["1"] * 11) + "\n", encoding="utf-8")
    done = rig_cli(["analyze", str(bad)])
    assert done.returncode == 2 and "bad.csv" in done.stderr and "Clear" in done.stderr and "VIS" in done.stderr


def test_rig_calibrate_spectral_irradiance_and_verify_on_an_as7343(tmp_path):
    from rig.calibration.file import load_calibration

    bench = bench_file(tmp_path, "as7343")
    out = tmp_path / "cal.toml"
    base = ["--sim", "--bench", bench, "--out", out, "--count", "3"]
    for peak in (630.0, 730.0, 850.0):  # live references through the jig: three LEDs of stated peak
        done = rig_cli(["calibrate", "spectral", *base, "--reference-peak-nm", str(peak),
                        "--reference-fwhm-nm", "20", "--switch-on"])
        assert done.returncode == 0, done.stderr
    done = rig_cli(["calibrate", "irradiance", *base, "--reference-mw-cm2", "30", "--reference-nm", "660",
                    "--switch-on"])
    assert done.returncode == 0, done.stderr
    loaded = load_calibration(out)
    assert loaded.chip == "as7343" and len(loaded.spectral_gains) == CHIPS["as7343"].n_channels
    done = rig_cli(["calibrate", "verify", "--sim", "--bench", bench, "--calibration", out, "--count", "3",
                    "--reference-mw-cm2", "30", "--reference-peak-nm", "660", "--switch-on"])
    assert done.returncode in (0, 1), done.stderr
    assert "calibration" in done.stdout


def test_rig_calibrate_positions_and_compare_on_an_as7343(tmp_path):
    from rig.calibration.file import load_calibration

    lines = ['backend = "sim"', "[spectral]", 'chip = "as7343"', 'sensor_id = "as7343-1"']
    for index, (name, x) in enumerate(zip("ab", (0, 50), strict=True)):
        lines += ["[[positions]]", f'name = "{name}"', f"x_mm = {x}.0", f"mux_channel = {index}"]
    (tmp_path / "bench.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    done = rig_cli(["calibrate", "positions", "--bench", "bench.toml", "--reference-nm", "660", "--switch-on",
                    "--settle-s", "1", "--out", "cal.toml"], cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    loaded = load_calibration(tmp_path / "cal.toml")
    assert loaded.chip == "as7343" and loaded.position_names == ["a", "b"]
    for n in range(2):  # two runs of the shipped example on the AS7343, compared
        done = rig_cli(["run", "--sim", "--bench", bench_file(tmp_path, "as7343"), "--quiet", "--seed", str(n),
                        "--out", tmp_path / "results"])
        assert done.returncode in (0, 1), done.stderr
    runs = sorted(str(p) for p in (tmp_path / "results").glob("[!.]*"))
    done = rig_cli(["compare", *runs, "--csv", tmp_path / "compare.csv"])
    assert done.returncode == 0, done.stderr
    with (tmp_path / "compare.csv").open(newline="") as handle:  # one line per run and mode
        rows = list(csv.DictReader(handle))
    assert len({row["run_id"] for row in rows}) == 2 and len(rows) == 2 * len({row["mode"] for row in rows})
