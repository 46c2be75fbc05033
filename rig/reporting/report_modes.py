"""A run that tested several modes (``rig run --mode all``) in the report and the certificate: the wrap's overall
verdict first, then per mode its verdict, claims (± U), behaviour and spectrum; the run's timeline with the mode
boundaries marked. A one-mode run (and every older run) is reported as before: none of this applies to it."""

from __future__ import annotations

import html
from typing import Any

import pandas as pd

from rig.reporting.modes import mode_rows, several_modes, wrap_verdict  # noqa: F401 - re-exported
from rig.results.schema import RunManifest


def headline(manifest: RunManifest, summary: pd.DataFrame, colours: dict[str, str]) -> str:
    """The wrap's overall verdict over every mode, then one line per mode."""
    records = several_modes(manifest)
    verdict = wrap_verdict(manifest)
    counts = [str(v) for v in summary.verdict] if not summary.empty else []
    said = ", ".join(f"{counts.count(v)} {v}" for v in ("FAIL", "MARGINAL", "PASS", "NOT MEASURED") if v in counts)
    sentence = (f"the wrap over its {len(records)} modes ({said or 'no claim judged'}); the run ended "
                f"{manifest.outcome}: {manifest.reason}")
    items = "".join(f'<li><b style="color:{colours.get(str(m.get("verdict")), "#000")}">'
                    f'{html.escape(str(m.get("verdict") or ""))}</b> mode \'{html.escape(str(m["name"]))}\': '
                    f"{html.escape(str(m.get('outcome') or ''))}"
                    + (f" ({html.escape('; '.join(map(str, m.get('notes') or [])))})" if m.get("notes") else "")
                    + "</li>" for m in records)
    return (f'<p><span class=overall id=overall style="background:{colours.get(verdict, "#c62828")}">'
            f"{html.escape(verdict)}</span> {html.escape(sentence)}</p><ul class=claims id=modes>{items}</ul>")


def mode_figures(samples: pd.DataFrame, summary: pd.DataFrame, manifest: RunManifest, info, uncalibrated: bool
                 ) -> dict[str, Any]:
    """Per mode its verdicts and its spectrum (that mode's rows only), named ``verdicts-<mode>``,
    ``spectrum-<mode>``."""
    from rig.reporting.plots import spectrum_figure, verdict_figure
    from rig.results.writer import slug

    figures: dict[str, Any] = {}
    for record in several_modes(manifest):
        name = str(record["name"])
        rows, claims = mode_rows(samples, name), mode_rows(summary, name)
        if not claims.empty:
            figures[f"verdicts-{slug(name)}"] = verdict_figure(claims, uncalibrated, info)
        if not rows.empty:
            figures[f"spectrum-{slug(name)}"] = spectrum_figure(rows, info, claims)
    return figures


def mode_sections(manifest: RunManifest, summary: pd.DataFrame, images: dict[str, bytes], uncalibrated: bool
                  ) -> list[str]:
    """Per mode: its verdict and outcome, one line per claim (± U), the verdict table, its measured behaviour
    and its spectrum."""
    from rig.reporting.html import VERDICT_COLOURS
    from rig.reporting.html import image as _image
    from rig.reporting.html import pairs as _pairs
    from rig.reporting.html import table as _table
    from rig.reporting.report_text import behaviour_rows, claim_lines
    from rig.reporting.report_text import summary_table as _summary_table
    from rig.results.writer import slug

    parts = []
    for number, record in enumerate(several_modes(manifest)):
        name, verdict = str(record["name"]), str(record.get("verdict") or "")
        claims = mode_rows(summary, name)
        parts.append(f"<h2 id='mode-{html.escape(slug(name))}'>Mode {number + 1}: '{html.escape(name)}': "
                     f'<span style="color:{VERDICT_COLOURS.get(verdict, "#c62828")}">{html.escape(verdict)}</span>'
                     "</h2>")
        parts.append(f"<p>{html.escape(str(record.get('outcome') or ''))}: {html.escape(str(record.get('reason')))}"
                     f"; {record.get('presses', 0)} button press(es) after power-on.</p>")
        for note in record.get("notes") or []:
            parts.append(f"<p class=warn>{html.escape(str(note))}</p>")
        if claims.empty:
            parts.append("<p>No claim judged in this mode.</p>")
        else:
            items = "".join(f'<li><b style="color:{VERDICT_COLOURS.get(v, "#000")}">{html.escape(v)}</b> '
                            f"{html.escape(claim)}: {html.escape(text)}</li>" for v, claim, text in claim_lines(claims))
            parts.append(f"<ul class=claims>{items}</ul>")
            parts.append(_table(_summary_table(claims.drop(columns=["mode"], errors="ignore"), uncalibrated)))
        for kind, alt in (("verdicts", "verdict per claim"), ("spectrum", "spectrum per channel with fitted lines")):
            key = f"{kind}-{slug(name)}"
            if key in images:
                parts.append(_image(key, images[key], f"mode '{name}': {alt}"))
        behaviour = record.get("behaviour") or {}
        if behaviour:
            parts.append(f"<h3>Measured behaviour, mode '{html.escape(name)}'</h3>" + _pairs(behaviour_rows(behaviour)))
    parts.append("<h2>The whole run</h2><p>The timeline below runs through every mode; a solid line marks where "
                 "each mode starts (its own dark baseline, switch-on and button presses).</p>")
    return parts
