"""A run that tested several modes (``rig run --mode all``) in the report and the certificate: the wrap's overall
verdict first, then per mode its verdict, claims (± U), behaviour and spectrum; the run's timeline with the mode
boundaries marked. A one-mode run (and every older run) is reported as before: none of this applies to it."""

from __future__ import annotations

import html
from typing import Any

import pandas as pd

from rig.results.schema import RunManifest

MODE_LINE_COLOUR = "#212121"


def several_modes(manifest: RunManifest) -> list[dict[str, Any]]:
    """The modes a run tested (run.json ``modes``) when there are more than one, else ``[]``."""
    records = [m for m in manifest.modes if isinstance(m, dict) and m.get("name")]
    return records if len(records) > 1 else []


def wrap_verdict(manifest: RunManifest) -> str:
    """The wrap's overall verdict over its modes (run.json ``verdict``); a run that did not finish is DID NOT
    FINISH unless a claim already FAILed (as `rig run` decides it)."""
    verdict = manifest.verdict or "NOT MEASURED"
    return verdict if manifest.complete or verdict == "FAIL" else "DID NOT FINISH"


def mode_rows(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    """The rows of one mode (samples or summary) by their ``mode`` column."""
    if frame.empty or "mode" not in frame:
        return frame
    return frame[frame["mode"].astype(str) == name].reset_index(drop=True)


def mode_at(samples: pd.DataFrame, t_s: float) -> str | None:
    """The mode the run was in at ``t_s`` (the mode of the last sample at or before it), or None."""
    if samples.empty or "mode" not in samples:
        return None
    before = samples[samples.t_s <= t_s]["mode"].dropna()
    return str(before.iloc[-1]) if len(before) else None


def summary_at(summary: pd.DataFrame, samples: pd.DataFrame, t_s: float) -> pd.DataFrame:
    """The summary rows that judge what happened at ``t_s``: that mode's when the run tested several."""
    mode = mode_at(samples, t_s)
    if mode is None or summary.empty or "mode" not in summary or summary["mode"].nunique() < 2:
        return summary
    return mode_rows(summary, mode)


def mode_boundaries(samples: pd.DataFrame) -> list[tuple[str, float]]:
    """``(mode, t_s of its first sample)`` for each mode in the order the run tested them (only with several)."""
    if samples.empty or "mode" not in samples:
        return []
    modes = samples["mode"].dropna().astype(str)
    modes = modes[modes != ""]
    starts = modes[modes != modes.shift()]
    found = [(str(mode), float(samples.t_s[index])) for index, mode in starts.items()]
    return found if len({m for m, _ in found}) > 1 else []


def mark_modes(axes: list, samples: pd.DataFrame) -> None:
    """A solid line where each mode starts on every axis, and its name on the first."""
    for number, (mode, start) in enumerate(mode_boundaries(samples)):
        for axis in axes:
            axis.axvline(start, color=MODE_LINE_COLOUR, linewidth=1.3, gid="mode-start", zorder=4)
        axes[0].text(start, 0.86, f" mode {number + 1}: '{mode}'", transform=axes[0].get_xaxis_transform(),
                     fontsize=7, ha="left", va="top", color=MODE_LINE_COLOUR, gid="mode-label",
                     bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.85, "pad": 1}, zorder=5)


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
    from rig.reporting.report import VERDICT_COLOURS, _image, _pairs, _summary_table, _table
    from rig.reporting.report_text import behaviour_rows, claim_lines
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
