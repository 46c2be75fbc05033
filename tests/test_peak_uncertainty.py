"""Where a calibrated peak's stated U comes from (issue 20.4): each term from the evidence that bears on it.

Physics stated here: a sensor whose curves are the typical table's except where the test says (so the one
difference is known), or a production unit (rig/sim/sensor_unit.py), read through rig's reader; reference LEDs at
631.0 / 658.5 / 852.0 nm stated to 0.5 nm (``test_spectral_calibration.references``).
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from test_spectral_calibration import DARK, TABLE, T, readings, references

from rig.calibration.file import CalibrationFile, load_calibration, save_calibration, spectral_calibration
from rig.calibration.spectral import add_references, fit_spectral
from rig.chips import DEFAULT_CHIP, Role
from rig.sim.sensor_unit import SensorUnit
from rig.spectrum import Calibration, estimate
from rig.spectrum.line_plan import ClaimedLine, plan_lines
from rig.spectrum.responsivity import Responsivity

CLEAR = DEFAULT_CHIP.index_of(Role.BROADBAND)
NIR = DEFAULT_CHIP.index_of(Role.NIR)


def clear_tilted_unit(per_100nm: float) -> SensorUnit:
    """The typical part, except that Clear's response grows by ``per_100nm`` per 100 nm above 660 nm (a silicon
    tilt: +19 % at 852 nm for 0.10)."""
    typical = SensorUnit.typical()
    matrix = typical.responsivity.matrix.copy()
    wl = typical.responsivity.wavelengths_nm
    matrix[:, CLEAR] *= np.clip(1.0 + per_100nm * (wl - 660.0) / 100.0, 0.0, None)
    table = Responsivity(wl, matrix, "typical, Clear tilted", chip=typical.responsivity.chip)
    return replace(typical, unit_id="clear-tilted", responsivity=table)


def test_one_channels_misfit_does_not_widen_a_red_peaks_u():
    # Clear reads 19 % high at 852 nm and nothing else differs from the table. Gains and centres cannot absorb a
    # tilt; with the references' amplitudes free, it looks the same as every filter channel leaking less NIR light
    # (each leakage level has a slope between red and NIR light), and either way the channels' ratios at 852 nm are
    # what the reference showed. What must hold: F7 and F8, which see the red references in band, stay as sure as
    # on the untilted part, so a red LED's peak U barely changes (one unmodelled term for every channel, set by
    # Clear's misfit, made it 1.8x), and a NIR LED near the reference is inside its U on both parts.
    us = {}
    for tilt in (0.0, 0.10):
        unit = clear_tilted_unit(tilt)
        fit = fit_spectral(references(unit), TABLE, T, DARK)
        us[tilt] = []
        calibration = spectral_calibration(Calibration(TABLE, transmission=T, dark_counts=DARK), fit)
        for peak in (620.0, 645.0):
            for r in readings(unit, [(peak, 20.0, 30.0)], 3, seed=int(peak)):
                e = estimate(r.counts, r.gain_x, r.t_int_ms, calibration)
                assert abs(e.red_peak_nm - peak) <= e.red_peak_u_nm
                us[tilt].append(e.red_peak_u_nm)
        for r in readings(unit, [(850.0, 30.0, 30.0)], 3, seed=850):
            e = estimate(r.counts, r.gain_x, r.t_int_ms, calibration)
            assert e.nir_peak_low_nm <= 850.0 <= e.nir_peak_high_nm, (tilt, e.nir_peak_nm)
    assert np.median(us[0.10]) < 1.3 * np.median(us[0.0])


def test_the_nir_channels_tilt_grows_from_the_nir_reference(tmp_path):
    # the 852 nm reference pins the NIR channel (its gain and centre are fitted there); Clear is pinned by the
    # irradiance reference at 660 nm, whose amplitude the meter sets; the calibration file keeps it
    made = CalibrationFile(id="tilt", sensor_id="as7341-7", transmission=T, dark_counts=list(DARK))
    fit = add_references(made, references(SensorUnit.draw("as7341-7", 3)), T)
    origins = fit.model_u.tilt_origins_nm()
    assert origins[NIR] == 852.0 and origins[CLEAR] == 660.0
    loaded = load_calibration(save_calibration(made, tmp_path / "cal.toml")).calibration()
    assert np.array_equal(loaded.model_u.tilt_origins_nm(), origins)


def test_a_merged_red_pairs_light_centre_is_inside_its_u_whatever_the_shares():
    # 630 + 660 nm claimed, lines at 628 and 663 nm (FWHM 20), shares 1:3, 1:1 and 3:1, 40 mW/cm2, on a calibrated
    # production unit: the pair merges, and the group's centre must hold the irradiance-weighted centroid within U
    # (a blend of two lines fitted as one sits up to a few nm from the centroid, more than the fit's interval says:
    # without the group's blend term 3 of the 9 readings are inside). A k=2 interval on one part: at least 7 of 9
    # (with the leakage slope fitted, the 1:3 mix on this part reads 2.41-2.47 nm off against U 2.34-2.43 nm)
    unit = SensorUnit.draw("as7341-7", 3)
    calibration = spectral_calibration(Calibration(TABLE, transmission=T, dark_counts=DARK),
                                       fit_spectral(references(unit), TABLE, T, DARK))
    claims = (ClaimedLine("line_630nm", 630.0, 10.0), ClaimedLine("line_660nm", 660.0, 10.0))
    plan = plan_lines(claims, calibration.responsivity, calibration.model_u)
    (group, _members), = plan.groups
    inside = []
    for share in (0.25, 0.5, 0.75):
        lines = [(628.0, 20.0, 40.0 * share), (663.0, 20.0, 40.0 * (1 - share))]
        centroid = share * 628.0 + (1 - share) * 663.0
        for r in readings(unit, lines, 3, seed=int(100 * share)):
            e = estimate(r.counts, r.gain_x, r.t_int_ms, calibration, r.saturated, r.full_scale, plan=plan)
            inside.append(abs(e.lines[f"{group}_peak_nm"] - centroid) <= e.lines[f"{group}_peak_u_nm"])
    assert sum(inside) >= 7, inside


def silicon_tilted_unit(per_100nm: float) -> SensorUnit:
    """The typical part, except that every channel's response changes by ``per_100nm`` per 100 nm above 660 nm (the
    photodiodes' own tilt, common to all: -0.06 makes the part read 11 % low at 852 nm, 1.5 sd of the spread)."""
    typical = SensorUnit.typical()
    wl = typical.responsivity.wavelengths_nm
    factor = np.clip(1.0 + per_100nm * (wl - 660.0) / 100.0, 0.0, None)
    table = Responsivity(wl, typical.responsivity.matrix * factor[:, None], "typical, silicon tilted",
                         chip=typical.responsivity.chip)
    return replace(typical, unit_id="silicon-tilted", responsivity=table)


