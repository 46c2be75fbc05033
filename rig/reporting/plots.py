"""The figures of ``rig report``: spectrum, timeline, verdicts, positions. Each returns a matplotlib Figure
(built without pyplot, so tests can inspect its artists) stamped with the run's identity."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from rig.chips import CHIPS, SpectralChip
from rig.claims.ids import claim_id
from rig.claims.specs import CALIBRATION_DEPENDENT
from rig.reporting.html import VERDICT_COLOURS
from rig.reporting.plot_parts import (
    CLAIM_COLOUR,
    CUTOUT_COLOUR,
    Stamp,
    band_text,
    draw_band,
    finite,
    margins,
    stamp,
    view_range,
)
from rig.run.phases import PHASE_KINDS

# phases: a strip along the top of each panel (not a shade behind the curves), in the colour each kind declares
PHASE_COLOURS = {kind: phase.colour for kind, phase in PHASE_KINDS.items()}
PHASE_STRIP = (0.93, 1.0)  # axes fraction of the phase strip
LINE_COLOUR = "#0d47a1"


def claim_row(summary: pd.DataFrame, identifier: str) -> pd.Series | None:
    """The summary row of one claim id (old summaries: found through the label mapping), or None."""
    if summary.empty:
        return None
    ids = summary["claim_id"] if "claim_id" in summary else summary.apply(
        lambda r: claim_id(str(r.get("claim", "")), str(r.get("unit", ""))), axis=1)
    rows = summary[ids == identifier]
    return None if rows.empty else rows.iloc[0]


def _fitted_lines(measure: pd.DataFrame) -> list[str]:
    """The fitted lines of a run's rows, by column prefix: ``red``, ``nir``, ``line_660nm``, ``group_...``."""
    names = []
    for column in measure.columns:
        if column.endswith("_peak_nm") and not column.endswith("_u_nm") and "_peak_u_" not in column:
            name = column[: -len("_peak_nm")]
            if measure[column].notna().any():
                names.append(name)
    return names


def _claimed_lines(summary: pd.DataFrame | None) -> list[tuple[str, float, float, float]]:
    """``(label, claimed, low, high)`` of every claimed peak wavelength in the summary."""
    if summary is None or summary.empty:
        return []
    found = []
    for _, row in summary.iterrows():
        identifier = row.claim_id if "claim_id" in row and isinstance(row.claim_id, str) else claim_id(
            str(row.claim), str(row.unit))
        low, high, claimed = finite(row.low), finite(row.high), finite(row.claimed)
        if identifier.endswith("peak_nm") and low is not None and high is not None and claimed is not None:
            found.append((str(row.claim), claimed, low, high))
    return found


def samples_chip(samples: pd.DataFrame) -> SpectralChip:
    """The chip whose channel columns a samples table has (a clear error if none)."""
    found = [chip for chip in CHIPS.values() if set(chip.channels) <= set(samples.columns)]
    if not found:
        raise ValueError("samples.csv has the channel columns of no known chip (" + ", ".join(CHIPS) + ")")
    return found[0]


