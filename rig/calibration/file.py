"""Calibration files: how this sensor + jig turns counts into irradiance, with provenance.

A calibration file (TOML, written by ``rig calibrate``; see the README "Calibration file format") holds
an ``id``, the date, the sensor it was made for, the jig, and every reference's RAW readings
(``irradiance_readings``, ``spectral_readings``: counts, gain, integration time, the reference's value
and stated u, the date), plus what the last refit made of them all under the current model: the
irradiance ``scale`` with its uncertainty and per-reading ``points``, the dark counts, and optionally a
spectral calibration (``spectral_*``: per-channel gains and filter shifts, their model uncertainty, peak
floors, per-source results; see :mod:`rig.calibration.spectral`). Each ``rig calibrate`` step refits all
stored readings, so the order of the steps does not matter.

Every field declares its range where it is defined (:mod:`rig.calibration.rules`); :meth:`CalibrationFile.validate`
is the one validator, run by the reader and by the writer before anything is written. To add a field: add
it here with its rule (and, if it belongs to a group set together, to ``TOGETHER``).
Without a file, rig uses the datasheet-nominal calibration and marks irradiance "uncalibrated".
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from rig.calibration.rules import Rule, check, check_present, date, number, one_of, parse_date, ranged, text, values
from rig.calibration.toml_text import to_toml
from rig.chips import CHIPS, DEFAULT_CHIP, SpectralChip
from rig.config import build_dataclass, load_toml
from rig.errors import ConfigError, RigError
from rig.spectrum import Calibration, ModelUncertainty
from rig.spectrum.model import TILT_ORIGIN_NM
from rig.spectrum.responsivity import Responsivity, corrected, tilted

# ranges shared by several fields; per-channel lists, counts and gains are checked against the file's chip as well
# (CalibrationFile.validate: one value per channel of that chip, counts within its full scale, its gains)
COUNTS_MAX = max(chip.timing.counts_max for chip in CHIPS.values())
COUNTS = values(number(0, COUNTS_MAX, what="raw counts"))
ALL_GAINS = tuple(sorted({gain for chip in CHIPS.values() for gain in chip.gain_codes_x}))
GAIN = one_of(ALL_GAINS, what="a gain, one of")
T_INT_MS = number(0, 200_000, open_low=True, what="an integration time (ms)")
REFERENCE_MW_CM2 = number(0, 1000, open_low=True, what="a reference irradiance (mW/cm2)")
REFERENCE_NM = number(380, 1050, what="a wavelength (nm)")
RESIDUAL_REL = number(-10, 10, what="a relative residual")


def _floor_ok(value: Any) -> bool:
    return value == [] or (isinstance(value, list) and len(value) == 2 and all(
        isinstance(v, (int, float)) and math.isfinite(v) for v in value)
        and 0.5 <= value[0] <= 50.0 and 0.5 <= value[1] <= 100.0)


@dataclass
class ReferencePoint:
    """What the last refit made of one irradiance reading (or, ``legacy_points``, a point stored by an older rig
    without its raw reading): the reference, rig's nominal-scale measurement and the fit's residual."""

    reference_mw_cm2: float = ranged(REFERENCE_MW_CM2, 0.0)
    reference_nm: float = ranged(REFERENCE_NM, 0.0)
    measured_mw_cm2: float = ranged(number(0, 1e5, open_low=True, what="a measured irradiance (mW/cm2)"), 0.0)
    residual_rel: float = ranged(RESIDUAL_REL, 0.0)


@dataclass
class IrradianceReading:
    """One raw reading of an irradiance reference (kept so that every step refits them all)."""

    counts: list[float] = ranged(COUNTS, default_factory=list)
    gain_x: float = ranged(GAIN, 0.0)
    t_int_ms: float = ranged(T_INT_MS, 0.0)
    reference_mw_cm2: float = ranged(REFERENCE_MW_CM2, 0.0)
    reference_nm: float = ranged(REFERENCE_NM, 0.0)
    reference_u_rel: float = ranged(number(0, 0.5, open_low=True, what="the meter's standard u (fraction)"), 0.03)
    taken: str = ranged(date(), "")


@dataclass
class SpectralReference:
    """One reference source of a spectral calibration: what was stated, and what the fit made of it."""

    reference_peak_nm: float = ranged(REFERENCE_NM, 0.0)
    reference_u_nm: float = ranged(number(0.01, 20, what="a standard u (nm)"), 0.0)
    reference_fwhm_nm: float = ranged(number(1, 150, or_zero=True, what="a FWHM (nm)"), 0.0)  # 0 = not stated
    reference_mw_cm2: float = ranged(number(0, 1000, open_low=True, or_zero=True, what="mW/cm2"), 0.0)
    readings: int = ranged(Rule("a count >= 1", lambda v: isinstance(v, int) and v >= 1), 0)
    fitted_peak_nm: float = ranged(number(300, 1100, what="a wavelength (nm)"), 0.0)
    residual_rel: float = ranged(number(0, 10, what="an RMS relative residual"), 0.0)


@dataclass
class SpectralReadingRecord:
    """One raw reading of a spectral reference source (kept so that every step refits them all)."""

    counts: list[float] = ranged(COUNTS, default_factory=list)
    gain_x: float = ranged(GAIN, 0.0)
    t_int_ms: float = ranged(T_INT_MS, 0.0)
    reference_peak_nm: float = ranged(REFERENCE_NM, 0.0)
    reference_u_nm: float = ranged(number(0.01, 20, what="a standard u (nm)"), 1.0)
    reference_fwhm_nm: float = ranged(number(1, 150, or_zero=True, what="a FWHM (nm)"), 0.0)  # 0 = not stated
    reference_mw_cm2: float = ranged(number(0, 1000, open_low=True, or_zero=True, what="mW/cm2"), 0.0)
    taken: str = ranged(date(), "")  # '' = stored by an older rig


@dataclass
class GainReadingRecord:
    """One raw reading of a steady source in a gain series (``rig calibrate gains``: the same source at several
    gains; its series label groups them)."""

    counts: list[float] = ranged(COUNTS, default_factory=list)
    gain_x: float = ranged(GAIN, 0.0)
    t_int_ms: float = ranged(T_INT_MS, 0.0)
    series: str = ranged(text(required=True, what="a series label"), "")
    taken: str = ranged(date(), "")


SPECTRAL_FIELDS = ("spectral_gains", "spectral_shifts_nm", "spectral_u_rel", "spectral_u_shift_nm", "spectral_u_oob",
                   "spectral_peak_floor_nm")


@dataclass
class CalibrationFile:
    """The contents of a calibration TOML file (each field with its range)."""

    TOGETHER: ClassVar[tuple[tuple[str, ...], ...]] = (("dark_gain_x", "dark_t_int_ms"), SPECTRAL_FIELDS,
                                                       ("gain_factors", "gain_factors_u_rel"))
    # lists with one value per gain code of the file's chip (when set)
    PER_GAIN: ClassVar[tuple[str, ...]] = ("gain_factors", "gain_factors_u_rel")
    # lists with one value per channel of the file's chip (when set)
    PER_CHANNEL: ClassVar[tuple[str, ...]] = (
        "dark_counts", "spectral_gains", "spectral_shifts_nm", "spectral_u_rel", "spectral_u_shift_nm",
        "spectral_u_oob", "spectral_oob_factors", "spectral_u_oob_rel", "spectral_u_rel_shift_corr",
        "spectral_u_tilt_per_100nm", "spectral_u_tilt_origin_nm", "spectral_oob_tilts", "spectral_u_oob_rel_nir")

    id: str = ranged(text(required=True, what="a calibration id"), "")
    created: str = ranged(date(), "")  # '' = not stated (warned about); rig always writes it
    sensor_id: str = ranged(text(required=True, what="the sensor's label"), "")
    # the chip the calibration was made for (its channels, gains, table); files without it were made on the default
    chip: str = ranged(Rule("one of " + ", ".join(CHIPS), lambda v: v in CHIPS), DEFAULT_CHIP.name)
    jig: str = ranged(text(), "")
    method: str = ranged(text(), "")
    transmission: float = ranged(number(0, 1, open_low=True, what="a fraction"), 0.01)
    # the irradiance scale: refitted from irradiance_readings (+ legacy_points) at every step
    scale: float = ranged(number(0.01, 100, open_low=True, open_high=True, what="a factor"), 1.0)
    scale_u_rel: float = ranged(number(0, 1, open_high=True, what="a fraction"), 0.05)
    residuals_rel: list[float] = ranged(values(RESIDUAL_REL), default_factory=list)
    # the scale's slope with wavelength (per 100 nm from 660 nm) and its standard u: fitted when the irradiance
    # readings span 100 nm or more (meter readings at 660 and 850 nm), else 0 and 0
    scale_tilt_per_100nm: float = ranged(number(-0.5, 0.5, what="a relative slope per 100 nm"), 0.0)
    scale_tilt_u_per_100nm: float = ranged(number(0, 0.5, what="a relative u per 100 nm"), 0.0)
    points: list[ReferencePoint] = field(default_factory=list)  # one per irradiance reading (derived)
    legacy_points: list[ReferencePoint] = field(default_factory=list)  # stored without raw readings: kept as-is
    irradiance_readings: list[IrradianceReading] = field(default_factory=list)
    dark_counts: list[float] = ranged(COUNTS, default_factory=list)
    dark_gain_x: float = ranged(one_of(ALL_GAINS, or_zero=True, what="a gain, one of"), 0.0)
    dark_t_int_ms: float = ranged(number(0, 200_000, open_low=True, or_zero=True, what="ms"), 0.0)
    dark_created: str = ranged(date(), "")
    # the spectral calibration: refitted from spectral_readings at every step
    spectral_created: str = ranged(date(), "")
    spectral_method: str = ranged(text(), "")
    spectral_gains: list[float] = ranged(values(number(0.2, 5, open_low=True, open_high=True, what="a factor")),
                                         default_factory=list)
    spectral_shifts_nm: list[float] = ranged(values(number(-30, 30, what="a shift (nm)")),
                                             default_factory=list)
    spectral_u_rel: list[float] = ranged(values(number(0.01, 2, what="a relative u")),
                                         default_factory=list)
    spectral_u_shift_nm: list[float] = ranged(values(number(0, 30, what="a u (nm)")),
                                              default_factory=list)
    spectral_u_oob: list[float] = ranged(values(number(0, 1, what="a fraction of the peak")),
                                         default_factory=list)
    # out-of-band level x the table's (empty: 1), its relative u (empty: the uncalibrated default), the gain/shift
    # error correlation (empty: 0) and the response tilt's u away from 660 nm (empty: 0)
    spectral_oob_factors: list[float] = ranged(values(number(0.01, 30, what="a factor")),
                                               default_factory=list)
    spectral_u_oob_rel: list[float] = ranged(values(number(0, 10, what="a relative u")),
                                             default_factory=list)
    # the out-of-band level's slope between red and NIR light (log, per 200 nm from 750 nm; empty: 0) and the level's
    # relative u in NIR light (empty: as spectral_u_oob_rel, which is then red light's)
    spectral_oob_tilts: list[float] = ranged(values(number(-5, 5, what="a log slope per 200 nm")),
                                             default_factory=list)
    spectral_u_oob_rel_nir: list[float] = ranged(values(number(0, 10, what="a relative u")),
                                                 default_factory=list)
    spectral_u_rel_shift_corr: list[float] = ranged(values(number(-1, 1, what="a correlation")), default_factory=list)
    spectral_u_tilt_per_100nm: list[float] = ranged(values(number(0, 1, what="a relative u per 100 nm")),
                                                    default_factory=list)
    # where each channel's tilt grows from (empty: 660 nm, the irradiance reference)
    spectral_u_tilt_origin_nm: list[float] = ranged(values(number(380, 1100, what="a wavelength (nm)")),
                                                    default_factory=list)
    spectral_peak_floor_nm: list[float] = ranged(  # k=2, [red, nir]
        Rule("2 values [red, nir]: red in [0.5, 50] nm, NIR in [0.5, 100] nm", _floor_ok), default_factory=list)
    spectral_references: list[SpectralReference] = field(default_factory=list)  # per source (derived)
    spectral_readings: list[SpectralReadingRecord] = field(default_factory=list)
    # the gain ratios (rig.calibration.gains): refitted from gain_readings and every reference's readings at each step;
    # per gain code of the chip, this part's ratio vs 64x over the typical one and its standard u (empty: typical)
    gain_readings: list[GainReadingRecord] = field(default_factory=list)
    gain_factors: list[float] = ranged(values(number(0.5, 2, open_low=True, open_high=True, what="a factor")),
                                       default_factory=list)
    gain_factors_u_rel: list[float] = ranged(values(number(0, 0.5, what="a relative u (standard)")),
                                             default_factory=list)
    # rig calibrate positions (rig.calibration.positions): each position's factor onto position 0's scale, its u
    position_names: list[str] = ranged(values(text(required=True, what="a position name")), default_factory=list)
    position_scales: list[float] = ranged(values(number(0.2, 5, open_low=True, open_high=True, what="a factor")),
                                          default_factory=list)
    position_scales_u_rel: list[float] = ranged(values(number(0, 1, open_high=True, what="a relative u (standard)")),
                                                default_factory=list)
    source: str = ""

    def validate(self) -> CalibrationFile:
        """The one validator (reader and writer): every field in its range; groups set together."""
        check(self, self.source)
        self._check_chip()
        if not len(self.position_names) == len(self.position_scales) == len(self.position_scales_u_rel):
            raise ConfigError(self.source, "position_scales", f"{len(self.position_names)} values (one per position "
                              "in position_names, and as many position_scales_u_rel)", len(self.position_scales))
        return self

    @property
    def spectral_chip(self) -> SpectralChip:
        """The chip this calibration was made for."""
        return CHIPS[self.chip]

    def _check_chip(self) -> None:
        """Per-channel lists, raw counts and gains against the file's chip (ConfigError naming the key)."""
        chip = self.spectral_chip
        n, top = chip.n_channels, chip.timing.counts_max
        per_channel = f"{n} values, one per {chip.name} channel ({', '.join(chip.channels)})"
        for name in self.PER_CHANNEL:
            value = getattr(self, name)
            if value and len(value) != n:
                raise ConfigError(self.source, name, per_channel, f"{len(value)} values")
        for name in self.PER_GAIN:
            value = getattr(self, name)
            if value and len(value) != len(chip.gain_codes_x):
                raise ConfigError(self.source, name, f"{len(chip.gain_codes_x)} values, one per {chip.name} gain ("
                                  + ", ".join(f"{g:g}x" for g in chip.gain_codes_x) + ")", f"{len(value)} values")
        gains = f"one of the {chip.name}'s gains {', '.join(f'{g:g}' for g in chip.gain_codes_x)}"
        if self.dark_gain_x and self.dark_gain_x not in chip.gain_codes_x:
            raise ConfigError(self.source, "dark_gain_x", gains, self.dark_gain_x)
        if any(c > top for c in self.dark_counts):
            raise ConfigError(self.source, "dark_counts", f"raw counts in [0, {top}] ({chip.name})", self.dark_counts)
        for kind, readings in (("irradiance_readings", self.irradiance_readings),
                               ("spectral_readings", self.spectral_readings), ("gain_readings", self.gain_readings)):
            for index, reading in enumerate(readings):
                key = f"{kind}[{index}]"
                if len(reading.counts) != n:
                    raise ConfigError(self.source, f"{key}.counts", per_channel, f"{len(reading.counts)} values")
                if any(c > top for c in reading.counts):
                    raise ConfigError(self.source, f"{key}.counts", f"raw counts in [0, {top}] ({chip.name})",
                                      reading.counts)
                if reading.gain_x not in chip.gain_codes_x:
                    raise ConfigError(self.source, f"{key}.gain_x", gains, reading.gain_x)

    def check_chip(self, chip: SpectralChip) -> None:
        """A RigError naming both chips unless this calibration was made for ``chip``."""
        if self.chip != chip.name:
            where = f"{self.source}: " if self.source else ""
            raise RigError(f"{where}calibration {self.id!r} was made for an {self.chip.upper()}, this bench has an "
                           f"{chip.name.upper()} (its channels differ: recalibrate on this bench)")

    @property
    def has_spectral(self) -> bool:
        return bool(self.spectral_gains)

    def calibration(self) -> Calibration:
        chip = self.spectral_chip
        dark = tuple(self.dark_counts) if self.dark_counts else (0.0,) * chip.n_channels
        base = Calibration(Responsivity.load(chip=chip), transmission=self.transmission, scale=self.scale,
                           scale_u_rel=self.scale_u_rel, dark_counts=dark, id=self.id, calibrated=True,
                           gain_factors=tuple(self.gain_factors), gain_factors_u_rel=tuple(self.gain_factors_u_rel),
                           **({} if self.legacy_points else _scale_readings(self.irradiance_readings)))
        if self.scale_tilt_u_per_100nm > 0:
            base = replace(base, scale_tilt_per_100nm=self.scale_tilt_per_100nm,
                           scale_tilt_u_per_100nm=self.scale_tilt_u_per_100nm)
        if not self.has_spectral:
            return _tilted(base)
        return _tilted(replace(base, responsivity=corrected(base.responsivity, tuple(self.spectral_gains),
                                                    tuple(self.spectral_shifts_nm),
                                                    tuple(self.spectral_oob_factors) or None,
                                                    tuple(self.spectral_oob_tilts) or None),
                       model_u=ModelUncertainty(tuple(self.spectral_u_rel), tuple(self.spectral_u_shift_nm),
                                                tuple(self.spectral_u_oob),
                                                tuple(self.spectral_u_oob_rel) or ModelUncertainty.of(chip).oob_rel,
                                                tuple(self.spectral_u_rel_shift_corr) or (0.0,) * chip.n_channels,
                                                tuple(self.spectral_u_tilt_per_100nm) or (0.0,) * chip.n_channels,
                                                tuple(self.spectral_u_tilt_origin_nm),
                                                oob_rel_nir=tuple(self.spectral_u_oob_rel_nir)),
                       peak_floor_nm=(("red", self.spectral_peak_floor_nm[0]), ("nir", self.spectral_peak_floor_nm[1])),
                       spectral_calibrated=True,
                       reference_peaks_nm=tuple(r.reference_peak_nm for r in self.spectral_references)))

    def age_days(self, now: datetime | None = None) -> float | None:
        created = parse_date(self.created)
        if created is None:
            return None
        return ((now or datetime.now(UTC)) - created).total_seconds() / 86400.0

    def date_warnings(self, now: datetime | None = None) -> list[str]:
        """Dates in the future (a wrong clock when the file was made, or an edited file)."""
        now = now or datetime.now(UTC)
        dated = [("created", self.created), ("dark_created", self.dark_created),
                 ("spectral_created", self.spectral_created)]
        dated += [(f"irradiance_readings[{i}].taken", r.taken) for i, r in enumerate(self.irradiance_readings)]
        dated += [(f"spectral_readings[{i}].taken", r.taken) for i, r in enumerate(self.spectral_readings)]
        dated += [(f"gain_readings[{i}].taken", r.taken) for i, r in enumerate(self.gain_readings)]
        future = [key for key, value in dated if (when := parse_date(value)) is not None
                  and (when - now).total_seconds() > 3600]
        out = [] if self.created else [f"calibration {self.id!r} has no 'created' date: its age cannot be checked"]
        if future:
            out.append(f"calibration {self.id!r}: {', '.join(future[:3])}{' ...' if len(future) > 3 else ''} "
                       f"dated in the future (check the clock of the machine that made it)")
        return out


