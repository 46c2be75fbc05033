"""`rig report`: PNG plots and one self-contained HTML file for a run (and optionally others to compare).

Analysis side: pandas and matplotlib (Agg, no display needed). The HTML embeds
every image as base64 so the file can be emailed on its own.
"""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from rig.compare import compare_table  # noqa: E402
from rig.errors import RigError  # noqa: E402
from rig.load import load_runs  # noqa: E402
from rig.responsivity import CHANNELS, Responsivity, gain_ratio  # noqa: E402

CHANNEL_NM = {"F1": 415, "F2": 445, "F3": 480, "F4": 515, "F5": 555, "F6": 590, "F7": 630, "F8": 680, "NIR": 910}
VERDICT_COLOURS = {"PASS": "#2e7d32", "MARGINAL": "#f9a825", "FAIL": "#c62828", "NOT MEASURED": "#9e9e9e"}
PHASE_COLOURS = {"dark": "#424242", "warmup": "#ffcc80", "measure": "#a5d6a7", "soak": "#90caf9",
                 "cooldown": "#b0bec5"}


def _png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


def spectrum_plot(samples: pd.DataFrame) -> bytes:
    """Mean basic counts per channel over the measure phase, with the fitted LED lines' expected response."""
    measure = samples[(samples.phase_kind == "measure") & (samples.wrap_on == 1) & (samples.saturated == 0)]
    figure, axis = plt.subplots(figsize=(8, 3.6))
    if measure.empty:
        axis.text(0.5, 0.5, "no unsaturated measure-phase samples", ha="center", transform=axis.transAxes)
        return _png(figure)
    per_basic = measure.gain_x.map(gain_ratio) * measure.t_int_ms
    basic = {c: float((measure[c] / per_basic).mean()) for c in CHANNELS}
    names = [c for c in CHANNELS if c != "Clear"]
    positions = [CHANNEL_NM[c] for c in names]
    axis.bar(positions, [basic[c] for c in names], width=18, color="#b71c1c", alpha=0.55, label="measured")
    for x, name in zip(positions, names, strict=True):
        axis.text(x, 0, name, ha="center", va="bottom", fontsize=7, color="white")
    responsivity = Responsivity.load()
    model = np.zeros(10)
    for band, width in (("red", 20.0), ("nir", 30.0)):
        peak = measure.get(f"{band}_peak_nm")
        irradiance = measure.get(f"{band}_irradiance_mw_cm2")
        if peak is None or peak.dropna().empty:
            continue
        peak_nm = float(peak.mean())
        at_sensor_uw = float(irradiance.mean()) * 1000 * float(measure.transmission.mean())
        model += at_sensor_uw * responsivity.line_response(peak_nm, width)
        axis.axvline(peak_nm, color="#0d47a1", linestyle="--", linewidth=1)
        axis.text(peak_nm, axis.get_ylim()[1] * 0.95, f" {band} {peak_nm:.0f} nm", color="#0d47a1", fontsize=8)
    if model.any():
        axis.plot(positions, [model[CHANNELS.index(c)] for c in names], "o", color="#0d47a1",
                  label="fitted LED lines (expected)")
    axis.set_xlabel("channel centre wavelength (nm)")
    axis.set_ylabel("basic counts (per ms at 64x)")
    axis.set_title("Spectrum: channels in the measure phase")
    axis.legend(fontsize=8)
    return _png(figure)


def timeline_plot(samples: pd.DataFrame, limit_c: float | None) -> bytes:
    """Irradiance and surface temperature over time, phases shaded, temperature limit drawn."""
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(8, 5), sharex=True)
    for _, group in samples.groupby((samples.phase != samples.phase.shift()).cumsum()):
        kind = group.phase_kind.iloc[0]
        for axis in (top, bottom):
            axis.axvspan(group.t_s.iloc[0], group.t_s.iloc[-1], color=PHASE_COLOURS.get(kind, "#eeeeee"), alpha=0.3,
                         linewidth=0)
        top.text(group.t_s.iloc[0], 1.0, f" {group.phase.iloc[0]}", fontsize=7, va="top", rotation=90,
                 transform=top.get_xaxis_transform())
    if "irradiance_mw_cm2" in samples:
        top.errorbar(samples.t_s, samples.irradiance_mw_cm2, yerr=samples.get("irradiance_u_mw_cm2"), fmt=".",
                     markersize=3, color="#b71c1c", ecolor="#ef9a9a", elinewidth=0.6)
    top.set_ylabel("irradiance (mW/cm2)")
    if "surface_c" in samples:
        bottom.plot(samples.t_s, samples.surface_c, ".-", markersize=2, color="#e65100", label="surface")
    if "ambient_c" in samples:
        bottom.plot(samples.t_s, samples.ambient_c, "-", color="#546e7a", label="ambient")
    if limit_c is not None:
        bottom.axhline(limit_c, color="#c62828", linestyle="--", label=f"limit {limit_c:g} C")
    bottom.set_ylabel("temperature (C)")
    bottom.set_xlabel("time since start (s)")
    bottom.legend(fontsize=8)
    top.set_title("Irradiance and surface temperature")
    return _png(figure)


