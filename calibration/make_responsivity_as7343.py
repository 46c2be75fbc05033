"""Generate responsivity_as7343.csv: the *typical* AS7343 channel responsivity rig's estimator uses.

Run: .venv/bin/python calibration/make_responsivity_as7343.py  (writes the CSV here and in rig/data/)

Source: the ams OSRAM datasheet DS001046 v6-00 (2023-Jun-07; the copy in SparkFun's AS7343 breakout
repository, docs/assets/component_documentation/AS7343_DS001046_6-00.pdf). No manufacturer filter templates
for the AS7343 are public that we could find, and the datasheet's responsivity plot (Fig. 11) is a figure, not
data; so the table is built from the datasheet's tables with a stated shape (every number is printed into the
CSV header):

1. Peak and FWHM per channel: DS001046 Fig. 7 "Optical Channel Summary" (typical; peak min/max = typ -/+ 10 nm),
   as declared in ``rig/chips/as7343.py`` (FILTERS, NIR_PEAK_FWHM_NM).
2. Shape of a filter channel (ASSUMPTION): a Gaussian of the typical peak and FWHM (real interference filters are
   asymmetric, with side lobes; the production spread's width and skew terms stand for that), plus
3. an out-of-band floor of 1 % of the channel's peak from 380 to 1000 nm (raised-cosine edges 20 nm wide): the
   AS7341's ams templates keep 1-8 % of their peak out of band, another digitisation of that datasheet a tenth of
   that; a simulated part spans 0.1x-3x this floor (the chip's production spread). Values < 1e-6 are set to 0.
4. VIS (clear, no filter; shape ASSUMED): the AS7341 typical table's Clear column (ams templates of an unfiltered
   photodiode of the same ams process: peak near 740 nm, half of it near 450 and 930 nm).
5. Height of each channel: its typical count in DS001046 Fig. 8/9 ("Irradiance responsivity", AGAIN 1024x,
   27.8 ms), whose test condition lists two LEDs bracketing the channel's peak, each "Ee = 155 mW/m2". Read here as
   the mean response to the two LEDs at 155 mW/m2 = 15.5 uW/cm2 (the alternative reading, both LEDs lit together
   at 155 mW/m2 each, halves every height: the absolute scale is uncertain by up to 2x - calibrate). Each LED is
   modelled as a Gaussian of FWHM 20 nm (ASSUMPTION: typical LEDs are 15-30 nm wide). 1024x is 16.9 x 64x
   (Fig. 10). VIS: Fig. 9 reads "2 VIS PDs" together; a data register holds one VIS photodiode in auto-SMUX,
   so VIS's height is half of that.

Units of the result: raw counts per (uW/cm2 of a narrow line at wavelength_nm) per ms at 64x gain, as the
AS7341 table: a line's counts = sum over nm of (irradiance per nm) x table x t_int_ms x gain ratio.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]  # the shared writer beside this file; rig from a checkout

from typical_table import gaussian, generate  # noqa: E402

from rig.chips.as7343 import CHANNELS, CHIP, FILTERS, NIR_PEAK_FWHM_NM  # noqa: E402

AS7341_TABLE = HERE.parent / "rig" / "data" / "responsivity.csv"
WAVELENGTHS_NM = np.arange(300.0, 1101.0, 1.0)
# DS001046 Fig. 8 (filters) and Fig. 9 (VIS): typical counts (min, typ, max) and the two test LEDs' peaks, nm
FIG8 = {"F1": ((4311, 5749, 7760), (396, 408)), "F2": ((1317, 1756, 2371), (408, 448)),
        "FZ": ((1627, 2169, 2711), (428, 480)), "F3": ((577, 770, 962), (448, 500)),
        "F4": ((2356, 3141, 3926), (500, 534)), "FY": ((2810, 3747, 4684), (534, 593)),
        "F5": ((1180, 1574, 1967), (531, 594)), "FXL": ((3582, 4776, 5970), (593, 628)),
        "F6": ((2502, 3336, 4170), (618, 665)), "F7": ((4095, 5435, 6774), (685, 715)),
        "F8": ((648, 864, 1166), (715, 766)), "NIR": ((7936, 10581, 13226), (849, 903)),
        "VIS": ((749, 999, 1248), (396, 766))}
TEST_UW_CM2, TEST_T_MS, TEST_GAIN_RATIO, TEST_LED_FWHM_NM = 15.5, 27.8, 16.9, 20.0
VIS_PHOTODIODES_IN_TEST = 2
FLOOR_REL, FLOOR_BAND_NM, FLOOR_EDGE_NM = CHIP.spread.table_floor_rel, CHIP.spread.table_floor_band_nm, 20.0


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


def test_counts(column: np.ndarray, leds_nm: tuple[float, float]) -> float:
    """Counts of ``column`` (table units) in the Fig. 8 test: the mean over its two LEDs at 15.5 uW/cm2 each."""
    counts = []
    for peak_nm in leds_nm:
        led = gaussian(WAVELENGTHS_NM, peak_nm, TEST_LED_FWHM_NM)
        counts.append(TEST_UW_CM2 * led / led.sum() @ column * TEST_T_MS * TEST_GAIN_RATIO)
    return float(np.mean(counts))


def build() -> tuple[np.ndarray, np.ndarray, list[str]]:
    wl = WAVELENGTHS_NM
    passbands = {name: (peak, fwhm) for name, peak, fwhm in FILTERS} | {"NIR": NIR_PEAK_FWHM_NM}
    band = floor_band(wl)
    shapes = {name: gaussian(wl, peak, fwhm) + FLOOR_REL * band for name, (peak, fwhm) in passbands.items()}
    clear = as7341_column("Clear")
    shapes["VIS"] = clear / clear.max()
    heights = {}
    for name, shape in shapes.items():
        (_, typical, _), leds = FIG8[name]
        photodiodes = VIS_PHOTODIODES_IN_TEST if name == "VIS" else 1
        heights[name] = typical / photodiodes / test_counts(shape, leds)
    matrix = np.column_stack([shapes[name] * heights[name] for name in CHANNELS])
    matrix[matrix < 1e-6] = 0.0  # Gaussian tails far below any count

    def at(name: str, nm: float) -> float:
        return float(matrix[int(nm - wl[0]), CHANNELS.index(name)])

    check = {n: test_counts(matrix[:, i], FIG8[n][1]) * (2 if n == "VIS" else 1) / FIG8[n][0][1]
             for i, n in enumerate(CHANNELS)}
    limits = ", ".join(f"{n} {lo / typ - 1:+.0%}/{hi / typ - 1:+.0%}" for n, ((lo, typ, hi), _) in FIG8.items())
    share = {nm: at("F8", nm) / (at("F7", nm) + at("F8", nm)) for nm in (690, 720, 730, 745)}
    notes = [
        "source: ams OSRAM DS001046 v6-00 (AS7343): Fig. 7 channel peaks and FWHM, Fig. 8/9 typical irradiance "
        "responsivity (AGAIN 1024x, 27.8 ms, two LEDs of 155 mW/m2 bracketing each peak), Fig. 10 gain ratio "
        "1024x/64x = 16.9; VIS shape from the AS7341 ams templates' Clear; no AS7343 templates exist publicly",
        "peaks/FWHM nm (Fig. 7): " + ", ".join(f"{n} {p:g}/{w:g}" for n, (p, w) in passbands.items()),
        "shape (assumption): filter = height x (Gaussian(peak, FWHM) + floor); floor = "
        f"{FLOOR_REL:g} x peak over {FLOOR_BAND_NM[0]:g}-{FLOOR_BAND_NM[1]:g} nm, {FLOOR_EDGE_NM:g} nm "
        "raised-cosine edges; values < 1e-6 set to 0 (AS7341 templates keep 1-8 % out of band, another "
        "digitisation ~0.1x that); VIS = AS7341 table's Clear column / its peak x height",
        "heights: each channel's Fig. 8/9 typical count = the mean response to its two test LEDs (Gaussian, FWHM "
        f"{TEST_LED_FWHM_NM:g} nm, assumption) at {TEST_UW_CM2:g} uW/cm2, {TEST_T_MS:g} ms, gain ratio "
        f"{TEST_GAIN_RATIO:g}; VIS: half the 2-photodiode count (one photodiode per data register); reading "
        "both LEDs as lit together would halve every height (absolute scale uncertain up to 2x: calibrate)",
        "Fig. 8/9 typical counts: " + ", ".join(f"{n} {FIG8[n][0][1]} @ {FIG8[n][1][0]}+{FIG8[n][1][1]} nm"
                                                 for n in CHANNELS),
        f"Fig. 8/9 production limits vs typical (the sensitivity spread): {limits}",
        "channel peaks: " + ", ".join(f"{n} {matrix[:, i].max():.4g}" for i, n in enumerate(CHANNELS)),
        "checks: table / Fig. 8 count " + ", ".join(f"{n} {v:.3f}" for n, v in check.items())
        + "; F8/(F7+F8) " + ", ".join(f"{nm} nm {v:.3f}" for nm, v in share.items())
        + f"; NIR/VIS at 850 nm {at('NIR', 850) / at('VIS', 850):.2f}, at 810 nm {at('NIR', 810) / at('VIS', 810):.2f}",
    ]
    return wl, matrix, notes


if __name__ == "__main__":
    generate(CHIP, Path(__file__).name, build)