def test_nir_light_on_a_part_tilted_as_a_whole_is_inside_u_after_a_660_nm_meter_reading_only():
    # references at 631 / 658.5 / 852 nm of unknown irradiance (they fix the channels' ratios, not the part's level at
    # 852 nm) and one 660 nm meter reading: the part's response at 850 nm relative to 660 nm is what no reading of
    # this procedure measures. A line at 850 nm, 30 mW/cm2, must be inside its stated U; a red line at 660 nm, whose
    # level the meter fixed, keeps a U far tighter than the NIR one.
    from rig.calibration.fit import Reading
    from rig.calibration.jobs import add_irradiance_points

    unit = silicon_tilted_unit(-0.06)
    made = CalibrationFile(id="tilt", sensor_id="silicon", transmission=T, dark_counts=list(DARK))
    add_references(made, references(unit), T)
    meter = [Reading(tuple(r.counts), r.gain_x, r.t_int_ms, r.saturated)
             for r in readings(unit, [(660.0, 20.0, 25.0)], 5, seed=3)]
    add_irradiance_points(made, meter, [(25.0, 660.0)] * len(meter), T, 1.0)
    calibration = made.calibration()
    nir = [estimate(r.counts, r.gain_x, r.t_int_ms, calibration) for r in readings(unit, [(850.0, 30.0, 30.0)], 3, 9)]
    for e in nir:
        assert abs(e.irradiance_mw_cm2 - 30.0) <= e.irradiance_u_mw_cm2, (e.irradiance_mw_cm2, e.irradiance_u_mw_cm2)
    red = [estimate(r.counts, r.gain_x, r.t_int_ms, calibration) for r in readings(unit, [(660.0, 20.0, 30.0)], 3, 5)]
    for e in red:
        assert abs(e.irradiance_mw_cm2 - 30.0) <= e.irradiance_u_mw_cm2
        assert e.irradiance_u_mw_cm2 < 0.5 * np.median([n.irradiance_u_mw_cm2 for n in nir])


