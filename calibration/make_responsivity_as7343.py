"""Generate responsivity_as7343.csv: the *typical* AS7343 channel responsivity rig's estimator uses.

Run: .venv/bin/python calibration/make_responsivity_as7343.py  (writes the CSV here and in rig/data/)

No manufacturer templates for the AS7343 are public that we could find, so the table is built from the
datasheet's channel figures with a stated shape (every number below is printed into the CSV header):

1. Peaks: DS001046 typical peak wavelength per channel (min/typ/max = typ -/+ 10 nm), as declared in
   ``rig/chips/as7343.py`` (FILTERS, NIR_PEAK_FWHM_NM).
2. Widths: DS001046 typical FWHM per channel, as transcribed ("datasheet-based") in an ESPHome AS7343
   component (CHANNEL_NM_WIDTH: F1 30, F2 22, FZ 55, F3 30, F4 40, FY 100, F5 35, FXL 80, F6 50, F7 55,
   F8 60, NIR 54 nm); also in rig/chips/as7343.py.
3. Relative peak sensitivity per channel: the same component's CHANNEL_SENS (F1 0.194 ... F7 0.800 ...
   VIS 0.385). Its origin is not stated there: an ASSUMPTION, covered by the sensitivity spread and replaced
   by a per-device calibration.
4. Shape of a filter channel: a Gaussian of the channel's typical peak and FWHM (real interference filters are
   asymmetric, with side lobes; the production spread's width and skew terms stand for that), plus
5. an out-of-band floor of 1 % of the channel's peak from 380 to 1000 nm (raised-cosine edges 20 nm wide):
   the AS7341's ams templates keep 1-8 % of their peak out of band, another digitisation of the same datasheet
   a tenth of that; a simulated part spans 0.1x-3x this floor (rig/chips/as7343.py spread).
6. VIS (clear, no filter): the shape of the AS7341 typical table's Clear column (ams templates, an unfiltered
   photodiode of the same ams process; peak near 740 nm, half of it near 450 and 930 nm), scaled to VIS's
   relative sensitivity.
7. Absolute scale (ASSUMPTION: DS001046 gives no absolute responsivity per channel that we could use): one
   common factor, so that the AS7343's F7 (690 nm) peak equals the AS7341 table's F8 (680 nm) peak - the
   deep-red channel of the same ams filter-on-CMOS family behind the same 2.78 us / 16-bit front end.
   The uncalibrated irradiance of an AS7343 is therefore uncertain by that assumption; calibrate it.

Units of the result: raw counts per (uW/cm2 of a narrow line at wavelength_nm) per ms at 64x gain, as the
AS7341 table: a line's counts = sum over nm of (irradiance per nm) x table x t_int_ms x gain ratio.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # run from a checkout without installing

from rig.chips.as7343 import CHANNELS, CHIP, FILTERS, NIR_PEAK_FWHM_NM  # noqa: E402

AS7341_TABLE = HERE.parent / "rig" / "data" / "responsivity.csv"
WAVELENGTHS_NM = np.arange(300.0, 1101.0, 1.0)
RELATIVE_SENSITIVITY = {"F1": 0.19402, "F2": 0.26647, "FZ": 0.35741, "F3": 0.41753, "F4": 0.52235,
                        "FY": 0.59633, "F5": 0.56242, "FXL": 0.65645, "F6": 0.68882, "F7": 0.79980,
                        "F8": 0.70423, "NIR": 0.40366, "VIS": 0.38516}
FLOOR_REL, FLOOR_BAND_NM, FLOOR_EDGE_NM = CHIP.spread.table_floor_rel, CHIP.spread.table_floor_band_nm, 20.0
ANCHOR = ("F7", "F8")  # AS7343 channel whose peak is set equal to the AS7341 channel's peak


def gaussian(wl: np.ndarray, peak_nm: float, fwhm_nm: float) -> np.ndarray:
    return np.exp(-4 * np.log(2) * ((wl - peak_nm) / fwhm_nm) ** 2)


def floor_band(wl: np.ndarray) -> np.ndarray:
    """1 inside FLOOR_BAND_NM, raised-cosine edges of FLOOR_EDGE_NM outside it, 0 beyond."""
    low, high = FLOOR_BAND_NM
    distance = np.maximum(low - wl, wl - high).clip(0.0, None)
    return np.where(distance >= FLOOR_EDGE_NM, 0.0, 0.5 * (1 + np.cos(np.pi * distance / FLOOR_EDGE_NM)))


def as7341_column(name: str) -> np.ndarray:
    """A column of the AS7341 typical table on WAVELENGTHS_NM."""
    lines = AS7341_TABLE.read_text(encoding="utf-8").splitlines()
    row = next(i for i, line in enumerate(lines) if not line.startswith("#"))
    header = lines[row].split(",")
    data = np.loadtxt(AS7341_TABLE, delimiter=",", skiprows=row + 1)
    return np.interp(WAVELENGTHS_NM, data[:, 0], data[:, header.index(name)], left=0.0, right=0.0)


def build() -> tuple[np.ndarray, np.ndarray, list[str]]:
    wl = WAVELENGTHS_NM
    passbands = {name: (peak, fwhm) for name, peak, fwhm in FILTERS} | {"NIR": NIR_PEAK_FWHM_NM}
    band = floor_band(wl)
    columns = {}
    for name, (peak, fwhm) in passbands.items():
        columns[name] = RELATIVE_SENSITIVITY[name] * (gaussian(wl, peak, fwhm) + FLOOR_REL * band)
    clear = as7341_column("Clear")
    columns["VIS"] = RELATIVE_SENSITIVITY["VIS"] * clear / clear.max()
    anchor_peak = as7341_column(ANCHOR[1]).max()
    factor = anchor_peak / columns[ANCHOR[0]].max()
    matrix = np.column_stack([columns[name] * factor for name in CHANNELS])
    matrix[matrix < 1e-6] = 0.0  # Gaussian tails far below any count

    def at(name: str, nm: float) -> float:
        return float(matrix[int(nm - wl[0]), CHANNELS.index(name)])

    peaks = ", ".join(f"{n} {matrix[:, i].max():.3f}" for i, n in enumerate(CHANNELS))
    share = {nm: at("F8", nm) / (at("F7", nm) + at("F8", nm)) for nm in (690, 720, 730, 745)}
    notes = [
        "source: ams OSRAM DS001046 (AS7343) typical channel peaks and FWHM; relative peak sensitivity and FWHM "
        "as transcribed in an ESPHome AS7343 component (CHANNEL_SENS, CHANNEL_NM_WIDTH; origin of CHANNEL_SENS "
        "not stated: assumption); VIS shape from the AS7341 ams templates' Clear; no AS7343 templates used",
        "peaks/FWHM nm: " + ", ".join(f"{n} {p:g}/{w:g}" for n, (p, w) in passbands.items()),
        "relative sensitivity: " + ", ".join(f"{n} {RELATIVE_SENSITIVITY[n]:g}" for n in CHANNELS),
        "shape: filter = rel x (Gaussian(peak, FWHM) + floor); floor = "
        f"{FLOOR_REL:g} x peak over {FLOOR_BAND_NM[0]:g}-{FLOOR_BAND_NM[1]:g} nm with {FLOOR_EDGE_NM:g} nm "
        "raised-cosine edges; values < 1e-6 set to 0 (AS7341 templates keep 1-8 % out of band, another "
        "digitisation ~0.1x that)",
        f"VIS: AS7341 table's Clear column / its peak x {RELATIVE_SENSITIVITY['VIS']:g}",
        f"scale (assumption): common factor x{factor:.6g} so that AS7343 {ANCHOR[0]} peak = AS7341 {ANCHOR[1]} "
        f"peak {anchor_peak:.4g} (DS001046 gives no absolute responsivity we could use: calibrate)",
        f"channel peaks: {peaks}",
        "checks: F8/(F7+F8) " + ", ".join(f"{nm} nm {v:.3f}" for nm, v in share.items())
        + f"; NIR/VIS at 850 nm {at('NIR', 850) / at('VIS', 850):.3f}, at 810 nm {at('NIR', 810) / at('VIS', 810):.3f}",
    ]
    return wl, matrix, notes


def main() -> None:
    wl, matrix, notes = build()
    header = [
        "AS7343 typical channel responsivity for rig (generated by calibration/make_responsivity_as7343.py; "
        "do not edit)",
        "units: raw counts per (uW/cm2 of a narrow line at wavelength_nm) per ms of integration, at gain 64x",
        *notes,
    ]
    lines = [f"# {line}" for line in header]
    lines.append("wavelength_nm," + ",".join(CHANNELS))
    for w, row in zip(wl, matrix, strict=True):
        lines.append(f"{w:.0f}," + ",".join(f"{v:.6g}" for v in row))
    text = "\n".join(lines) + "\n"
    for target in (HERE / "responsivity_as7343.csv", HERE.parent / "rig" / "data" / "responsivity_as7343.csv"):
        target.write_text(text)
    print("\n".join(notes))


if __name__ == "__main__":
    main()
