"""``rig report --pdf``: a one-page test certificate (matplotlib's PDF backend, text kept as text).

Wrap, unit, date; the overall verdict and each claim's verdict with ± U; the spectrum with the claimed lines;
the surface temperature against its claimed limit; the calibration's traceability. SIMULATED, UNCALIBRATED and
DID NOT FINISH are stamped across the page when they apply.
"""

from __future__ import annotations

import io
from pathlib import Path
from textwrap import shorten

import matplotlib.image
import pandas as pd
from matplotlib.figure import Figure

from rig.reporting.plot_parts import CLAIM_COLOUR, CUTOUT_COLOUR, Stamp, finite, png
from rig.reporting.report_text import band_words, claim_lines, measured_words, overall_verdict, traceability_rows
from rig.results.banners import calibrated, read_manifest

A4_IN = (8.27, 11.69)
VERDICT_COLOURS = {"PASS": "#2e7d32", "MARGINAL": "#f9a825", "FAIL": "#c62828", "NOT MEASURED": "#757575",
                   "DID NOT FINISH": "#c62828"}


def stamps(manifest, has_summary: bool) -> list[str]:
    """What must be stamped across the page."""
    words = []
    if manifest.backend == "sim":
        words.append("SIMULATED")
    if not calibrated(manifest):
        words.append("UNCALIBRATED")
    if not manifest.complete or not has_summary:
        words.append("DID NOT FINISH")
    return words


def _temperature(axis, samples: pd.DataFrame, summary: pd.DataFrame, cutout_c: float | None) -> None:
    from rig.reporting.plots import claim_row

    if "surface_c" in samples and samples.surface_c.notna().any():
        axis.plot(samples.t_s, samples.surface_c, color="#e65100", linewidth=1.2, label="surface")
    row = claim_row(summary, "surface_max_c")
    limit = finite(row.high) if row is not None else None
    if limit is not None:
        axis.axhline(limit, color=CLAIM_COLOUR, linewidth=1.5, label=f"claim: at most {limit:g} °C")
    if cutout_c is not None:
        axis.axhline(cutout_c, color=CUTOUT_COLOUR, linestyle="--", linewidth=1,
                     label=f"safety cut-out {cutout_c:g} °C")
    axis.set_xlabel("time since start (s)", fontsize=7)
    axis.set_ylabel("surface (°C)", fontsize=7)
    axis.tick_params(labelsize=6)
    axis.legend(fontsize=6, loc="lower right")
    axis.set_title("Surface temperature against the claimed limit", fontsize=8, loc="left")


