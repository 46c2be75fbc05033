"""From one reading of a spectral chip's channels (AS7341: 10, AS7343: 13) to peak wavelengths and irradiance,
with uncertainty; the chip is the table's (:attr:`Responsivity.chip <rig.spectrum.responsivity.Responsivity>`).

A dozen broad channels are not a spectrometer, so rig fits a *model* through the
channel responsivity table (``calibration/responsivity.csv``: the manufacturer's
typical curves, corrected per sensor by a spectral calibration when there is
one): a list of *lines* (:data:`DEFAULT_LINES`: one red line searched in
590-720 nm, one NIR line in 760-960 nm), each a Gaussian of unknown peak,
width and irradiance.

The table is the *typical* part; the sensor in the jig is one unit of a
production spread (filter centres +/-10 nm, sensitivities unspecified, shapes
and out-of-band response that differ). So every channel carries a documented
**model uncertainty** (:class:`ModelUncertainty`, standard, per channel) on top of the
counting noise, with three terms evaluated at the current model:

- relative: ``rel_c x model_c`` (channel sensitivity);
- filter shift: ``shift_nm_c x |d model_c / d lambda|`` (the filter's centre is not where the table says);
- out-of-band: ``oob_c x max(table_c) x total line irradiance`` (a response where the table predicts
  about 0, e.g. F1-F6 under red light).

Method, per reading (numpy):

1. Refuse a saturated reading (the single flag ``saturated``, no values).
2. Subtract dark counts, convert to basic counts (raw / (gain ratio vs 64x x t_int ms)). Noise per channel,
   in raw counts: shot (expected counts), read noise 1, the dark baseline's 1, quantisation. Weights =
   1 / (noise + model uncertainty), evaluated at the best model of the previous pass (three passes).
3. Grid search: for every (peak, FWHM) of a line's grid, the irradiances of all lines are a non-negative
   weighted linear least-squares problem (solved exactly, all supports); each line is profiled over its
   grid with the others held at their best shape.
4. Presence, by the significance of the line's own signal: a line is present when its irradiance is at
   least ``DETECT_Z`` standard deviations above zero in the joint fit (model uncertainty included, never
   scaled by the goodness of fit) and carries at least 2 % of the total. A reading clearly above dark
   always keeps its most significant line, so it never reads zero. A line that is not present is *absent*
   only when its k=2 upper limit is below ``ABSENT_MW_CM2`` or ``ABSENT_SHARE`` of the light; otherwise (the
   default red + NIR lines) it is *undetermined* (flag ``<name>_undetermined``, no peak). Either way it reads 0
   with its k=2 upper limit as U; an undetermined NIR line's limit is the largest over its reach (its nominal
   peak, 830 and 810 nm: a red line soaks up an 810-830 nm line's light through Clear). When a present line is
   refined to beyond
   ``FAR_RED_NM`` (F8's tail, Clear and NIR see it there, as they see NIR light: a 685 nm LED plus an 820 nm
   line reads like one 705 nm line) the upper limit is also taken from the fit with every line free, which
   carries that trade-off; the linearised limit at the far-red fit does not.
5. Refinement: a bounded Levenberg-Marquardt least squares (:mod:`rig.spectrum.refine`) over the present
   lines' (irradiance, peak, FWHM), from the grid's best point.

Every stage runs on a batch of readings at once (:func:`estimate_many`, numpy over a leading row axis), so a
table of readings (``rig analyze``) costs a fraction of one estimate per row; :func:`estimate` is the same
code for one reading. Modules: :mod:`~rig.spectrum.model` (lines, calibration, result),
:mod:`~rig.spectrum.shapes` (line responses, weights), :mod:`~rig.spectrum.grid_fit` (grid stage),
:mod:`~rig.spectrum.refine`, :mod:`~rig.spectrum.estimator` (batches, presence), :mod:`~rig.spectrum.final_fit`
(the present lines' refined fit, upper limits), :mod:`~rig.spectrum.stated` (each row's values and k=2 U),
:mod:`~rig.spectrum.table` (counts tables).

Uncertainties are *expanded*, k = 2, in the units of the value:

- peak: the profile-likelihood interval (grid peaks whose best fit over width and irradiances is within
  ``4 s^2`` of the minimum; ``s^2`` the reduced chi-square when above 1, so a poor fit widens it): each side's
  distance from the reported peak to its edge, combined in quadrature with the calibration's
  peak floor (uncalibrated: the common-mode accuracy of the typical table; calibrated: the reference
  peaks' uncertainty through the fit). Because the model uncertainty includes each filter's centre
  tolerance, the interval of an uncalibrated sensor covers its filter offsets. The NIR line always carries
  ``nir_unresolved`` (only NIR and Clear see it); two islands give the hull's middle and half width. The
  interval's ends are ``<band>_peak_low_nm`` / ``_high_nm`` (a profile skewed to one side, as near F8's top,
  keeps its short side; peak claims are judged on them), ``_peak_u_nm`` its longer side.
- irradiance: the larger of 2x the standard error (scaled by s) and the spread over the accepted
  (peak, width) set, with ``2 x scale_u_rel`` of the value (the calibration's scale) in quadrature.
  A line not seen (absent or undetermined) reads 0 with its k=2 upper limit as uncertainty.

``fit_poor``: reduced chi-square above ``FIT_POOR_REDUCED_CHI2``, i.e. residuals well beyond the noise
and the stated model uncertainty. Irradiance is at the *wrap surface*: at the sensor x ``scale`` /
``transmission``.
"""

from rig.spectrum.estimator import estimate, estimate_many
from rig.spectrum.model import (
    ABSENT_MW_CM2,
    ABSENT_SHARE,
    DEFAULT_LINES,
    DETECT_Z,
    FAR_RED_NM,
    FIT_POOR_REDUCED_CHI2,
    MIN_SHARE,
    WEAK_SNR,
    Calibration,
    Estimate,
    K,
    LineSpec,
    ModelUncertainty,
)
from rig.spectrum.table import Readings, analyze_counts, estimate_table

__all__ = [
    "ABSENT_MW_CM2", "ABSENT_SHARE", "DEFAULT_LINES", "DETECT_Z", "FAR_RED_NM", "FIT_POOR_REDUCED_CHI2", "K",
    "MIN_SHARE", "WEAK_SNR", "Calibration", "Estimate", "LineSpec", "ModelUncertainty", "Readings", "analyze_counts",
    "estimate", "estimate_many", "estimate_table",
]