def _claimed_red_peak(calibration: Calibration, unit: SensorUnit, peak_nm: float, seed: int):
    """The red-peak claim (660 +/- 10 nm) judged on five readings of one LED (FWHM 20 nm, 30 mW/cm2) at
    ``peak_nm``, and the readings' estimates."""
    from rig.claims.evidence import RunFacts
    from rig.claims.judging import check_claims
    from rig.profile import Claims

    estimates, rows = [], []
    for r in readings(unit, [(peak_nm, 20.0, 30.0)], 5, seed=seed):
        e = estimate(r.counts, r.gain_x, r.t_int_ms, calibration)
        estimates.append(e)
        rows.append({**e.as_dict(), "t_s": float(len(rows)), "phase_kind": "measure", "wrap_on": True})
    check = next(c for c in check_claims(Claims(red_peak_nm=660.0), rows, RunFacts(switched_on_t_s=0.0))
                 if c.claim_id == "red_peak_nm")
    return check, estimates


def test_a_peak_near_f8s_top_is_judged_on_its_skewed_interval():
    # A red LED at 675 nm sits near F8's top (680 nm), where a line a few nm further out moves F8 little: the
    # profile's interval reaches further above the fit than below it. The stated interval must hold the true
    # peak on both sides; the claim "660 +/- 10 nm" is judged on it, so a 675 nm LED (5 nm outside) FAILs on
    # each of six calibrated production units, while a 660 nm LED PASSes. (Judged on value +/- the longer
    # side, one of the six was MARGINAL.)
    verdicts = {675.0: [], 660.0: []}
    for k in range(6):
        unit = SensorUnit.draw(f"as7341-skew-{k}", 20 + k)
        fit = fit_spectral(references(unit), TABLE, T, DARK)
        calibration = spectral_calibration(Calibration(TABLE, transmission=T, dark_counts=DARK), fit)
        for peak in verdicts:
            check, estimates = _claimed_red_peak(calibration, unit, peak, seed=100 * k + int(peak))
            for e in estimates:
                assert e.red_peak_low_nm <= peak <= e.red_peak_high_nm
                assert e.red_peak_u_nm == pytest.approx(max(e.red_peak_nm - e.red_peak_low_nm,
                                                            e.red_peak_high_nm - e.red_peak_nm))
            verdicts[peak].append(check.verdict.value)
            if check.verdict.value == "FAIL" and check.measured - check.uncertainty <= 670.0:  # the interval's doing
                assert "k=2 interval" in check.note
    assert verdicts[660.0] == ["PASS"] * 6
    assert verdicts[675.0] == ["FAIL"] * 6, verdicts


@pytest.mark.parametrize("peak_nm", [810.0, 940.0])
def test_the_parts_tilt_reaches_a_nir_line_as_each_channel_was_tied_to_clear(peak_nm):
    # references of unknown level tie each channel to Clear where they are: the NIR channel at the 852 nm reference.
    # The part's tilt from 660 nm (Clear's, 4 % per 100 nm, the only model term here) then moves a NIR line's
    # amplitude as Clear's response moved at 852 nm when the NIR channel alone reads it, at the line's own
    # wavelength when Clear alone reads it (all channels moved alike gave the NIR channel the tilt at the line too)
    from rig.spectrum.model import ModelUncertainty
    from rig.spectrum.referenced import amplitude_covariance

    zeros = (0.0,) * DEFAULT_CHIP.n_channels
    tilt, origins = np.zeros(DEFAULT_CHIP.n_channels), np.full(DEFAULT_CHIP.n_channels, 660.0)
    tilt[CLEAR], origins[NIR] = 0.04, 852.0
    u = ModelUncertainty(zeros, zeros, zeros, zeros, tilt_per_100nm=tuple(tilt), tilt_origin_nm=tuple(origins))
    calibration = Calibration(TABLE, transmission=T, calibrated=True, model_u=u, scale_lines_nm=(660.0,))
    response = TABLE.line_response(peak_nm, 30.0)
    for channel, moved_at_nm in ((NIR, 852.0), (CLEAR, peak_nm)):
        solve = np.zeros((1, 2, DEFAULT_CHIP.n_channels))
        solve[0, 0, channel] = 1.0 / response[channel]  # the amplitude read from this channel alone
        cov = amplitude_covariance(calibration, solve, np.zeros((1, DEFAULT_CHIP.n_channels)), [0],
                                   np.array([[peak_nm]]), np.array([[30.0]]), np.ones((1, 1)))
        assert np.sqrt(cov[0, 0, 0]) == pytest.approx(0.04 * (moved_at_nm - 660.0) / 100.0, rel=0.02), channel