def certificate_figure(run_dir: Path) -> Figure:
    """The certificate page of a run folder."""
    from rig.reporting.plots import spectrum_figure
    from rig.results.read import read_csv_checked, read_summary, run_chip

    manifest = read_manifest(run_dir)
    samples = read_csv_checked(run_dir / "samples.csv", filled=(*run_chip(run_dir).channels, "gain_x", "t_int_ms",
                                                                "t_s"),
                               missing_ok=True, empty_ok=True)
    summary = read_summary(run_dir / "summary.csv")
    info = Stamp.from_manifest(manifest)
    from rig.reporting.modes import mode_rows, several_modes, wrap_verdict

    modes = several_modes(manifest)  # several modes: one verdict table with a mode column, the first's spectrum
    figure = Figure(figsize=A4_IN)
    text = figure.text
    y = 0.965
    text(0.06, y, "Test certificate: red-light therapy wrap", fontsize=15, fontweight="bold", va="top")
    y -= 0.035
    for label, value in (("wrap", manifest.wrap_label), ("unit", str(manifest.profile_as_used.get("unit", ""))),
                         ("mode", manifest.mode), ("date", info.date), ("run", manifest.run_id),
                         ("bench", "SIMULATED" if info.simulated else f"real ({manifest.sensor_id})")):
        text(0.06, y, label, fontsize=8, color="#616161", va="top")
        text(0.16, y, shorten(value, 90), fontsize=8, va="top")
        y -= 0.016
    verdict, sentence = overall_verdict(summary, manifest)
    if modes:
        verdict = wrap_verdict(manifest)
        sentence = f"the wrap over its {len(modes)} modes: " + ", ".join(
            f"'{m['name']}' {m.get('verdict') or m.get('outcome')}" for m in modes) + (
            f"; the run ended {manifest.outcome}")
    y -= 0.01
    text(0.06, y, f" {verdict} ", fontsize=16, fontweight="bold", color="white", va="top",
         bbox={"facecolor": VERDICT_COLOURS.get(verdict, "#c62828"), "edgecolor": "none", "pad": 4}, gid="overall")
    text(0.06, y - 0.04, shorten(sentence, 130), fontsize=8, va="top")
    y -= 0.065
    columns = (("mode", 0.06), ("claim", 0.19), ("claimed", 0.45), ("measured ± U (k = 2)", 0.61),
               ("verdict", 0.84)) if modes else (("claim", 0.06), ("claimed", 0.40), ("measured ± U (k = 2)", 0.58),
                                                 ("verdict", 0.82))
    for header, x in columns:
        text(x, y, header, fontsize=8, fontweight="bold", va="top")
    y -= 0.018
    step = 0.016 if len(summary) <= 10 else 0.013  # several modes: more lines, closer
    for name in [str(m["name"]) for m in modes] or [None]:
        claims = summary if name is None else mode_rows(summary, name)
        by_claim = {str(r["claim"]): r for r in claims.to_dict("records")} if not claims.empty else {}
        x = [c[1] for c in columns][-4:]
        if name is not None:
            text(0.06, y, shorten(name, 18), fontsize=8, fontweight="bold", va="top")
        for v, claim, _ in claim_lines(claims) if not claims.empty else []:
            row = by_claim[claim]
            text(x[0], y, shorten(claim, 40 if modes else 44), fontsize=8, va="top")
            text(x[1], y, band_words(row), fontsize=8, va="top")
            text(x[2], y, measured_words(row), fontsize=8, va="top")
            text(x[3], y, v, fontsize=8, fontweight="bold", color=VERDICT_COLOURS.get(v, "#000"), va="top")
            y -= step
    if summary.empty:
        text(0.06, y, "no claim was judged (the run stopped before its summary)", fontsize=8, va="top")
        y -= 0.016
    y -= 0.01
    plot_h = 0.25
    if not samples.empty:
        shown, claims = samples, summary
        if modes:  # the first mode's spectrum (each mode's is in report.html)
            first = str(modes[0]["name"])
            shown, claims = mode_rows(samples, first), mode_rows(summary, first)
            text(0.06, y, f"Spectrum of mode '{shorten(first, 30)}' (every mode's: report.html)", fontsize=8,
                 va="top", gid="spectrum-mode")
            y -= 0.014
        spectrum = matplotlib.image.imread(io.BytesIO(png(spectrum_figure(shown, None, claims))), format="png")
        image_axis = figure.add_axes((0.04, y - plot_h - 0.005, 0.92, plot_h))
        image_axis.imshow(spectrum, interpolation="antialiased")
        image_axis.set_axis_off()
        y -= plot_h + 0.02
        temperature_axis = figure.add_axes((0.12, y - 0.13, 0.83, 0.11))
        _temperature(temperature_axis, samples, summary, manifest.interlock_surface_c)
        if modes:
            from rig.reporting.modes import mark_modes

            mark_modes([temperature_axis], samples)
        y -= 0.175
    text(0.06, y, "Calibration traceability", fontsize=9, fontweight="bold", va="top")
    y -= 0.018
    rows = traceability_rows(manifest)
    room = max(int((y - 0.05) / 0.013), 1)
    if len(rows) > room:  # what does not fit is in report.html
        rows = rows[:room - 1] + [("…", f"{len(rows) - room + 1} more lines: see report.html")]
    for label, value in rows:
        text(0.06, y, shorten(label, 34), fontsize=7, color="#424242", va="top")
        text(0.33, y, shorten(value, 105), fontsize=7, va="top")
        y -= 0.013
    text(0.06, 0.02, "PASS: measured ± U inside the claimed band; FAIL: entirely outside; MARGINAL: straddles a limit. "
         "U: expanded uncertainty (k = 2, about 95 %).", fontsize=6.5, color="#616161")
    text(0.06, 0.008, f"rig {manifest.versions.get('rig', '') if isinstance(manifest.versions, dict) else ''}"
         f" | run {manifest.run_id}", fontsize=6.5, color="#616161")
    words = stamps(manifest, not summary.empty)
    if words:  # said in the text too, where a reader (and pdftotext) reads it straight
        figure.text(0.94, 0.965, " · ".join(words), fontsize=10, color="#c62828", fontweight="bold", ha="right",
                    va="top", gid="stamps")
    for index, word in enumerate(words):
        figure.text(0.5, 0.62 - 0.22 * index, word, fontsize=64, color="#c62828", alpha=0.18, rotation=35,
                    ha="center", va="center", fontweight="bold", gid="stamp-" + word.lower().replace(" ", "-"))
    return figure


def write_certificate(run_dir: Path, out: Path) -> Path:
    """Write the certificate PDF of ``run_dir`` to ``out`` (a file path); return it."""
    from rig.errors import RigError

    figure = certificate_figure(run_dir)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(out, format="pdf", metadata={"Title": f"rig test certificate {read_manifest(run_dir).run_id}",
                                                    "Creator": "rig"})
    except OSError as error:
        raise RigError(f"cannot write {out}: {error.strerror or error}") from None
    return out