def verdict_plot(summary: pd.DataFrame) -> bytes:
    """Each claim: the acceptance band, the measured value with its uncertainty, coloured by verdict."""
    rows = summary[summary.measured.notna() | summary.claimed.notna()].reset_index(drop=True)
    figure, axes = plt.subplots(len(rows), 1, figsize=(8, 0.95 * max(len(rows), 1) + 0.6), squeeze=False)
    figure.subplots_adjust(hspace=1.0)
    for axis, (_, row) in zip(axes[:, 0], rows.iterrows(), strict=True):
        colour = VERDICT_COLOURS.get(row.verdict, "#000000")
        values = [v for v in (row.low, row.high, row.claimed, row.measured) if pd.notna(v)]
        span = (max(values) - min(values)) or abs(values[0]) * 0.2 or 1.0
        low = row.low if pd.notna(row.low) else min(values) - span
        high = row.high if pd.notna(row.high) else max(values) + span
        axis.axvspan(low, high, color="#c8e6c9", alpha=0.8)
        if pd.notna(row.measured):
            axis.errorbar([row.measured], [0], xerr=[row.uncertainty if pd.notna(row.uncertainty) else 0],
                          fmt="o", color=colour, capsize=4)
        axis.set_yticks([])
        axis.set_xlim(min(values + [low]) - 0.3 * span, max(values + [high]) + 0.3 * span)
        axis.set_ylabel(f"{row.claim}\n({row.unit})", rotation=0, ha="right", va="center", fontsize=8)
        axis.text(1.01, 0.5, row.verdict, transform=axis.transAxes, color=colour, fontsize=9, va="center",
                  fontweight="bold")
    figure.suptitle("Claims: acceptance band (green) and measured ± u")
    return _png(figure)


def positions_plot(uniformity: dict) -> bytes:
    """A small map of the sensor positions, coloured by their irradiance."""
    table = pd.DataFrame(uniformity["positions"])
    figure, axis = plt.subplots(figsize=(6, 2.8))
    points = axis.scatter(table.x_mm, table.y_mm, c=table.irradiance_mw_cm2, s=400, cmap="Reds", edgecolors="k",
                          vmin=0)
    brightest = max(table.irradiance_mw_cm2.max(), 1e-9)
    for _, row in table.iterrows():
        colour = "white" if row.irradiance_mw_cm2 > 0.6 * brightest else "black"
        axis.annotate(f"{row['name']}\n{row.irradiance_mw_cm2:.1f}", (row.x_mm, row.y_mm), ha="center",
                      va="center", fontsize=7, color=colour)
    figure.colorbar(points, label="irradiance (mW/cm2)")
    axis.set_xlabel("x (mm)")
    axis.set_ylabel("y (mm)")
    axis.margins(0.25)
    axis.set_title(f"Uniformity: min/max {uniformity['min_max_ratio']:.2f}, CV {uniformity['cv_pct']:.1f} %")
    return _png(figure)


def _table(frame: pd.DataFrame) -> str:
    def cell(value: object) -> str:
        if value is None or (isinstance(value, float) and np.isnan(value)):
            return ""
        text = f"{value:.4g}" if isinstance(value, float) else str(value)
        colour = VERDICT_COLOURS.get(text)
        escaped = html.escape(text)
        return f'<b style="color:{colour}">{escaped}</b>' if colour else escaped

    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    body = "".join("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in row) + "</tr>"
                   for row in frame.itertuples(index=False))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _image(name: str, data: bytes, alt: str) -> str:
    encoded = base64.b64encode(data).decode("ascii")
    return f'<figure><img id="{name}" alt="{html.escape(alt)}" src="data:image/png;base64,{encoded}"></figure>'