def test_a_readings_noise_part_is_the_size_of_the_scatter_of_repeated_readings():
    # Counting noise scatters a peak from one reading to the next; rig states that part of each reading's interval
    # (*_peak_noise_u_nm) so a phase's readings can average it. On calibrated production units, 24 readings of a
    # steady 660 nm (30 mW/cm2) + 850 nm (20 mW/cm2) wrap: the stated noise part (median) is 0.5-2x twice the
    # readings' standard deviation (a phase takes out no more than the readings' own scatter shows), and
    # inside each side of the interval.
    for k in range(3):
        unit = SensorUnit.draw(f"as7341-noise-{k}", 40 + k)
        fit = fit_spectral(references(unit), TABLE, T, DARK)
        calibration = spectral_calibration(Calibration(TABLE, transmission=T, dark_counts=DARK), fit)
        estimates = [estimate(r.counts, r.gain_x, r.t_int_ms, calibration)
                     for r in readings(unit, [(660.0, 20.0, 30.0), (850.0, 30.0, 20.0)], 24, seed=7 + k)]
        for band in ("red", "nir"):
            peaks = np.array([getattr(e, f"{band}_peak_nm") for e in estimates])
            noise = np.array([getattr(e, f"{band}_peak_noise_u_nm") for e in estimates])
            assert np.all(noise > 0)
            assert 0.5 <= np.median(noise) / (2 * np.std(peaks, ddof=1)) <= 2.0, (k, band)
            for e in estimates:
                low, value, high = (getattr(e, f"{band}_peak_{s}") for s in ("low_nm", "nm", "high_nm"))
                assert getattr(e, f"{band}_peak_noise_u_nm") <= min(value - low, high - value) + 1e-9


def test_a_phase_averages_a_peaks_noise_part_and_keeps_the_rest():
    # Nine readings of one LED, each stated as value -10/+10 nm (k=2) of which 8 nm is counting noise, and
    # scattering as much (MAD 2.698 nm: twice the sd 8 nm): the calibration's part, sqrt(10^2 - 8^2) = 6 nm, is the
    # same in every reading; the noise part of the nine's median is 8 x 1.2533 / 3 = 3.34 nm (a normal median's
    # standard error). Phase U = hypot(6, 3.34) = 6.87 nm.
    from rig.claims.line_groups import robust_interval

    def phase(offsets, noise):
        values = [850.0 + d for d in offsets]
        return robust_interval(values, [v - 10 for v in values], [v + 10 for v in values],
                               None if noise is None else [noise] * len(values))

    as_stated = (-8, -5.4, -2.698, -1, 0, 1, 2.698, 5.4, 8)
    value, below, above = phase(as_stated, 8.0)
    assert value == 850.0 and below == pytest.approx(6.87, abs=0.01) and above == pytest.approx(6.87, abs=0.01)
    # readings that do not scatter: nothing is taken out (the stated noise may be a linearisation's overstatement)
    _v, below, _a = phase([0.0] * 9, 8.0)
    assert below == pytest.approx(math.hypot(10, 8 * 1.2533 / 3), abs=0.01)
    # a drifting source scatters more than its counting noise (1 nm stated, MAD 2 nm): 1 nm is taken out and the
    # scatter's own median u put back
    _v, below, _a = phase((-6, -4, -2, -1, 0, 1, 2, 4, 6), 1.0)
    assert below == pytest.approx(math.hypot(math.sqrt(99.0), 2 * 1.2533 * 1.4826 * 2 / 3), abs=0.01)
    # one reading is its own interval; readings written without the noise part (older runs): as stated, with the
    # median's scatter
    assert phase([0.0], 8.0)[1] == 10.0
    assert phase([0.0] * 9, None)[1] == 10.0


