"""Generate calibration/responsivity.csv: the *typical* AS7341 channel responsivity rig's estimator uses.

Run: .venv/bin/python calibration/make_responsivity.py  (writes the CSV here and in rig/data/)

Source: the manufacturer's filter templates (ams AS7341_Filter_Templates.xlsx, the data behind DS000504
Fig. 18/19; 300-1100 nm, 1 nm), as stored in gkaguirrelab/combiExperiments
``data/ASM7341_spectralSensitivity.mat`` (commit b692c20) and extracted to ``as7341_ams_templates.csv``
beside this file. These are the manufacturer's *measured* typical curves: asymmetric, with side lobes and
2-7 % out-of-band response, not Gaussians.

Scaling steps (every number is printed into the CSV header):

1. Clean: negative values -> 0; below 350 nm -> 0 (isolated spikes in F6 at 321-331 nm are extraction
   artefacts, and no LED in scope emits there).
2. One gain: the AS7341L datasheet (DS000718) characterises the F channels at 256x, Clear at 512x and NIR
   at 64x. Divide F1-F8 by the measured 256x/64x ratio 3.95 and Clear by the 512x/64x ratio 7.75
   (DS000504 gain table), so every column is "template units at 64x".
3. F1-F8 absolute scale: the datasheet's typical counts under a 2700 K white LED of 107.67 uW/cm2 at 64x and
   27.8 ms (F1 55, F2 110, F3 210, F4 390, F5 590, F6 840, F7 1350, F8 1070, Clear 1750). The datasheet
   does not give that LED's spectrum, so it is modelled as a phosphor-converted warm-white LED: a 450 nm
   pump (FWHM 20 nm) plus two phosphor bands (Gaussians), whose shape parameters are fitted together with
   ONE common factor for all eight F channels (least squares on log counts). One factor keeps the templates'
   relative channel sensitivities; the per-channel residuals (printed below, about +/-10 %, F1 -19 %) are a
   measure of how well "typical" is known and are why the estimator carries a model uncertainty.
4. Clear: its own factor, so the same LED spectrum gives the typical 1750 counts (its template units differ).
5. NIR: its own factor from the datasheet's 940 nm LED, 98 uW/cm2, 128x (ratio 2.0), 100 ms -> 5135 counts,
   the LED modelled as a Gaussian of FWHM 45 nm (a typical 940 nm IR LED).

Units of the result: raw counts per (uW/cm2 of a narrow line at wavelength_nm) per ms at 64x gain, so a
line's counts = sum over nm of (irradiance per nm) x table x t_int_ms x gain ratio.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from scipy.optimize import least_squares

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]  # the shared writer beside this file; rig from a checkout

from typical_table import gaussian, generate  # noqa: E402

from rig.chips.as7341 import CHANNELS, CHIP  # noqa: E402

SOURCE = HERE / "as7341_ams_templates.csv"
RATIO_256X, RATIO_512X, RATIO_128X = 3.95, 7.75, 2.0  # DS000504 measured gain ratios vs 64x
WHITE_UW_CM2, WHITE_T_MS = 107.67, 27.8
WHITE_COUNTS = np.array([55, 110, 210, 390, 590, 840, 1350, 1070, 1750], float)  # F1..F8, Clear at 64x
IR_UW_CM2, IR_T_MS, IR_PEAK_NM, IR_FWHM_NM, IR_COUNTS = 98.0, 100.0, 940.0, 45.0, 5135.0


def load_templates() -> tuple[np.ndarray, np.ndarray, str]:
    """Wavelengths, template matrix (10 columns, CHANNELS order) and the file's provenance line."""
    first = SOURCE.read_text(encoding="utf-8").splitlines()[0].lstrip("# ").strip()
    data = np.genfromtxt(SOURCE, delimiter=",", comments="#", skip_header=2)
    return data[:, 0], data[:, 1:], first


def white_led(wl: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Spectral irradiance (uW/cm2 per nm) of the modelled 2700 K LED at 107.67 uW/cm2."""
    pump, c1, f1, r2, c2, f2 = p
    s = pump * gaussian(wl, 450.0, 20.0) + gaussian(wl, c1, f1) + r2 * gaussian(wl, c2, f2)
    return s / s.sum() * WHITE_UW_CM2


def build() -> tuple[np.ndarray, np.ndarray, list[str]]:
    wl, raw, provenance = load_templates()
    m = np.clip(raw, 0.0, None)
    m[wl < 350] = 0.0
    m[:, :8] /= RATIO_256X
    m[:, 8] /= RATIO_512X

    def residual(p: np.ndarray) -> np.ndarray:
        r = np.log(WHITE_COUNTS[:8] / (white_led(wl, p) @ m[:, :8] * WHITE_T_MS))
        return r - r.mean()

    fit = least_squares(residual, (0.1, 550.0, 100.0, 1.0, 630.0, 80.0),
                        bounds=([0, 500, 40, 0, 590, 30], [1, 600, 200, 5, 680, 200]))
    led = white_led(wl, fit.x)
    counts = led @ m[:, :9] * WHITE_T_MS
    f_factor = float(np.exp(np.mean(np.log(WHITE_COUNTS[:8] / counts[:8]))))
    clear_factor = float(WHITE_COUNTS[8] / counts[8])
    ir = gaussian(wl, IR_PEAK_NM, IR_FWHM_NM)
    ir = ir / ir.sum() * IR_UW_CM2
    nir_factor = float(IR_COUNTS / (ir @ m[:, 9] * IR_T_MS * RATIO_128X))
    m[:, :8] *= f_factor
    m[:, 8] *= clear_factor
    m[:, 9] *= nir_factor
    check = led @ m[:, :9] * WHITE_T_MS
    residuals = ", ".join(f"{c} {v / t - 1:+.0%}" for c, v, t in zip(CHANNELS, check, WHITE_COUNTS, strict=False))
    pump, c1, f1, r2, c2, f2 = fit.x
    at = {int(w): i for i, w in enumerate(wl)}
    share = {w: m[at[w], 7] / (m[at[w], 6] + m[at[w], 7]) for w in (620, 660, 670)}
    notes = [
        f"source: {provenance}",
        "steps: negatives and <350 nm set to 0; F1-F8 / 3.95 (256x->64x), Clear / 7.75 (512x->64x), NIR at 64x",
        f"2700 K LED model (fitted shape): pump 450/20 nm x{pump:.3f}, phosphor {c1:.1f}/{f1:.1f} nm + "
        f"{r2:.3f} x {c2:.1f}/{f2:.1f} nm; 107.67 uW/cm2, 64x, 27.8 ms",
        f"factors: F1-F8 x{f_factor:.6g} (one common factor), Clear x{clear_factor:.6g}, "
        f"NIR x{nir_factor:.6g} (940 nm LED FWHM 45 nm, 98 uW/cm2, 128x, 100 ms -> 5135)",
        f"typical-count residuals under the LED model: {residuals}",
        f"checks: F8/(F7+F8) 620 nm {share[620]:.3f}, 660 nm {share[660]:.3f}, 670 nm {share[670]:.3f}",
    ]
    return wl, m, notes


if __name__ == "__main__":
    generate(CHIP, Path(__file__).name, build)