def new_id(sensor_id: str, when: datetime | None = None) -> str:
    return f"{sensor_id}-{(when or datetime.now(UTC)).strftime('%Y%m%d-%H%M%S')}"


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def load_calibration(path: str | Path) -> CalibrationFile:
    """Read and check a calibration file (the keys it must have, then every value's range)."""
    data = load_toml(path)
    check_present(CalibrationFile, data, str(path))
    loaded = build_dataclass(CalibrationFile, data, str(path))
    loaded.source = str(path)
    return loaded.validate()


def save_calibration(calibration: CalibrationFile, path: str | Path) -> Path:
    """Check with the reader's validator, then write atomically; a value the reader would refuse is not written
    (RigError naming it: the file keeps its previous contents)."""
    from rig.results.writer import write_text_atomic

    path = Path(path)
    try:
        replace(calibration, source=str(path)).validate()
    except ConfigError as error:
        kept = "not changed (it keeps its previous contents)" if path.exists() else "not written"
        got = f" = {error.got!r}" if error.got is not None else ""
        raise RigError(f"{path}: {kept}: the result would have '{error.key}'{got}, outside its range (expected "
                       f"{error.expected})") from None
    data = asdict(calibration)
    data.pop("source")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path, to_toml(data))  # the points gathered so far are never left half-written
    except OSError as error:
        raise RigError(f"cannot write {path}: {error.strerror or error}") from None
    return path