def build_report(run_dir: Path, others: list[Path] | None = None, out_dir: Path | None = None) -> Path:
    """Write ``report.html`` and the PNGs into ``out_dir`` (default: ``<run>/report``); return the HTML path."""
    if not (run_dir / "run.json").is_file():
        raise RigError(f"{run_dir}: not a run folder (no run.json)")
    manifest = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    samples = pd.read_csv(run_dir / "samples.csv") if (run_dir / "samples.csv").is_file() else pd.DataFrame()
    summary = pd.read_csv(run_dir / "summary.csv") if (run_dir / "summary.csv").is_file() else pd.DataFrame()
    out_dir = out_dir or run_dir / "report"
    out_dir.mkdir(parents=True, exist_ok=True)
    limit = manifest.get("sequence", {}).get("as_used", {}).get("safety", {}).get("max_surface_c")
    images = {}
    if not samples.empty:
        images["spectrum"] = spectrum_plot(samples)
        images["timeline"] = timeline_plot(samples, limit)
    if not summary.empty:
        images["verdicts"] = verdict_plot(summary)
    uniformity = (manifest.get("facts") or {}).get("uniformity")
    if uniformity and uniformity.get("positions"):
        images["positions"] = positions_plot(uniformity)
    for name, data in images.items():
        (out_dir / f"{name}.png").write_bytes(data)
    profile = manifest.get("profile", {}).get("as_used", {})
    wrap = " ".join(str(profile.get(k, "")) for k in ("maker", "model", "unit")).strip()
    complete = manifest.get("outcome") != "RUNNING" and not summary.empty
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>rig report: {html.escape(wrap)}</title>",
        "<style>body{font-family:sans-serif;max-width:960px;margin:auto;padding:1em}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 6px;font-size:13px}"
        "th{background:#f5f5f5}img{max-width:100%}.warn{color:#c62828}</style></head><body>",
        f"<h1>{html.escape(wrap) or 'wrap'}: mode '{html.escape(str(manifest.get('mode', '')))}'</h1>",
        f"<p>Run <code>{html.escape(str(manifest.get('run_id')))}</code>, "
        f"{html.escape(str(manifest.get('start_time')))}"
        f" to {html.escape(str(manifest.get('end_time')))}: <b>{html.escape(str(manifest.get('outcome')))}</b>"
        f" ({html.escape(str(manifest.get('reason', '')))}). Backend: {html.escape(str(manifest.get('backend')))}."
        f" Calibration: {html.escape(str(manifest.get('calibration_id')))}.</p>",
    ]
    if not complete:
        parts.append("<p class='warn'>This run did not finish: the results are incomplete.</p>")
    if manifest.get("backend") == "sim":
        parts.append("<p class='warn'>Simulated hardware: these are not measurements of a real wrap.</p>")
    parts.append("<h2>Verdicts</h2>")
    parts.append(_table(summary) if not summary.empty else "<p>No summary (run cut short).</p>")
    for name, alt in (("verdicts", "verdict per claim"), ("spectrum", "spectrum per channel with fitted lines"),
                      ("timeline", "irradiance and surface temperature over time"),
                      ("positions", "map of the sensor positions")):
        if name in images:
            parts.append(_image(name, images[name], alt))
    behaviour = manifest.get("behaviour") or {}
    if behaviour:
        parts.append("<h2>Measured behaviour</h2>")
        parts.append(_table(pd.DataFrame([behaviour])))
    if others:
        loaded = load_runs([run_dir, *others])
        parts.append("<h2>Compared runs</h2>")
        parts.append(_table(compare_table(loaded)))
    metadata = {k: manifest.get(k) for k in ("run_id", "host", "platform", "versions", "sensor_id", "calibration",
                                             "events")}
    parts.append("<h2>Run metadata</h2><pre>" + html.escape(json.dumps(metadata, indent=2, default=str)) + "</pre>")
    parts.append("<h2>Wrap profile as used</h2><pre>" + html.escape(json.dumps(profile, indent=2)) + "</pre>")
    parts.append("</body></html>")
    report = out_dir / "report.html"
    report.write_text("\n".join(parts), encoding="utf-8")
    return report
