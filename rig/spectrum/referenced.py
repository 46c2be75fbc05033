"""The irradiance model term of a calibrated reading, taken *relative to the scale's reference*.

A calibrated scale was fitted through the same table and line model as every later reading: a channel's response
error (its sensitivity, centre, out-of-band level, tilt: the four terms of
:meth:`rig.spectrum.shapes.Noise.weights`) moved the reference reading's fitted irradiance as it moves a reading's,
and the scale took that move out. What is left for a reading is the *difference* of the two moves: near zero for
light like the reference's, growing with the distance from it. Each channel's four errors are one draw per part
(standard u from the calibration's ``model_u``, sensitivity and centre correlated as it states), shared by the
reference reading and the later one.

For every refined amplitude: d value = sum_c P[k, c] d y_c, d y_c = the model's part on channel c x its error
(P the weighted least-squares solve of the reading); the scale moves it by value x the reference's own
relative move (with meter readings at two or more wavelengths and the scale's tilt fitted, the straight line
through the references' moves, taken at the line's peak; the tilt's own u adds value x u x distance / 100 nm).
Counting noise adds as P diag(noise) P^T.

The part's tilt from 660 nm (:func:`common_tilt_u`, one draw for the whole part) reaches each channel as the
calibration tied that channel to Clear: Clear at the line's own wavelength; a channel whose response a reference
of unknown level fitted relative to Clear, at that reference (the NIR channel at the NIR reference; every channel's
out-of-band part in NIR light there too: the NIR reference fits the leakage levels NIR light sees); any other
channel's in-band part at 660 nm. It moves an amplitude through the same solve, not all channels alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from rig.chips import Role
from rig.spectrum.model import NIR_LIGHT_NM, TILT_ORIGIN_NM, Calibration, ModelUncertainty
from rig.spectrum.responsivity import Responsivity, out_of_band
from rig.spectrum.shapes import line_shapes

REFERENCE_FWHM_NM = 20.0  # an irradiance reference LED's width (not stated in the calibration)


def _parts(responsivity: Responsivity, peaks_nm: np.ndarray, fwhm_nm: np.ndarray, amplitudes: np.ndarray,
           tilt_origins_nm: np.ndarray
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per row x channel for lines (rows x lines): the model, its in-band part, d/dlambda, out-of-band part,
    tilt (from each channel's origin) and move with the part's tilt (per 100 nm, each channel as the calibration tied
    it to Clear: the module docstring); and per line the responses, d/dpeak and d/dFWHM (rows x lines x channels)."""
    rows, lines = peaks_nm.shape
    leak = out_of_band(responsivity)
    flat_p, flat_f = peaks_nm.ravel(), fwhm_nm.ravel()
    response, d_peak, d_fwhm = (x.reshape(rows, lines, -1) for x in line_shapes(responsivity, flat_p, flat_f))
    oob = line_shapes(leak, flat_p, flat_f)[0].reshape(rows, lines, -1)
    a = amplitudes[:, :, None]
    tilt = response * (peaks_nm[:, :, None] - tilt_origins_nm) / 100.0
    at_line = np.broadcast_to((peaks_nm[:, :, None] - TILT_ORIGIN_NM) / 100.0, response.shape)
    pinned = np.broadcast_to((tilt_origins_nm - TILT_ORIGIN_NM) / 100.0, response.shape).copy()
    broadband = list(responsivity.chip.indices_of(Role.BROADBAND))
    pinned[:, :, broadband] = at_line[:, :, broadband]
    nir_light = np.broadcast_to(peaks_nm[:, :, None] >= NIR_LIGHT_NM, response.shape)
    leak_pinned = np.where(nir_light, (float(np.max(tilt_origins_nm)) - TILT_ORIGIN_NM) / 100.0, pinned)
    part = (response - oob) * pinned + oob * leak_pinned
    coeffs = np.stack([((response - oob) * a).sum(1), (d_peak * a).sum(1), (oob * a).sum(1), (tilt * a).sum(1),
                       (part * a).sum(1)])
    return coeffs, response, d_peak, d_fwhm, oob, tilt


def model_variance(model_u: ModelUncertainty, coeffs: np.ndarray) -> np.ndarray:
    """The model variance per channel (the four terms, as :meth:`Noise.weights` combines them)."""
    inband = np.asarray(model_u.rel) * coeffs[0]
    shifted = np.asarray(model_u.shift_nm) * coeffs[1]
    var = np.maximum(inband**2 + shifted**2 - 2.0 * np.asarray(model_u.rel_shift_corr) * inband * shifted, 0.0) \
        + (oob_u(model_u) * coeffs[2]) ** 2 + (np.asarray(model_u.tilt_per_100nm) * coeffs[3]) ** 2
    return var


def oob_u(model_u: ModelUncertainty) -> np.ndarray:
    """Per channel, the out-of-band level's relative u, the larger of red light's and NIR light's (an irradiance's
    move is taken per channel, not per line)."""
    return np.maximum(*model_u.oob_rel_by_light())


