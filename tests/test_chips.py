"""The chip values: the AS7341's equals what the code uses today (so the scattered constants can be replaced
by it), the AS7343's states the datasheet's figures, and each responsivity table has the chip's columns, the
stated shape and a header that says where every number comes from."""

from __future__ import annotations

import importlib.util
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from rig.chips import CHIPS, ChannelSpec, Role, spectral_chip
from rig.spectrum.responsivity import Responsivity

ROOT = Path(__file__).resolve().parent.parent
AS7341, AS7343 = CHIPS["as7341"], CHIPS["as7343"]

# DS001046 v6-00 Fig. 7: typical peak wavelengths (min/max = typ -/+ 10 nm) and typical FWHM, nm
AS7343_DATASHEET = {"F1": (405, 30), "F2": (425, 22), "FZ": (450, 55), "F3": (475, 30), "F4": (515, 40),
                    "FY": (555, 100), "F5": (550, 35), "FXL": (600, 80), "F6": (640, 50), "F7": (690, 55),
                    "F8": (745, 60), "NIR": (855, 54)}


def test_as7341_value_equals_the_constants_the_code_uses_now():
    from rig.calibration.spectral import shifted_channels
    from rig.config import SpectralConfig
    from rig.sim.sensor_unit import SensorSpread
    from rig.spectrum import responsivity

    # DS000504: F1..F8, Clear, NIR; AGAIN codes 0..10 are 0.5x..512x
    assert AS7341.channels == ("F1", "F2", "F3", "F4", "F5", "F6", "F7", "F8", "Clear", "NIR")
    assert AS7341.gain_codes_x == (0.5, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
    assert AS7341.gain_ratio_vs_64x[AS7341.gain_code(64)] == 1.0
    assert AS7341.timing.step_us == 2.78  # DS000504: integration step 2.78 us
    for atime, astep in ((29, 599), (100, 999), (0, 0), (255, 65534)):
        assert AS7341.integration_time_ms(atime, astep) == responsivity.integration_time_ms(atime, astep)
        assert AS7341.full_scale_counts(atime, astep) == responsivity.full_scale_counts(atime, astep)
    for gain_x in AS7341.gain_codes_x:
        assert AS7341.gain_code(gain_x) == responsivity.gain_code(gain_x)
        assert AS7341.gain_ratio(gain_x) == responsivity.gain_ratio(gain_x)
    config = SpectralConfig()
    assert (AS7341.default_address, AS7341.timing.default_atime, AS7341.timing.default_astep) == \
        (config.address, config.atime, config.astep)
    identity = AS7341.identity
    assert (identity.register, identity.value, identity.shift) == (0x92, 0x09, 2)  # DS000504: ID bits 7:2 at 0x92
    assert AS7341.responsivity_path() == responsivity.default_table_path()
    assert np.array_equal(responsivity.Responsivity.load(chip=AS7341).matrix, responsivity.Responsivity.load().matrix)
    assert AS7341.index_of(Role.BROADBAND) == AS7341.channels.index("Clear")
    assert AS7341.index_of(Role.NIR) == AS7341.channels.index("NIR")
    assert AS7341.name_of(Role.FLICKER) == "Clear"  # the emulator's flicker samples use Clear's response
    assert shifted_channels(AS7341) == ("F6", "F7", "F8", "NIR")  # the red/NIR references reach these
    assert AS7341.channel_peaks_nm == {"F1": 415, "F2": 445, "F3": 480, "F4": 515, "F5": 555, "F6": 590, "F7": 630,
                                       "F8": 680, "NIR": 910}  # DS000504 typical peaks (report plots' ticks)
    assert dict(zip(AS7341.channels, AS7341.labels, strict=True))["F7"] == "F7 630"  # cli/common.py's header
    spread, now = AS7341.spread, SensorSpread()
    assert (spread.centre_sigma_nm, spread.centre_limit_nm, spread.width_rel, spread.skew_per_100nm,
            spread.sensitivity_rel, spread.out_of_band_range, spread.gain_rel, spread.gain_limit_rel) == \
        (now.centre_nm, now.centre_limit_nm, now.width_rel, now.skew_per_100nm, now.sensitivity_rel,
         (now.out_of_band_low, now.out_of_band_high), now.gain_rel, now.gain_limit_rel)
    assert spread.out_of_band_channels == AS7341.channels[:6]  # sensor_unit's pedestal channels
    from rig.spectrum.model import ModelUncertainty

    # the AS7341's uncalibrated model u, channel by channel (F1..F8, Clear, NIR): sensitivity 10 %, filter centres
    # 3 nm (Clear has no filter), out-of-band 2 % of the peak on F1-F6 and 1 % on F7, F8 and NIR, the split
    # out-of-band part at the 0.1x-3x range's mean (log-uniform: 0.853x the table's) known to its sd (90 % of
    # that; none on Clear); no sensitivity/centre correlation, no tilt
    stated = ModelUncertainty(rel=(0.10,) * 10, shift_nm=(3.0,) * 8 + (0.0, 3.0),
                              oob=(0.02,) * 6 + (0.01, 0.01, 0.0, 0.01), oob_rel=(0.904,) * 8 + (0.0, 0.904),
                              rel_shift_corr=(0.0,) * 10, tilt_per_100nm=(0.0,) * 10,
                              oob_centre=(0.853,) * 8 + (1.0, 0.853))
    assert AS7341.model_uncertainty() == (stated.rel, stated.shift_nm, stated.oob)
    of = ModelUncertainty.of(AS7341)
    assert of.oob_rel == pytest.approx(stated.oob_rel, abs=1e-3)
    assert of.oob_centre == pytest.approx(stated.oob_centre, abs=1e-3)
    assert replace(of, oob_rel=stated.oob_rel, oob_centre=stated.oob_centre) == stated
    assert ModelUncertainty((0.1,) * 13, (3.0,) * 13, (0.01,) * 13, (0.9,) * 13).tilt_per_100nm == (0.0,) * 13
    assert spread.out_of_band_range == (0.1, 3.0)


def test_as7343_value_states_the_datasheet():
    assert len(AS7343.channels) == 13 and AS7343.n_channels == 13
    assert AS7343.name_of(Role.BROADBAND) == "VIS" and AS7343.name_of(Role.NIR) == "NIR"
    for name, (peak, fwhm) in AS7343_DATASHEET.items():
        spec = AS7343.spec(name)
        assert (spec.peak_nm, spec.peak_min_nm, spec.peak_max_nm, spec.fwhm_nm) == (peak, peak - 10, peak + 10, fwhm)
    assert set(AS7343.spectral_channels) == set(AS7343_DATASHEET)
    assert AS7343.filters_from(580.0) == ("FXL", "F6", "F7", "F8", "NIR")  # what red/NIR references reach
    # gains 0.5x..2048x (AGAIN 0..12); t_int = 30 x 600 x 2.78 us = 50.04 ms; full scale min(65535, steps)
    assert AS7343.gain_code(0.5) == 0 and AS7343.gain_code(2048) == 12
    # DS001046 Fig. 10 typical ratios vs 64x: measured, not powers of two (0.5x 7.9e-3, 2048x 34.75)
    assert (AS7343.gain_ratio(0.5), AS7343.gain_ratio(64), AS7343.gain_ratio(1024), AS7343.gain_ratio(2048)) == \
        (0.0079, 1.0, 16.9, 34.75)
    assert AS7343.spread.gain_ratio_limits[12] == (28.2, 41.3)
    assert AS7343.integration_time_ms(29, 599) == pytest.approx(50.04)
    assert AS7343.full_scale_counts(0, 999) == 1000 and AS7343.full_scale_counts(255, 65534) == 65535
    assert (AS7343.identity.register, AS7343.identity.value, AS7343.default_address) == (0x5A, 0x81, 0x39)
    with pytest.raises(ValueError, match="as7343"):
        AS7343.gain_code(3)
    assert spectral_chip("as7343") is AS7343
    with pytest.raises(ValueError, match="known: as7341, as7343"):
        spectral_chip("tsl2591")


def test_a_chip_needs_exactly_one_broadband_nir_and_flicker_channel():
    specs = AS7341.channel_specs
    two_broadband = (*specs[:-2], ChannelSpec("Clear", frozenset({Role.BROADBAND, Role.FLICKER})),
                     ChannelSpec("Clear2", frozenset({Role.BROADBAND})), specs[-1])
    with pytest.raises(ValueError, match="2 channels have role broadband"):
        replace(AS7341, channel_specs=two_broadband)
    with pytest.raises(ValueError, match="0 channels have role nir"):
        replace(AS7341, channel_specs=specs[:-1])


def _table(path: Path) -> tuple[list[str], list[str], np.ndarray]:
    lines = path.read_text(encoding="utf-8").splitlines()
    row = next(i for i, line in enumerate(lines) if not line.startswith("#"))
    return lines[:row], lines[row].split(","), np.loadtxt(path, delimiter=",", skiprows=row + 1)


def test_as7343_table_has_the_stated_shape_and_sources():
    header, columns, data = _table(AS7343.responsivity_path())
    assert columns == ["wavelength_nm", *AS7343.channels]
    text = "\n".join(header)
    for needed in ("DS001046 v6-00", "units: raw counts per (uW/cm2", "at gain 64x", "assumption", "shape",
                   "heights:", "Fig. 8/9 typical counts"):
        assert needed in text
    wl = data[:, 0]
    assert wl[0] == 300 and wl[-1] == 1100 and np.all(np.diff(wl) == 1.0)
    assert np.all(data[:, 1:] >= 0)
    for name, (peak, fwhm) in AS7343_DATASHEET.items():
        curve = data[:, 1 + AS7343.index(name)]
        top = curve.max()
        assert abs(wl[np.argmax(curve)] - peak) <= 1, name
        above = wl[curve >= top / 2]
        assert abs((above[-1] - above[0]) - fwhm) <= 2 + 0.02 * fwhm, name  # the floor adds ~1 %
        far = curve[(wl >= 380) & (wl <= 1000) & (np.abs(wl - peak) > 3 * fwhm)]
        assert np.allclose(far / top, 0.01 / 1.01, rtol=0.02), name  # the stated 1 % floor (of the core peak)
        assert curve[wl == 1100][0] == 0 and curve[wl == 320][0] == 0  # none outside 360-1020 nm
    vis = data[:, 1 + AS7343.index_of(Role.BROADBAND)]
    assert np.all(vis[(wl >= 450) & (wl <= 920)] > 0.4 * vis.max())  # broadband
    # the calibration/ copy is the package's, and the script makes exactly this table
    assert (ROOT / "calibration" / "responsivity_as7343.csv").read_text() == AS7343.responsivity_path().read_text()
    spec = importlib.util.spec_from_file_location("make_as7343", ROOT / "calibration" / "make_responsivity_as7343.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    _, matrix, notes = module.build()
    assert np.allclose(matrix, data[:, 1:], rtol=1e-5, atol=1e-9)
    assert [f"# {note}" for note in notes] == header[2:]


# DS001046 Fig. 8/9: typical counts at AGAIN 1024x (16.9 x 64x, Fig. 10), 27.8 ms, and the two test LEDs (nm),
# each at 155 mW/m2 = 15.5 uW/cm2; VIS's count is for its two photodiodes read together
FIG8 = {"F1": (5749, 396, 408), "F2": (1756, 408, 448), "FZ": (2169, 428, 480), "F3": (770, 448, 500),
        "F4": (3141, 500, 534), "FY": (3747, 534, 593), "F5": (1574, 531, 594), "FXL": (4776, 593, 628),
        "F6": (3336, 618, 665), "F7": (5435, 685, 715), "F8": (864, 715, 766), "NIR": (10581, 849, 903),
        "VIS": (999 / 2, 396, 766)}


def test_as7343_table_gives_the_datasheets_typical_counts():
    """The header's reading of the test: the mean response to the two LEDs (Gaussian, FWHM 20 nm)."""
    _, columns, data = _table(AS7343.responsivity_path())
    wl = data[:, 0]
    for name, (typical, *leds_nm) in FIG8.items():
        curve = data[:, columns.index(name)]
        counts = []
        for led_nm in leds_nm:
            led = np.exp(-4 * np.log(2) * ((wl - led_nm) / 20.0) ** 2)
            counts.append(15.5 * (led / led.sum()) @ curve * 27.8 * 16.9)
        assert np.mean(counts) == pytest.approx(typical, rel=1e-3), name


def test_each_chip_loads_only_its_own_table():
    assert Responsivity.load(chip=AS7343).matrix.shape == (801, 13)
    with pytest.raises(ValueError, match="expected wavelength_nm, F1, F2, FZ"):
        Responsivity.load(AS7341.responsivity_path(), AS7343)
    with pytest.raises(ValueError, match="as7341 responsivity table"):
        AS7341.check_table_columns(AS7343.responsivity_path())


def test_timing_rules_and_identity_reads_through_an_smbus_face():
    from rig.clock import SimClock
    from rig.sim.as7341 import AS7341Emulator
    from rig.sim.as7343 import AS7343Emulator
    from rig.sim.bus import SimBus
    from rig.sim.optics import FixedLight

    assert AS7343.timing.check(0, 0) == "ATIME and ASTEP not both 0" and AS7343.timing.check(0, 1) is None
    assert AS7341.timing.check(0, 0) is None and "0..65534" in AS7341.timing.check(0, 65535)
    for chip, emulator in ((AS7341, AS7341Emulator), (AS7343, AS7343Emulator)):
        bus = SimBus()
        bus.attach(0x39, emulator(SimClock(), FixedLight([])))
        smbus = bus.smbus()
        assert chip.identity.matches(chip.identity.read_id(smbus, 0x39))
        other = AS7343 if chip is AS7341 else AS7341
        assert not other.identity.matches(other.identity.read_id(smbus, 0x39))  # the other chip's ID check fails
    assert smbus.read_byte_data(0x39, 0xBF) & 0x10 == 0  # the AS7343's bank is restored after the ID read
