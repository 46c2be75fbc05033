"""`rig report`: PNG plots and one self-contained HTML file for a run (and optionally others to compare).

Analysis side: pandas and matplotlib (Agg, no display needed; figures built without pyplot). The HTML
embeds every image as base64 so the file can be emailed on its own. Banners (simulated, uncalibrated,
did not finish, calibration out of date) come first, and every PNG is stamped with the run's identity.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np
import pandas as pd

from rig.errors import RigError
from rig.reporting.html import STYLE, VERDICT_COLOURS
from rig.reporting.html import image as _image
from rig.reporting.html import pairs as _pairs
from rig.reporting.html import table as _table
from rig.reporting.report_text import summary_table as _summary_table
from rig.results.banners import calibrated, read_manifest, run_banners, run_dir_banners  # noqa: F401 - re-exported


def _headline(summary: pd.DataFrame, manifest) -> str:
    """The buyer's answer first: the overall verdict, then one line per claim (worst first)."""
    from rig.reporting.report_text import claim_lines, overall_verdict

    verdict, sentence = overall_verdict(summary, manifest)
    colour = VERDICT_COLOURS.get(verdict, "#c62828")
    items = "".join(f'<li><b style="color:{VERDICT_COLOURS.get(v, "#000")}">{html.escape(v)}</b> '
                    f"{html.escape(claim)}: {html.escape(text)}</li>" for v, claim, text in claim_lines(summary))
    return (f'<p><span class=overall id=overall style="background:{colour}">{html.escape(verdict)}</span> '
            f"{html.escape(sentence)}</p><ul class=claims>{items}</ul>")


def build_report(run_dir: Path, others: list[Path] | None = None, out_dir: Path | None = None) -> Path:
    """Write ``report.html`` and the PNGs into ``out_dir`` (default: ``<run>/report``); return the HTML path."""
    from rig.reporting.plot_parts import Stamp, png
    from rig.reporting.plots import positions_figure, spectrum_figure, timeline_figure, verdict_figure
    from rig.results.read import read_csv_checked, read_summary, run_chip

    manifest = read_manifest(run_dir)
    # no samples.csv (the bench never opened) or only its header (stopped before a sample) is a short run, not damage
    chip = run_chip(run_dir)
    samples = read_csv_checked(run_dir / "samples.csv", filled=(*chip.channels, "gain_x", "t_int_ms", "t_s"),
                               missing_ok=True, empty_ok=True)
    summary = read_summary(run_dir / "summary.csv")
    _refuse_damage(run_dir, samples, summary, chip.gain_codes_x)
    out_dir = out_dir or run_dir / "report"
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise RigError(f"cannot make the report folder {out_dir}: {error.strerror or error}") from None
    cutout = manifest.interlock_surface_c
    info = Stamp.from_manifest(manifest)
    figures = {}
    from rig.reporting.modes import several_modes
    from rig.reporting.report_modes import headline, mode_figures, mode_sections

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


SAMPLE_LABELS = ("phase", "phase_kind", "wrap_on", "saturated")  # the columns the plots group and filter by


def _refuse_damage(run_dir: Path, samples: pd.DataFrame, summary: pd.DataFrame,
                   gain_codes_x: tuple[float, ...]) -> None:
    """What read_csv_checked lets through but a plot cannot take: a missing phase column, an infinite number, a
    gain the chip does not have, a summary row no run writes (unknown verdict, no band, a judged claim without
    a measured value). A RigError naming the file, the line and the column. ``gain_codes_x``: the run's chip's."""
    from rig.results.schema import summary_row_problem

    path = run_dir / "samples.csv"
    if not samples.empty:
        missing = [c for c in SAMPLE_LABELS if c not in samples.columns]
        if missing:
            raise RigError(f"{path}: missing column(s) {', '.join(map(repr, missing))}")
        for column in samples.columns:
            values = samples[column]
            if values.dtype.kind != "f":
                continue
            bad = np.isinf(values.to_numpy())
            if column == "gain_x":
                bad |= ~values.isin(gain_codes_x).to_numpy()
            elif column == "t_int_ms":
                bad |= ~(values > 0).to_numpy()
            if bad.any():
                line = int(bad.nonzero()[0][0])
                expected = f"one of {gain_codes_x}" if column == "gain_x" else "a finite number" + (
                    " > 0" if column == "t_int_ms" else "")
                raise RigError(f"{path}: line {line + 2}, column '{column}': expected {expected} "
                               f"(got {values.iloc[line]})")
    for index, row in enumerate(summary.to_dict("records")):
        problem = summary_row_problem(row)
        if problem:
            raise RigError(f"{run_dir / 'summary.csv'}: line {index + 2}, {problem}")


def _write(path: Path, write) -> None:
    try:
        write(path)
    except OSError as error:
        raise RigError(f"cannot write {path}: {error.strerror or error}") from None