def _tilted(calibration: Calibration) -> Calibration:
    """``calibration`` with its table tilted by the scale's fitted slope with wavelength (none: as it is)."""
    if not calibration.scale_tilt_per_100nm:
        return calibration
    return replace(calibration, responsivity=tilted(calibration.responsivity, calibration.scale_tilt_per_100nm,
                                                    TILT_ORIGIN_NM))


def _scale_readings(readings: list[IrradianceReading]) -> dict[str, tuple[float, ...]]:
    """What the estimate needs of the scale's own readings: their gains and reference peaks."""
    return {"scale_gains_x": tuple(r.gain_x for r in readings),
            "scale_lines_nm": tuple(r.reference_nm for r in readings)}


def spectral_calibration(base: Calibration, fit) -> Calibration:
    """``base`` with a spectral fit (:class:`rig.calibration.spectral.SpectralFit`) applied."""
    return replace(base, responsivity=corrected(base.responsivity, tuple(fit.gains), tuple(fit.shifts_nm),
                                                tuple(fit.oob_factors), tuple(fit.oob_tilts) or None),
                   model_u=fit.model_u, peak_floor_nm=tuple(fit.peak_floor_nm.items()), spectral_calibrated=True,
                   reference_peaks_nm=tuple(float(source[0]) for source in fit.sources))
