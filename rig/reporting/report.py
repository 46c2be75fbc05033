"""`rig report`: PNG plots and one self-contained HTML file for a run (and optionally others to compare).

Analysis side: pandas and matplotlib (Agg, no display needed; figures built without pyplot). The HTML
embeds every image as base64 so the file can be emailed on its own. Banners (simulated, uncalibrated,
did not finish, calibration out of date) come first, and every PNG is stamped with the run's identity.
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

import numpy as np
import pandas as pd

from rig.errors import RigError
from rig.results.banners import calibrated, read_manifest, run_banners, run_dir_banners  # noqa: F401 - re-exported

VERDICT_COLOURS = {"PASS": "#2e7d32", "MARGINAL": "#f9a825", "FAIL": "#c62828", "NOT MEASURED": "#9e9e9e"}
STYLE = ("body{font-family:sans-serif;max-width:960px;margin:auto;padding:1em}"
         "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 6px;font-size:13px}"
         "th{background:#f5f5f5}img{max-width:100%}.warn{color:#c62828}"
         ".banner{padding:.5em .8em;margin:.4em 0;border-left:6px solid #f9a825;background:#fff8e1}"
         ".banner.incomplete,.banner.simulated{border-color:#c62828;background:#ffebee}"
         ".overall{font-size:22px;font-weight:bold;padding:.4em .7em;color:white;display:inline-block}"
         "ul.claims{list-style:none;padding-left:0}ul.claims li{margin:.2em 0}"
         "table.facts th{text-align:left;font-weight:normal;background:#fafafa}")


def _pairs(rows: list[tuple[str, str]]) -> str:
    """(what, value) rows as a two-column table."""
    body = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows)
    return f"<table class=facts><tbody>{body}</tbody></table>"


def _headline(summary: pd.DataFrame, manifest) -> str:
    """The buyer's answer first: the overall verdict, then one line per claim (worst first)."""
    from rig.reporting.report_text import claim_lines, overall_verdict

    verdict, sentence = overall_verdict(summary, manifest)
    colour = VERDICT_COLOURS.get(verdict, "#c62828")
    items = "".join(f'<li><b style="color:{VERDICT_COLOURS.get(v, "#000")}">{html.escape(v)}</b> '
                    f"{html.escape(claim)}: {html.escape(text)}</li>" for v, claim, text in claim_lines(summary))
    return (f'<p><span class=overall id=overall style="background:{colour}">{html.escape(verdict)}</span> '
            f"{html.escape(sentence)}</p><ul class=claims>{items}</ul>")


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




def _summary_table(summary: pd.DataFrame, uncalibrated: bool) -> pd.DataFrame:
    """The verdict table as a reader wants it: the band, measured ± U (k = 2), verdict, note (which says
    when a verdict rests on the datasheet-nominal irradiance scale)."""
    from rig.claims.ids import claim_id
    from rig.reporting.plots import CALIBRATION_DEPENDENT

    shown = summary.copy()
    ids = shown.claim_id if "claim_id" in shown else [claim_id(str(c), str(u)) for c, u in zip(shown.claim,
                                                                                               shown.unit,
                                                                                               strict=True)]
    if uncalibrated:
        flagged = [i in CALIBRATION_DEPENDENT and v != "NOT MEASURED" for i, v in zip(ids, shown.verdict,
                                                                                       strict=True)]
        notes = ["" if pd.isna(n) else str(n) for n in shown.note]
        shown["note"] = [("uncalibrated: indicative only" + (f"; {n}" if n else "")) if f else n
                         for f, n in zip(flagged, notes, strict=True)]
    shown = shown.drop(columns=[c for c in ("claim_id",) if c in shown.columns])
    return shown.rename(columns={"uncertainty": "± U (k = 2)"})