@lru_cache(maxsize=16)
def reference_move(calibration: Calibration) -> tuple[np.ndarray, np.ndarray] | None:
    """What the scale's fit takes out of a reading, per error type (5: the four of :func:`model_variance` and the
    part's tilt) x channel, per unit of each channel's error:
    ``(at, slope)``, the relative move of a line at ``TILT_ORIGIN_NM`` and its change per 100 nm away from it. One
    reference wavelength: the mean move of the scale's reference readings, no slope; readings at two or more
    wavelengths with the scale's tilt fitted (``scale_tilt_u_per_100nm`` > 0): the straight line through their moves
    (the scale and its tilt absorb a move linear in wavelength). None when the scale has no stated reference."""
    if not calibration.calibrated or not calibration.scale_lines_nm:
        return None
    moves = []
    for peak in calibration.scale_lines_nm:
        p = np.array([[float(peak)]])
        coeffs, response, d_peak, d_fwhm, _oob, _tilt = _parts(calibration.responsivity, p,
                                                              np.array([[REFERENCE_FWHM_NM]]), np.ones((1, 1)),
                                                              calibration.model_u.tilt_origins_nm())
        jac = np.stack([response[0, 0], d_peak[0, 0]] + ([d_fwhm[0, 0]] if peak < NIR_LIGHT_NM else []), axis=1)
        var = model_variance(calibration.model_u, coeffs)[0]
        w = 1.0 / (var + 1e-6 * float(np.max(response)) ** 2)  # noise-free: the model terms weight it
        solve = np.linalg.pinv(jac.T @ (w[:, None] * jac)) @ (jac.T * w)
        moves.append(solve[0][None, :] * coeffs[:, 0, :])  # 5 x channels (amplitude 1)
    stacked = np.asarray(moves)
    x = (np.asarray(calibration.scale_lines_nm, float) - TILT_ORIGIN_NM) / 100.0
    if calibration.scale_tilt_u_per_100nm > 0 and np.ptp(x) > 0:
        design = np.column_stack([np.ones_like(x), x])
        coef = np.linalg.lstsq(design, stacked.reshape(len(x), -1), rcond=None)[0]
        return coef[0].reshape(stacked.shape[1:]), coef[1].reshape(stacked.shape[1:])
    return stacked.mean(axis=0), np.zeros(stacked.shape[1:])


def amplitude_covariance(calibration: Calibration, solve: np.ndarray, noise_var: np.ndarray,
                         amplitude_index: Sequence[int], peaks_nm: np.ndarray, fwhm_nm: np.ndarray,
                         amplitudes: np.ndarray) -> np.ndarray | None:
    """Rows x lines x lines: the covariance (basic-count units) of the refined amplitudes from counting noise and
    the model terms relative to the scale's reference; None without a stated reference (the fit's own covariance
    stands). ``solve``: rows x parameters x channels (the weighted solve), ``noise_var`` rows x channels."""
    reference = reference_move(calibration)
    if reference is None or not len(amplitude_index):
        return None
    coeffs = _parts(calibration.responsivity, peaks_nm, fwhm_nm, amplitudes,
                    calibration.model_u.tilt_origins_nm())[0]  # 5 x rows x channels
    p_amp = solve[:, list(amplitude_index), :]  # rows x lines x channels
    cov = np.einsum("rkc,rc,rlc->rkl", p_amp, noise_var, p_amp)
    # d value_k per unit error (type t, channel c): its own move less the scale's (value x the reference's move at the
    # line's wavelength)
    at, slope = reference
    x = (peaks_nm - TILT_ORIGIN_NM) / 100.0  # rows x lines
    taken = at[:, None, None, :] + slope[:, None, None, :] * x[None, :, :, None]
    d = p_amp[None, :, :, :] * coeffs[:, :, None, :] - amplitudes[None, :, :, None] * taken
    u = calibration.model_u
    common, own_tilt = common_tilt_u(calibration), np.asarray(u.tilt_per_100nm, float)
    if common and not calibration.scale_tilt_u_per_100nm:  # the broadband channel's tilt is the common term now
        own_tilt = own_tilt.copy()
        own_tilt[list(calibration.chip.indices_of(Role.BROADBAND))] = 0.0
    scaled = d[:4] * np.stack([np.asarray(u.rel), np.asarray(u.shift_nm), oob_u(u),
                               own_tilt])[:, None, None, :]
    for t in (0, 2, 3):
        cov += np.einsum("rkc,rlc->rkl", scaled[t], scaled[t])
    rho = np.asarray(u.rel_shift_corr)
    # the sensitivity and centre errors are correlated as the weights state (var = a^2 + b^2 - 2 rho a b)
    cov += np.einsum("rkc,rlc->rkl", scaled[1], scaled[1])
    cov -= np.einsum("rkc,c,rlc->rkl", scaled[0], rho, scaled[1]) + np.einsum("rkc,c,rlc->rkl", scaled[1], rho,
                                                                               scaled[0])
    if calibration.scale_tilt_u_per_100nm:  # the fitted scale's slope: the whole reading, every line alike
        tilt = amplitudes * x * common
    else:  # the part's tilt: one draw, each channel moved as the calibration tied it to Clear (module docstring)
        tilt = d[4].sum(axis=2) * common
    return cov + tilt[:, :, None] * tilt[:, None, :]


def common_tilt_u(calibration: Calibration) -> float:
    """The standard u per 100 nm from TILT_ORIGIN_NM of the sensor's response as a whole (every channel together):
    the fitted scale tilt's own u when meter readings span two wavelengths; else, when a channel's tilt grows from a
    reference elsewhere (the NIR channel pinned at a NIR reference relative to the broadband channel, whose own
    level there no meter measured), the broadband channel's tilt u, now common to all; else 0 (each channel's own
    tilt, from TILT_ORIGIN_NM, carries it)."""
    if calibration.scale_tilt_u_per_100nm > 0:
        return calibration.scale_tilt_u_per_100nm
    u = calibration.model_u
    if not np.any(u.tilt_origins_nm() != TILT_ORIGIN_NM):
        return 0.0
    broadband = calibration.chip.indices_of(Role.BROADBAND)
    return max((float(u.tilt_per_100nm[c]) for c in broadband), default=0.0)
