"""What the spectral estimate looks for and returns: the lines, the model uncertainty, the calibration, the
:class:`Estimate`, and the constants of the method (see :mod:`rig.spectrum`)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import ClassVar

import numpy as np

from rig.chips import Role, SpectralChip
from rig.spectrum.responsivity import Responsivity, corrected, gain_ratio_u

K = 2.0  # coverage factor of every stated uncertainty
READ_NOISE_COUNTS = 1.0
DARK_NOISE_COUNTS = 1.0  # uncertainty of the subtracted dark baseline, raw counts
DETECT_Z = 3.0  # a line is present when its irradiance is this many standard deviations above 0
MIN_SHARE = 0.02  # ...and it carries at least 2 % of the total irradiance
ABSENT_MW_CM2 = 1.0  # an undetected line is absent when its k=2 upper limit is below this (at the wrap surface)...
ABSENT_SHARE = 0.20  # ...or below this share of the total; otherwise it is undetermined
FAR_RED_NM = 695.0  # a red line fitted beyond this is seen as NIR light is (F8 tail, Clear, NIR)
WEAK_SNR = 5.0  # no channel this many sigma above dark: nothing to fit ("too_weak")
RANK_RTOL = 1e-3  # singular values below this share of the largest: a parameter the channels do not constrain
TILT_ORIGIN_NM = 660.0  # a calibrated response is pinned here (the irradiance reference); its tilt grows from it
# (a channel whose passband a reference reaches, e.g. NIR at 850 nm, is pinned there: ModelUncertainty.tilt_origin_nm)
NIR_LIGHT_NM = 740.0  # lines from here on are NIR light (a NIR reference pins the channels' ratios in it)
FIT_POOR_REDUCED_CHI2 = 9.0  # residuals 3x the noise + model uncertainty: the line model does not describe it


@dataclass(frozen=True)
class LineSpec:
    """One emission line the estimator looks for: its search range and width grid."""

    name: str
    peaks_nm: tuple[float, float, float]  # first, last, step
    fwhm_nm: tuple[float, ...]
    fwhm_bounds_nm: tuple[float, float]
    fit_width: bool  # refine the width (False: held at the grid's best)
    nominal: tuple[float, float]  # (peak, FWHM) of the shape used for an absent line's upper limit
    resolved: bool = True  # False: the peak is poorly resolved by the channels (flag "<name>_unresolved")
    flag_unresolved: bool = True  # raise that flag (claimed lines: their interval says it, the flag means merged)
    shape_u_nm: float = 0.0  # k=2 peak term of the line's shape (a merged group's blend is not one LED line)

    @property
    def peak_grid_nm(self) -> np.ndarray:
        first, last, step = self.peaks_nm
        return np.arange(first, last + step / 2, step)


# NIR search range: wrap NIR LEDs sit at 780-950 nm; beyond 960 nm the NIR channel's response (symmetric about
# ~915 nm) would make every NIR peak ambiguous.
# Red widths: LEDs of 610-690 nm have FWHM 15-30 nm; a wider range lets a broad line at 700 nm trade against
# a 685 nm line plus NIR light.
DEFAULT_LINES = (
    LineSpec("red", (590.0, 720.0, 1.0), tuple(float(w) for w in range(16, 32, 2)), (15.0, 30.0), True,
             (660.0, 20.0)),
    LineSpec("nir", (760.0, 960.0, 2.0), (20.0, 30.0, 40.0, 50.0), (20.0, 50.0), False, (850.0, 30.0),
             resolved=False),
)


UNCALIBRATED_OOB_REL = 0.9  # of the table's out-of-band part where the spread's range scales a stated floor (AS7343)


def oob_prior(low: float, high: float) -> tuple[float, float]:
    """A part's out-of-band level, a factor on the table's out-of-band part known only to lie in ``low``-``high``
    (no scale preferred: log-uniform), as the fit's model takes it: its mean and its standard deviation relative to
    that mean (0.1x-3x: 0.853 and 0.90). A least-squares model centred on the template instead (1x: two thirds
    of parts lie below it) takes every part's leakage as 17 % above the parts' average."""
    log_span = math.log(high / low)
    mean = (high - low) / log_span
    second = (high**2 - low**2) / (2.0 * log_span)
    return mean, math.sqrt(second - mean**2) / mean


@dataclass(frozen=True)
class ModelUncertainty:
    """Standard uncertainty of the table as a model of *this* sensor, per channel in the chip's order (one value
    per channel of the table's chip; :meth:`of` gives a chip's uncalibrated one).

    Uncalibrated (a part anywhere in the chip's production spread, :meth:`of`): the chip's sensitivity spread
    (AS7341: 10 %, no datasheet limit), filter centre 3 nm (datasheet +/-10 nm as a 4-sigma production limit,
    plus the typical curves' own shape uncertainty), out-of-band response at ``oob_centre`` x the table's
    out-of-band part (:func:`~rig.spectrum.responsivity.out_of_band`) with u ``oob_rel`` of that: a part's leakage
    lies anywhere in the spread's 0.1x-3x the table's, whose mean and sd (:func:`oob_prior`) are 0.853x and 90 %
    of it (none on the broadband channel).
    ``oob``: the same as a share of the channel's peak, per unit of light, for callers that do not split the
    table into its parts (:mod:`rig.spectrum.line_plan`). ``rel_shift_corr`` and ``tilt_per_100nm`` left out
    (``()``) are zeros.
    """

    rel: tuple[float, ...]
    shift_nm: tuple[float, ...]
    oob: tuple[float, ...]
    oob_rel: tuple[float, ...]
    rel_shift_corr: tuple[float, ...] = ()  # correlation of a channel's sensitivity and centre errors (() zeros)
    tilt_per_100nm: tuple[float, ...] = ()  # relative u growing 1:1 with distance from the tilt origin (() zeros)
    tilt_origin_nm: tuple[float, ...] = ()  # per channel, where its response is pinned (): TILT_ORIGIN_NM for all
    oob_centre: tuple[float, ...] = ()  # per channel, the part's expected out-of-band level x the table's (() ones)
    # per channel, the out-of-band u in NIR light (lines from NIR_LIGHT_NM), where a calibration fitted the level's
    # slope between red and NIR light (``oob_rel`` is then red light's); () the same as ``oob_rel``
    oob_rel_nir: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        for name in ("rel_shift_corr", "tilt_per_100nm"):
            if not getattr(self, name):
                object.__setattr__(self, name, (0.0,) * len(self.rel))

    def oob_rel_by_light(self) -> tuple[np.ndarray, np.ndarray]:
        """Per channel, the out-of-band u in red light and in NIR light."""
        red = np.asarray(self.oob_rel, float)
        return red, np.asarray(self.oob_rel_nir, float) if self.oob_rel_nir else red

    def tilt_origins_nm(self) -> np.ndarray:
        """Per channel, the wavelength its tilt grows from: where a calibration pinned its response (the irradiance
        reference, TILT_ORIGIN_NM, unless a reference in the channel's own passband pinned it there)."""
        return np.asarray(self.tilt_origin_nm or (TILT_ORIGIN_NM,) * len(self.rel), float)

    @classmethod
    def of(cls, chip: SpectralChip) -> ModelUncertainty:
        """The uncalibrated model uncertainty of ``chip``'s typical table for a part from its production spread
        (:meth:`~rig.chips.SpectralChip.model_uncertainty`; out-of-band at the spread's mean level, its u the
        spread's sd: :func:`oob_prior`, or the table's with u 90 % where the spread scales a floor built into the
        table (AS7343); none on the broadband channel)."""
        rel, shift, oob = chip.model_uncertainty()
        broadband = chip.indices_of(Role.BROADBAND)
        centre, oob_u = oob_prior(*chip.spread.out_of_band_range)
        if chip.spread.table_floor_rel:  # the range scales the table's stated floor, not its out-of-band part
            centre, oob_u = 1.0, UNCALIBRATED_OOB_REL
        oob_rel = tuple(0.0 if c in broadband else oob_u for c in range(chip.n_channels))
        return cls(rel, shift, oob, oob_rel, oob_centre=() if centre == 1.0 else
                   tuple(1.0 if c in broadband else centre for c in range(chip.n_channels)))


@dataclass(frozen=True)
class Calibration:
    """How counts become irradiance at the wrap surface.

    ``responsivity`` is the table in use (typical, or corrected per sensor by a spectral calibration);
    ``model_u`` its model uncertainty for this sensor; ``peak_floor_nm`` the k=2 common-mode accuracy of
    each line's peak (name -> nm); ``scale`` multiplies the table's irradiance (set against a reference
    meter; 1.0 = datasheet nominal) and ``scale_u_rel`` is its *standard* relative uncertainty;
    ``transmission`` is the jig attenuator's; ``dark_counts`` raw counts per channel to subtract;
    ``scale_gains_x`` the gains the scale's readings were taken at (a reading at the same gain shares their gain
    ratio error: :func:`~rig.spectrum.responsivity.gain_ratio_u`), ``scale_lines_nm`` their reference peaks (the
    model terms a reading shares with them cancel: :mod:`rig.spectrum.referenced`).
    """

    responsivity: Responsivity
    transmission: float = 0.01
    scale: float = 1.0
    scale_u_rel: float = 0.02
    dark_counts: tuple[float, ...] = ()  # () = none (zeros, one per channel of the table's chip)
    id: str = "nominal-datasheet"
    calibrated: bool = False
    model_u: ModelUncertainty = None  # type: ignore[assignment]  # None: the chip's uncalibrated one

    peak_floor_nm: tuple[tuple[str, float], ...] = (("red", 3.0), ("nir", 10.0))
    spectral_calibrated: bool = False
    lines: tuple[LineSpec, ...] = DEFAULT_LINES
    scale_gains_x: tuple[float, ...] = ()  # gains of the irradiance readings the scale was fitted to (() unknown)
    scale_lines_nm: tuple[float, ...] = ()  # their reference peaks (() unknown: no model term cancels)
    # per gain code of the chip: this part's ratio vs 64x over the chip's typical one, measured (``rig calibrate
    # gains``; () all 1), and each factor's standard relative u (() the datasheet's for every code)
    gain_factors: tuple[float, ...] = ()
    gain_factors_u_rel: tuple[float, ...] = ()
    # the scale's slope with wavelength away from TILT_ORIGIN_NM, fitted from meter readings at two or more
    # wavelengths (already applied to ``responsivity``) and its standard u; u 0: not fitted (one wavelength)
    scale_tilt_per_100nm: float = 0.0
    scale_tilt_u_per_100nm: float = 0.0
    # the spectral references' stated peaks (nm): a red peak beyond their span takes the filters' width spread
    # (:meth:`beyond_references_u_nm`); () none (uncalibrated, or an irradiance-only calibration)
    reference_peaks_nm: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if not 0 < self.transmission <= 1:
            raise ValueError(f"transmission must be in (0, 1], got {self.transmission!r}")
        chip = self.responsivity.chip
        if not self.dark_counts:
            object.__setattr__(self, "dark_counts", (0.0,) * chip.n_channels)
        if self.model_u is None:
            object.__setattr__(self, "model_u", ModelUncertainty.of(chip))
        if len(self.dark_counts) != chip.n_channels:
            raise ValueError(f"dark_counts needs {chip.n_channels} values ({chip.name} channel order), "
                             f"got {len(self.dark_counts)}")
        for name in ("gain_factors", "gain_factors_u_rel"):
            if getattr(self, name) and len(getattr(self, name)) != len(chip.gain_codes_x):
                raise ValueError(f"{name} needs one value per {chip.name} gain code ({len(chip.gain_codes_x)})")
        if len(self.model_u.rel) != chip.n_channels:
            raise ValueError(f"model_u needs {chip.n_channels} values per term ({chip.name}), got "
                             f"{len(self.model_u.rel)}")

    @property
    def chip(self) -> SpectralChip:
        """The chip this calibration (its table) is for."""
        return self.responsivity.chip

    @property
    def table(self) -> Responsivity:
        """The table the estimate models this part with: ``responsivity`` with its out-of-band part at the part's
        expected level (``model_u.oob_centre``; the table itself when that is 1)."""
        centre = self.model_u.oob_centre
        if not centre or all(c == 1.0 for c in centre):
            return self.responsivity
        n = self.chip.n_channels
        return corrected(self.responsivity, (1.0,) * n, (0.0,) * n, tuple(centre))

    def gain_ratio(self, gain_x: float) -> float:
        """Raw counts at nominal ``gain_x`` per count at 64x for this part (the chip's ratio x the measured factor)."""
        typical = self.chip.gain_ratio(gain_x)
        return typical * self.gain_factors[self.chip.gain_code(gain_x)] if self.gain_factors else typical

    def gain_u_rel(self, gain_x: float) -> float:
        """Standard relative u of a reading at ``gain_x`` from the gain ratios (against the scale's readings when
        calibrated: :func:`~rig.spectrum.responsivity.gain_ratio_u`)."""
        measured = dict(zip(self.chip.gain_codes_x, self.gain_factors_u_rel, strict=True)) \
            if self.gain_factors_u_rel else None
        return gain_ratio_u(gain_x, self.calibrated, self.scale_gains_x, measured)

    def with_dark(self, dark_counts: Sequence[float]) -> Calibration:
        """The same calibration with this dark baseline (raw counts, the chip's channel order)."""
        return replace(self, dark_counts=tuple(float(d) for d in dark_counts))

    def floor_nm(self, line: str) -> float:
        return dict(self.peak_floor_nm).get(line, 0.0)

    def beyond_references_u_nm(self, band: str, peak_nm: float) -> float:
        """The k=2 peak u of a red line outside the span of the red references (0 inside it): the spectral
        calibration fits each filter's centre and gain, not its width, and a part's width is off by the production
        spread's ``width_rel`` (standard), which moves a flank's wavelength by that share of its distance from where
        a reference pinned it. (NIR lines carry the NIR channel's tilt from the NIR reference instead.)"""
        red = [p for p in self.reference_peaks_nm if p < NIR_LIGHT_NM]
        if band != "red" or not red:
            return 0.0
        beyond = max(min(red) - peak_nm, peak_nm - max(red), 0.0)
        return K * self.chip.spread.width_rel * beyond


# a claimed line's (or group's) sample columns: <name>_<suffix>
LINE_SUFFIXES = ("peak_nm", "peak_u_nm", "irradiance_mw_cm2", "irradiance_u_mw_cm2", "peak_low_nm", "peak_high_nm",
                 "peak_noise_u_nm")


@dataclass
class Estimate:
    """Peaks (nm) and irradiance at the wrap surface (mW/cm2), each with an expanded (k=2) uncertainty.

    Values are None when not measured (a refused saturated reading, an absent band's peak).
    ``residual_rel`` is the fit's RMS residual relative to the RMS signal (basic counts).
    """

    red_peak_nm: float | None = None
    red_peak_u_nm: float | None = None
    red_peak_low_nm: float | None = None  # the k=2 interval's ends: a profile skewed to one side keeps its short side
    red_peak_high_nm: float | None = None  # (``*_peak_u_nm`` is the longer side, a symmetric bound on both)
    nir_peak_nm: float | None = None
    nir_peak_u_nm: float | None = None
    nir_peak_low_nm: float | None = None
    nir_peak_high_nm: float | None = None
    # the k=2 part of a peak's interval from counting noise alone: it averages over a phase's readings, the rest
    # (the calibration's and the model's terms) is the same in every reading of a part
    red_peak_noise_u_nm: float | None = None
    nir_peak_noise_u_nm: float | None = None
    red_irradiance_mw_cm2: float | None = None
    red_irradiance_u_mw_cm2: float | None = None
    nir_irradiance_mw_cm2: float | None = None
    nir_irradiance_u_mw_cm2: float | None = None
    irradiance_mw_cm2: float | None = None
    irradiance_u_mw_cm2: float | None = None
    residual_rel: float | None = None
    flags: list[str] = field(default_factory=list)
    lines: dict[str, float | None] = field(default_factory=dict)  # claimed / group / unclaimed line columns

    KEYS: ClassVar[tuple[str, ...]] = (
        "red_peak_nm", "red_peak_u_nm", "nir_peak_nm", "nir_peak_u_nm", "red_irradiance_mw_cm2",
        "red_irradiance_u_mw_cm2", "nir_irradiance_mw_cm2", "nir_irradiance_u_mw_cm2", "irradiance_mw_cm2",
        "irradiance_u_mw_cm2", "red_peak_low_nm", "red_peak_high_nm", "nir_peak_low_nm", "nir_peak_high_nm",
        "red_peak_noise_u_nm", "nir_peak_noise_u_nm", "residual_rel")

    def as_dict(self, calibrated: bool = True) -> dict[str, object]:
        """Flat CSV row: the values above (rounded, None when absent) and ``flags`` joined with ';', with
        ``uncalibrated`` added when the estimate used an uncalibrated (datasheet-nominal) calibration."""
        row: dict[str, object] = {}
        for key in self.KEYS:
            value = getattr(self, key)
            row[key] = None if value is None else round(float(value), 4 if key != "residual_rel" else 5)
        for key, value in self.lines.items():
            row[key] = None if value is None else round(float(value), 4)
        row["flags"] = ";".join(self.flags if calibrated else [*self.flags, "uncalibrated"])
        return row