def test_nir_lights_tilt_grows_from_the_nir_reference_in_the_fits_weights():
    # A part calibrated with an 852 nm reference: its level there is unknown, but every channel's response is tied
    # to Clear's there, so a peak in NIR light is told from channel ratios pinned at 852 nm. Clear's tilt (4 % per
    # 100 nm) and the NIR channel's (8 %) weigh an NIR line at 852 nm not at all, a line at 952 nm by 100 nm of it;
    # red light at 660 nm, pinned by the red references, by none (it was by 192 nm on the NIR channel).
    from rig.spectrum.grid_fit import Profile, model_of
    from rig.spectrum.model import ModelUncertainty
    from rig.spectrum.shapes import Noise, grids

    n = DEFAULT_CHIP.n_channels
    tilt = [0.0] * n
    tilt[CLEAR], tilt[NIR] = 0.04, 0.08
    origins = [660.0] * n
    origins[NIR] = 852.0
    zeros = (0.0,) * n
    model_u = ModelUncertainty(zeros, zeros, zeros, zeros, tilt_per_100nm=tuple(tilt), tilt_origin_nm=tuple(origins))
    plain = ModelUncertainty(zeros, zeros, zeros, zeros)
    (red, nir) = grids(TABLE, Calibration(TABLE).lines)

    def at(grid, peak_nm: float) -> int:  # the grid line nearest peak_nm at the grid's first width
        return int(np.argmin(np.abs(grid.peaks_nm - peak_nm) + 1e3 * (grid.fwhm_nm != grid.fwhm_nm[0])))

    def variance(grid, peak_nm: float) -> np.ndarray:
        """The tilt's variance per channel for a line of amplitude 1 there (total less the same without tilt)."""
        chi2 = np.ones((1, len(grid.peaks_nm)))
        chi2[0, at(grid, peak_nm)] = 0.0
        profile = Profile(grid=grid, chi2=chi2, amplitude=np.ones_like(chi2), total=np.ones_like(chi2))
        parts = model_of([grid], {0: profile})
        return (1.0 / Noise(np.ones(1), 0.0, model_u, np.ones(n)).weights(*parts)
                - 1.0 / Noise(np.ones(1), 0.0, plain, np.ones(n)).weights(*parts))[0]

    assert np.allclose(variance(nir, 852.0), 0.0, atol=1e-12)
    assert np.allclose(variance(red, 660.0), 0.0, atol=1e-12)
    far, response = variance(nir, 952.0), nir.responses[at(nir, 952.0)]
    assert far[CLEAR] == pytest.approx((0.04 * response[CLEAR]) ** 2, rel=0.05)
    assert far[NIR] == pytest.approx((0.08 * response[NIR]) ** 2, rel=0.05)


def test_a_red_line_beyond_the_red_references_takes_the_filters_width_spread():
    # The calibration fits each filter's centre and gain from references at 631 and 658.5 nm, not its width: a
    # part whose F7 is 5 % wider than the table's (the production spread's sd) has its blue flank 5 % of the
    # distance further out than a centre fitted on its red flank says. Red LEDs at 600 and 690 nm (30 nm beyond
    # the span) on eight calibrated production units, four readings each at 5 and 30 mW/cm2: the stated interval
    # holds the true peak in at least 95 % of them (without the term: 600 nm 78 %, 690 nm 82 % on 24 units),
    # and a line inside the span takes nothing from it.
    inside, total, widened = 0, 0, []
    for k in range(8):
        unit = SensorUnit.draw(f"as7341-beyond-{k}", 60 + k)
        fit = fit_spectral(references(unit), TABLE, T, DARK)
        calibration = spectral_calibration(Calibration(TABLE, transmission=T, dark_counts=DARK), fit)
        assert calibration.beyond_references_u_nm("red", 645.0) == 0.0
        widened.append(calibration.beyond_references_u_nm("red", 601.0))
        for peak in (600.0, 690.0):
            for level in (5.0, 30.0):
                for r in readings(unit, [(peak, 20.0, level)], 4, seed=10 * k + int(peak + level)):
                    e = estimate(r.counts, r.gain_x, r.t_int_ms, calibration)
                    inside += e.red_peak_low_nm <= peak <= e.red_peak_high_nm
                    total += 1
    assert widened == [pytest.approx(2 * 0.05 * 30.0)] * 8  # k=2 x width sd x 30 nm beyond 631 nm
    assert inside / total >= 0.95, f"{inside}/{total}"