def build_report(run_dir: Path, others: list[Path] | None = None, out_dir: Path | None = None) -> Path:
    """Write ``report.html`` and the PNGs into ``out_dir`` (default: ``<run>/report``); return the HTML path."""
    from rig.reporting.plot_parts import Stamp, png
    from rig.reporting.plots import positions_figure, spectrum_figure, timeline_figure, verdict_figure
    from rig.results.read import read_csv_checked, read_summary
    from rig.spectrum.responsivity import CHANNELS

    manifest = read_manifest(run_dir)
    # no samples.csv (the bench never opened) or only its header (stopped before a sample) is a short run, not damage
    samples = read_csv_checked(run_dir / "samples.csv", filled=(*CHANNELS, "gain_x", "t_int_ms", "t_s"),
                               missing_ok=True, empty_ok=True)
    summary = read_summary(run_dir / "summary.csv")
    out_dir = out_dir or run_dir / "report"
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise RigError(f"cannot make the report folder {out_dir}: {error.strerror or error}") from None
    cutout = manifest.interlock_surface_c
    info = Stamp.from_manifest(manifest)
    figures = {}
    from rig.reporting.report_modes import headline, mode_figures, mode_sections, several_modes

    modes = several_modes(manifest)  # a run of several modes: per mode its verdicts and spectrum
    if not samples.empty:
        if not modes:
            figures["spectrum"] = spectrum_figure(samples, info, summary)
        figures["timeline"] = timeline_figure(samples, summary, cutout, info)
    if not summary.empty and not modes:
        figures["verdicts"] = verdict_figure(summary, not calibrated(manifest), info)
    figures.update(mode_figures(samples, summary, manifest, info, not calibrated(manifest)) if modes else {})
    uniformity = manifest.uniformity
    if uniformity and uniformity.get("positions"):
        figures["positions"] = positions_figure(uniformity, info)
    images = {name: png(figure) for name, figure in figures.items()}
    for name, data in images.items():
        _write(out_dir / f"{name}.png", lambda path, data=data: path.write_bytes(data))
    banners = run_banners(manifest, not summary.empty)
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>rig report: {html.escape(info.wrap)}</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>{html.escape(info.wrap)}: mode{'s' if modes else ''} "
        f"{', '.join(repr(m['name']) for m in modes) if modes else repr(manifest.mode)}</h1>",
        headline(manifest, summary, VERDICT_COLOURS) if modes else _headline(summary, manifest),
        *[banner.html() for banner in banners],
        f"<p>Run <code>{html.escape(manifest.run_id)}</code>, {html.escape(str(manifest.start_time))}"
        f" to {html.escape(str(manifest.end_time))}: <b>{html.escape(manifest.outcome)}</b>"
        f" ({html.escape(manifest.reason)}). Backend: "
        f"{'<b class=warn>SIMULATED</b>' if info.simulated else html.escape(str(manifest.backend))}."
        f" Calibration: {html.escape(info.calibration)}.</p>",
        "<h2>Verdicts</h2>",
        "<p>PASS: measured ± U inside the claimed band; FAIL: entirely outside; MARGINAL: straddles a limit. "
        "U is the expanded uncertainty (k = 2, about 95 %).</p>",
    ]
    if modes:
        parts += mode_sections(manifest, summary, images, not calibrated(manifest))
    else:
        parts.append(_table(_summary_table(summary, not calibrated(manifest))) if not summary.empty
                     else "<p>No summary (run cut short).</p>")
    for name, alt in (("verdicts", "verdict per claim"), ("spectrum", "spectrum per channel with fitted lines"),
                      ("timeline", "irradiance and surface temperature over time"),
                      ("positions", "map of the sensor positions")):
        if name in images:
            parts.append(_image(name, images[name], alt))
    from rig.reporting.report_text import behaviour_rows, facts_rows, traceability_rows

    behaviour = manifest.behaviour
    if behaviour and not modes:  # several modes: each mode's behaviour is in its section
        parts.append("<h2>Measured behaviour</h2>")
        parts.append(_pairs(behaviour_rows(behaviour)))
    if others:
        from rig.reporting.compare import compare_table
        from rig.reporting.compare_page import html_compare_table
        from rig.results.load import load_runs

        parts.append("<h2>Compared runs</h2>")
        parts.append(html_compare_table(compare_table(load_runs([run_dir, *others]))))
    profile = manifest.profile_as_used
    parts.append("<h2>The run</h2>" + _pairs(facts_rows(manifest)))
    parts.append("<h2>Calibration traceability</h2>" + _pairs(traceability_rows(manifest)))
    parts.append("<h2>Wrap profile as used</h2><pre>" + html.escape(json.dumps(profile, indent=2)) + "</pre>")
    parts.append("</body></html>")
    report = out_dir / "report.html"
    _write(report, lambda path: path.write_text("\n".join(parts), encoding="utf-8"))
    return report


def _write(path: Path, write) -> None:
    try:
        write(path)
    except OSError as error:
        raise RigError(f"cannot write {path}: {error.strerror or error}") from None

