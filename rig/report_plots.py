"""The figures of ``rig report``: spectrum, timeline, verdicts, positions. Each returns a matplotlib Figure
(built without pyplot, so tests can inspect its artists) stamped with the run's identity."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from rig.chips import CHIPS, SpectralChip
from rig.claim_ids import claim_id
from rig.plotting import CUTOUT_COLOUR, Stamp, band_text, draw_band, finite, margins, stamp, view_range

VERDICT_COLOURS = {"PASS": "#2e7d32", "MARGINAL": "#f9a825", "FAIL": "#c62828", "NOT MEASURED": "#9e9e9e"}
PHASE_COLOURS = {"dark": "#616161", "on": "#eeeeee", "warmup": "#ffcc80", "measure": "#a5d6a7", "soak": "#90caf9",
                 "off": "#eeeeee", "cooldown": "#b0bec5", "pulse": "#ce93d8", "uniformity": "#fff59d"}
LINE_COLOUR = "#0d47a1"
CALIBRATION_DEPENDENT = {"irradiance_mw_cm2", "dose_j_cm2"}


def claim_row(summary: pd.DataFrame, identifier: str) -> pd.Series | None:
    """The summary row of one claim id (old summaries: found through the label mapping), or None."""
    if summary.empty:
        return None
    ids = summary["claim_id"] if "claim_id" in summary else summary.apply(
        lambda r: claim_id(str(r.get("claim", "")), str(r.get("unit", ""))), axis=1)
    rows = summary[ids == identifier]
    return None if rows.empty else rows.iloc[0]


def samples_chip(samples: pd.DataFrame) -> SpectralChip:
    """The chip whose channel columns a samples table has (a clear error if none)."""
    found = [chip for chip in CHIPS.values() if set(chip.channels) <= set(samples.columns)]
    if not found:
        raise ValueError("samples.csv has the channel columns of no known chip (" + ", ".join(CHIPS) + ")")
    return found[0]


def spectrum_figure(samples: pd.DataFrame, info: Stamp | None = None, chip: SpectralChip | None = None) -> Figure:
    """Mean basic counts per channel over the measure phase; each fitted LED line at its fitted peak
    (± its expanded uncertainty) and, when the estimate reports one, its fitted width. ``chip``: the run's
    spectral chip (default: the one whose channel columns ``samples`` has)."""
    chip = chip or samples_chip(samples)
    figure = Figure(figsize=(8, 3.8))
    axis = figure.add_subplot()
    measure = samples[(samples.phase_kind == "measure") & (samples.wrap_on == 1) & (samples.saturated == 0)]
    if measure.empty:
        axis.text(0.5, 0.5, "no unsaturated measure-phase samples", ha="center", transform=axis.transAxes)
        margins(figure)
        stamp(figure, info)
        return figure
    per_basic = measure.gain_x.map(chip.gain_ratio) * measure.t_int_ms
    basic = {c: float((measure[c] / per_basic).mean()) for c in chip.channels}
    peaks_nm = chip.channel_peaks_nm
    names = sorted(chip.spectral_channels, key=peaks_nm.get)
    positions = [peaks_nm[c] for c in names]
    axis.bar(positions, [basic[c] for c in names], width=18, color="#b71c1c", alpha=0.55, label="measured", gid="bars")
    axis.set_xticks(positions, [f"{n}\n{peaks_nm[n]:.0f}" for n in names], fontsize=7)
    top = max(basic[c] for c in names) or 1.0
    axis.set_ylim(0, top * 1.45)
    responsivity = None
    model = np.zeros(chip.n_channels)
    for band, align in (("red", "right"), ("nir", "left")):
        peak = measure.get(f"{band}_peak_nm")
        if peak is None or peak.dropna().empty:
            continue
        peak_nm = float(peak.mean())
        u_column = measure.get(f"{band}_peak_u_nm")
        u_nm = finite(u_column.mean()) if u_column is not None else None
        fwhm_column = measure.get(f"{band}_fwhm_nm")
        fwhm_nm = finite(fwhm_column.mean()) if fwhm_column is not None else None
        if u_nm:
            axis.axvspan(peak_nm - u_nm, peak_nm + u_nm, color=LINE_COLOUR, alpha=0.12, linewidth=0)
        axis.axvline(peak_nm, color=LINE_COLOUR, linestyle="--", linewidth=1, gid=f"{band}-peak")
        width_text = f"FWHM {fwhm_nm:.0f} nm" if fwhm_nm else "width not measured"
        u_text = f" ± {u_nm:.1f}" if u_nm else ""
        x_text = peak_nm - 3 if align == "right" else peak_nm + 3
        axis.text(x_text, top * 1.3, f"{band.upper() if band == 'nir' else band} {peak_nm:.0f}{u_text} nm\n"
                  f"{width_text}", color=LINE_COLOUR, fontsize=8, ha=align, va="center", gid=f"{band}-label",
                  bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.9, "pad": 1})
        if fwhm_nm:
            grid = np.linspace(peak_nm - 2 * fwhm_nm, peak_nm + 2 * fwhm_nm, 81)
            shape = np.exp(-4 * np.log(2) * ((grid - peak_nm) / fwhm_nm) ** 2)
            axis.plot(grid, shape * top * 1.1, color=LINE_COLOUR, linewidth=1, alpha=0.7, gid=f"{band}-shape")
            irradiance = measure.get(f"{band}_irradiance_mw_cm2")
            if irradiance is not None and not irradiance.dropna().empty:
                responsivity = responsivity or chip.load_responsivity()
                at_sensor_uw = float(irradiance.mean()) * 1000 * float(measure.transmission.mean())
                model += at_sensor_uw * responsivity.line_response(peak_nm, fwhm_nm)
    if model.any():
        axis.plot(positions, [model[chip.index(c)] for c in names], "o", color=LINE_COLOUR,
                  label="expected from the fitted lines", gid="model")
    axis.set_xlabel("channel and its centre wavelength (nm); peak ± expanded uncertainty (k = 2)")
    axis.set_ylabel("basic counts (per ms at 64x)")
    axis.set_title("Spectrum: channels in the measure phase", loc="left")
    axis.legend(fontsize=8, loc="upper left")
    margins(figure, bottom_in=0.95)
    stamp(figure, info)
    return figure


def _phase_spans(samples: pd.DataFrame) -> list[tuple[str, float, float]]:
    """``(kind, start_s, end_s)`` per run of consecutive samples in one phase (end: the next phase's start)."""
    blocks = (samples.phase != samples.phase.shift()).cumsum()
    spans = [(g.phase_kind.iloc[0], float(g.t_s.iloc[0]), float(g.t_s.iloc[-1])) for _, g in samples.groupby(blocks)]
    return [(kind, start, spans[i + 1][1] if i + 1 < len(spans) else end)
            for i, (kind, start, end) in enumerate(spans)]


def timeline_figure(samples: pd.DataFrame, summary: pd.DataFrame, cutout_c: float | None,
                    info: Stamp | None = None) -> Figure:
    """Irradiance and surface temperature over time: phases shaded (legend, not overlapping labels), the
    irradiance claim band over the phase where it is judged, the temperature claim drawn as a line with its
    band, and the rig's safety cut-out drawn and named as such."""
    figure = Figure(figsize=(8, 5.2))
    top, bottom = figure.subplots(2, 1, sharex=True)
    spans = _phase_spans(samples) if not samples.empty else []
    for kind, start, end in spans:
        for axis in (top, bottom):
            axis.axvspan(start, end, color=PHASE_COLOURS.get(kind, "#eeeeee"), alpha=0.3, linewidth=0)
    kinds = list(dict.fromkeys(kind for kind, _, _ in spans))
    figure.legend([Patch(color=PHASE_COLOURS.get(k, "#eeeeee"), alpha=0.5) for k in kinds], kinds, fontsize=7,
                  ncol=max(len(kinds), 1), loc="upper center", bbox_to_anchor=(0.5, 0.955), frameon=False,
                  title="phases", title_fontsize=7)
    if "irradiance_mw_cm2" in samples:
        value = samples.irradiance_mw_cm2
        u = samples.get("irradiance_u_mw_cm2", pd.Series(0.0, index=samples.index)).fillna(0.0)
        top.fill_between(samples.t_s, value - u, value + u, color="#ef9a9a", alpha=0.6, linewidth=0,
                         label="± U (k = 2)")
        top.plot(samples.t_s, value, ".", markersize=2, color="#b71c1c", label="measured")
        row = claim_row(summary, "irradiance_mw_cm2")
        measure = [(start, end) for kind, start, end in spans if kind == "measure"]
        if row is not None and measure:
            low, high = finite(row.low), finite(row.high)
            top.set_ylim(*view_range([float(value.max() or 0), 0.0], low, high, pad=0.1))
            for i, span in enumerate(measure):
                draw_band(top, low, high, vertical=False, span=span,
                          label=f"{band_text(low, high)} mW/cm² (judged here)" if i == 0 else None)
    top.set_ylabel("irradiance (mW/cm²)")
    top.legend(fontsize=7, loc="lower right")
    if "surface_c" in samples:
        bottom.plot(samples.t_s, samples.surface_c, ".-", markersize=2, color="#e65100", label="surface")
    if "ambient_c" in samples:
        bottom.plot(samples.t_s, samples.ambient_c, "-", color="#546e7a", label="ambient")
    row = claim_row(summary, "surface_max_c")
    claim_c = finite(row.high) if row is not None else None
    temps = [float(v) for v in samples.get("surface_c", pd.Series(dtype=float)).dropna()]
    bottom.set_ylim(*view_range([min(temps, default=20.0), max(temps, default=30.0)],
                                claim_c, cutout_c, pad=0.08))
    if not samples.empty:
        bottom.set_xlim(float(samples.t_s.min()), float(samples.t_s.max()))
    if claim_c is not None:
        draw_band(bottom, None, claim_c, vertical=False, label=f"claim: at most {claim_c:g} °C",
                  span=bottom.get_xlim())
        bottom.text(0.005, claim_c, f" claim {claim_c:g} °C", transform=bottom.get_yaxis_transform(), fontsize=7,
                    color="#2e7d32", va="bottom")
    if cutout_c is not None:
        bottom.axhline(cutout_c, color=CUTOUT_COLOUR, linestyle="--", linewidth=1.2, gid="safety-cutout",
                       label=f"safety cut-out {cutout_c:g} °C (rig stops the run)")
    bottom.set_ylabel("temperature (°C)")
    bottom.set_xlabel("time since start (s)")
    bottom.legend(fontsize=7, loc="lower right")
    figure.suptitle("Irradiance and surface temperature", x=0.02, ha="left", y=0.995)
    margins(figure, top_in=0.85, hspace=0.12)
    stamp(figure, info)
    return figure


def verdict_figure(summary: pd.DataFrame, uncalibrated: bool, info: Stamp | None = None) -> Figure:
    """Each claim: its acceptance band (open ends run to the edge), the claimed value, and the measured
    value ± its expanded uncertainty, coloured by verdict. Uncalibrated irradiance verdicts carry a *."""
    rows = summary[summary.measured.notna() | summary.claimed.notna()].reset_index(drop=True)
    figure = Figure(figsize=(8, 0.9 * max(len(rows), 1) + 1.0))
    axes = figure.subplots(max(len(rows), 1), 1, squeeze=False)[:, 0]
    starred = False
    for axis, (_, row) in zip(axes, rows.iterrows(), strict=False):
        colour = VERDICT_COLOURS.get(row.verdict, "#000000")
        low, high, measured, u = finite(row.low), finite(row.high), finite(row.measured), finite(row.uncertainty)
        around = [v for v in (measured, finite(row.claimed)) if v is not None]
        if measured is not None and u:
            around += [measured - u, measured + u]
        axis.set_xlim(*view_range(around, low, high))
        axis.set_ylim(-1, 1)
        draw_band(axis, low, high, vertical=True)
        if measured is not None:
            axis.errorbar([measured], [0], xerr=[u or 0], fmt="o", color=colour, capsize=4, gid="measured")
        else:
            axis.text(0.5, 0, row.note if isinstance(row.note, str) and row.note else "not measured",
                      transform=axis.get_xaxis_transform(), ha="center", va="center", fontsize=7, color="#616161")
        axis.text(0.005, 0.78, band_text(low, high), transform=axis.transAxes, fontsize=7, color="#2e7d32",
                  va="center")
        axis.set_yticks([])
        axis.tick_params(axis="x", labelsize=7)
        axis.set_ylabel(f"{row.claim}\n({row.unit})", rotation=0, ha="right", va="center", fontsize=8)
        identifier = row.claim_id if "claim_id" in row and isinstance(row.claim_id, str) else claim_id(
            str(row.claim), str(row.unit))
        star = "*" if uncalibrated and identifier in CALIBRATION_DEPENDENT and row.verdict != "NOT MEASURED" else ""
        starred = starred or bool(star)
        axis.text(1.01, 0.5, f"{row.verdict}{star}", transform=axis.transAxes, color=colour, fontsize=9,
                  va="center", fontweight="bold", gid="verdict")
    figure.suptitle("Claims: acceptance band (green) and measured ± U, expanded uncertainty (k = 2)", fontsize=10,
                    x=0.02, ha="left")
    if starred:
        figure.text(0.02, 0.3 / figure.get_figheight(), "* uncalibrated: irradiance on the datasheet-nominal "
                    "scale; indicative only", fontsize=7, color="#e65100", gid="uncalibrated-note")
    margins(figure, left_in=1.9, right_in=0.9, top_in=0.55, bottom_in=0.6, hspace=0.9)
    stamp(figure, info)
    return figure


def positions_figure(uniformity: dict, info: Stamp | None = None) -> Figure:
    """A small map of the sensor positions, coloured by their irradiance."""
    table = pd.DataFrame(uniformity["positions"])
    figure = Figure(figsize=(6, 2.8))
    axis = figure.add_subplot()
    points = axis.scatter(table.x_mm, table.y_mm, c=table.irradiance_mw_cm2, s=400, cmap="Reds", edgecolors="k",
                          vmin=0)
    brightest = max(table.irradiance_mw_cm2.max(), 1e-9)
    for _, row in table.iterrows():
        colour = "white" if row.irradiance_mw_cm2 > 0.6 * brightest else "black"
        axis.annotate(f"{row['name']}\n{row.irradiance_mw_cm2:.1f}", (row.x_mm, row.y_mm), ha="center",
                      va="center", fontsize=7, color=colour)
    figure.colorbar(points, ax=axis, label="irradiance (mW/cm²)")
    axis.set_xlabel("x (mm)")
    axis.set_ylabel("y (mm)")
    axis.margins(0.25)
    axis.set_title(f"Uniformity: min/max {uniformity['min_max_ratio']:.2f}, CV {uniformity['cv_pct']:.1f} %")
    margins(figure, right_in=0.1)
    stamp(figure, info)
    return figure