def spectrum_figure(samples: pd.DataFrame, info: Stamp | None = None, summary: pd.DataFrame | None = None,
                    chip: SpectralChip | None = None) -> Figure:
    """The measure phase's light in physical units: each fitted LED line at its fitted peak (± U, k = 2) with
    its irradiance (± U) in mW/cm², every claimed line's tolerance band, and behind them the channels' relative
    signal (largest = 1) with the signal the fitted lines predict. A fitted width is drawn when the estimate
    reports one, else the label says "width not measured". ``chip``: the run's spectral chip (default: the one
    whose channel columns ``samples`` has)."""
    chip = chip or samples_chip(samples)
    figure = Figure(figsize=(8, 3.9))
    channels_axis = figure.add_subplot()
    axis = channels_axis.twinx()  # the physical quantity in front, on the left
    axis.yaxis.tick_left()
    axis.yaxis.set_label_position("left")
    channels_axis.yaxis.tick_right()
    channels_axis.yaxis.set_label_position("right")
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
    largest = max(basic[c] for c in names) or 1.0
    channels_axis.bar(positions, [basic[c] / largest for c in names], width=18, color="#bdbdbd", alpha=0.6,
                      label="channel signal (relative)", gid="bars")
    channels_axis.set_xticks(positions, [f"{n}\n{peaks_nm[n]:.0f}" for n in names], fontsize=7)
    channels_axis.set_ylim(0, 1.5)
    channels_axis.set_ylabel("channel signal, relative (largest = 1)", fontsize=8, color="#757575")
    channels_axis.tick_params(axis="y", labelsize=7, colors="#757575")
    level, previous = 0, None
    for _label, claimed, low, high in sorted(_claimed_lines(summary), key=lambda c: c[1]):
        axis.axvspan(low, high, facecolor="none", edgecolor=CLAIM_COLOUR, hatch="///", linewidth=1.0,
                     gid="claimed-line", label="claimed line ± tolerance")
        axis.axvline(claimed, color=CLAIM_COLOUR, linewidth=1.2, gid="claimed-peak")
        level = (level + 1) % 3 if previous is not None and claimed - previous < 45 else 0  # labels apart
        previous = claimed
        axis.text(claimed, 0.02 + 0.13 * level, f"claimed {claimed:g} nm\n({low:g}–{high:g})",
                  transform=axis.get_xaxis_transform(), fontsize=7, color=CLAIM_COLOUR, ha="center", va="bottom",
                  gid="claimed-label",
                  bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.85, "pad": 1})
    responsivity = None
    model = np.zeros(chip.n_channels)
    tops = [1.0]
    lines = _fitted_lines(measure)
    for index, band in enumerate(lines):
        peak_nm = float(measure[f"{band}_peak_nm"].mean())
        u_column = measure.get(f"{band}_peak_u_nm")
        u_nm = finite(u_column.mean()) if u_column is not None else None
        below_nm, above_nm = u_nm or 0.0, u_nm or 0.0  # the interval's ends where the run has them (skewed sides)
        low_column, high_column = measure.get(f"{band}_peak_low_nm"), measure.get(f"{band}_peak_high_nm")
        if low_column is not None and high_column is not None:
            low_nm, high_nm = finite(low_column.mean()), finite(high_column.mean())
            if low_nm is not None and high_nm is not None:
                below_nm, above_nm = max(peak_nm - low_nm, 0.0), max(high_nm - peak_nm, 0.0)
        fwhm_column = measure.get(f"{band}_fwhm_nm")
        fwhm_nm = finite(fwhm_column.mean()) if fwhm_column is not None else None
        irradiance_column = measure.get(f"{band}_irradiance_mw_cm2")
        mw_cm2 = finite(irradiance_column.mean()) if irradiance_column is not None else None
        mw_u_column = measure.get(f"{band}_irradiance_u_mw_cm2")
        mw_u = finite(mw_u_column.mean()) if mw_u_column is not None else None
        height = mw_cm2 if mw_cm2 is not None else 0.0
        tops.append(height + (mw_u or 0.0))
        axis.vlines(peak_nm, 0, height, color=LINE_COLOUR, linewidth=2.5, gid=f"{band}-peak")
        axis.errorbar([peak_nm], [height], xerr=[[below_nm], [above_nm]], yerr=[mw_u or 0.0], fmt="o",
                      color=LINE_COLOUR,
                      capsize=4, markersize=5, gid=f"{band}-estimate",
                      label="fitted line: peak ± U, irradiance ± U" if index == 0 else None)
        width_text = f"FWHM {fwhm_nm:.0f} nm" if fwhm_nm else "width not measured"
        u_text = (f" −{below_nm:.1f} +{above_nm:.1f}" if abs(below_nm - above_nm) > 0.05 * max(below_nm, above_nm)
                  else f" ± {u_nm:.1f}" if u_nm else "")
        mw_text = "" if mw_cm2 is None else f"\n{mw_cm2:.3g}" + (f" ± {mw_u:.2g}" if mw_u else "") + " mW/cm²"
        name = band.upper() if band == "nir" else band.replace("_", " ")
        align = "left" if peak_nm < 500 else "right"  # the label beside the line, clear of the right axis
        axis.annotate(f"{name} {peak_nm:.0f}{u_text} nm{mw_text}\n{width_text}", (peak_nm, height),
                      xytext=(-8 if align == "right" else 8, 6), textcoords="offset points", color=LINE_COLOUR,
                      fontsize=8, ha=align, va="bottom", gid=f"{band}-label",
                      bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.9, "pad": 1})
        if fwhm_nm:
            grid = np.linspace(peak_nm - 2 * fwhm_nm, peak_nm + 2 * fwhm_nm, 81)
            shape = np.exp(-4 * np.log(2) * ((grid - peak_nm) / fwhm_nm) ** 2)
            channels_axis.plot(grid, shape, color=LINE_COLOUR, linewidth=1, alpha=0.7, gid=f"{band}-shape")
            if mw_cm2 is not None and band in ("red", "nir"):
                from rig.spectrum.responsivity import Responsivity

                responsivity = responsivity or Responsivity.load(chip=chip)
                at_sensor_uw = mw_cm2 * 1000 * float(measure.transmission.mean())
                model += at_sensor_uw * responsivity.line_response(peak_nm, fwhm_nm)
    if model.any():
        # the counts the fitted lines predict, on the channels' relative scale (same divisor as the bars)
        per_count = 1.0 / largest
        channels_axis.plot(positions, [model[chip.index(c)] * per_count for c in names], "o", color="#616161",
                           markersize=4, label="channel signal the fitted lines predict", gid="model")
    axis.set_ylim(0, max(tops) * 1.6)
    axis.set_xlim(min(positions[0], *(low for _, _, low, _ in _claimed_lines(summary)), 1e9) - 25,
                  max(positions[-1], *(high for _, _, _, high in _claimed_lines(summary)), 0) + 25)
    axis.set_xlabel("wavelength (nm); channels at their centre wavelength")
    axis.set_ylabel("irradiance of each fitted line (mW/cm²)")
    axis.set_title("Spectrum in the measure phase: fitted lines against the claimed ones", loc="left", fontsize=10)
    handles, labels = [], []
    for source in (axis, channels_axis):
        h, l_ = source.get_legend_handles_labels()
        for handle, label in zip(h, l_, strict=True):
            if label not in labels:
                handles.append(handle)
                labels.append(label)
    axis.legend(handles, labels, fontsize=7, loc="upper left", ncol=2, framealpha=0.9)
    margins(figure, bottom_in=0.95, right_in=0.75)
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
    figure = Figure(figsize=(9.5, 5.4))
    top, bottom = figure.subplots(2, 1, sharex=True)
    spans = _phase_spans(samples) if not samples.empty else []
    for kind, start, end in spans:
        for axis in (top, bottom):
            axis.axvspan(start, end, *PHASE_STRIP, color=PHASE_COLOURS.get(kind, "#bdbdbd"), linewidth=0,
                         gid="phase")
            axis.axvline(start, color="#9e9e9e", linewidth=0.6, linestyle=":", zorder=0)
    kinds = list(dict.fromkeys(kind for kind, _, _ in spans))
    figure.legend([Patch(color=PHASE_COLOURS.get(k, "#bdbdbd")) for k in kinds], kinds, fontsize=7,
                  ncol=max(len(kinds), 1), loc="upper center", bbox_to_anchor=(0.42, 0.955), frameon=False,
                  title="phases (the strip along the top of each panel)", title_fontsize=7)
    if "irradiance_mw_cm2" in samples:
        value = samples.irradiance_mw_cm2
        u = samples.get("irradiance_u_mw_cm2", pd.Series(0.0, index=samples.index)).fillna(0.0)
        top.fill_between(samples.t_s, value - u, value + u, facecolor="#ef9a9a", alpha=0.5, edgecolor="#e57373",
                         linewidth=0.6, label="measured ± U (k = 2)", gid="uncertainty-band")
        top.plot(samples.t_s, value, ".", markersize=2, color="#b71c1c", label="measured")
        from rig.reporting.modes import summary_at  # several modes: each measure phase its mode's band

        measure = [(start, end) for kind, start, end in spans if kind == "measure"]
        judged = [(span, claim_row(summary_at(summary, samples, span[0]), "irradiance_mw_cm2")) for span in measure]
        judged = [(span, (finite(row.low), finite(row.high))) for span, row in judged if row is not None]
        if judged:
            edges = [edge for _, band in judged for edge in band if edge is not None]
            top.set_ylim(*view_range([float(value.max() or 0), 0.0, *edges], None, None, pad=0.1))
            labelled = set()
            for span, (low, high) in judged:
                label = f"{band_text(low, high)} mW/cm² (judged here)"
                draw_band(top, low, high, vertical=False, span=span, label=None if label in labelled else label)
                labelled.add(label)
    top.set_ylabel("irradiance (mW/cm²)")
    top.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)  # beside, not over
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
    from rig.reporting.modes import mark_modes

    mark_modes([top, bottom], samples)  # a run of several modes: where each starts
    if cutout_c is not None:
        bottom.axhline(cutout_c, color=CUTOUT_COLOUR, linestyle="--", linewidth=1.2, gid="safety-cutout",
                       label=f"safety cut-out {cutout_c:g} °C (rig stops the run)")
    bottom.set_ylabel("temperature (°C)")
    bottom.set_xlabel("time since start (s)")
    bottom.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    for axis in (top, bottom):  # room above the curves for the phase strip
        low, high = axis.get_ylim()
        axis.set_ylim(low, high + (high - low) * 0.1)
    figure.suptitle("Irradiance and surface temperature", x=0.02, ha="left", y=0.995)
    margins(figure, top_in=0.85, right_in=2.6, hspace=0.12)
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
