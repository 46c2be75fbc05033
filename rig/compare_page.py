"""`rig compare --html FILE`: one self-contained page comparing runs for readers.

Banners first (simulated, uncalibrated, did not finish, calibration out of date), then the table,
then per claim the measured value ± U (k = 2) against the claimed band: across runs over time (one
colour per unit, with each unit's fitted ageing trend) or, with ``--by``, per group (mean ± U and the
spread across runs), then the trend table. Images are embedded, so the file can be emailed alone.
"""

from __future__ import annotations

import base64
import html
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from rig.banners import Banner, summarise
from rig.claim_ids import short_name
from rig.compare import claim_ids
from rig.compare_view import band, number
from rig.report import STYLE, VERDICT_COLOURS

UNIT_COLOURS = ["#1565c0", "#c62828", "#2e7d32", "#6a1b9a", "#ef6c00", "#00838f", "#5d4037", "#ad1457"]


def _verdict_html(verdict: object) -> str:
    if not isinstance(verdict, str) or not verdict:
        return ""
    return f'<b style="color:{VERDICT_COLOURS.get(verdict, "#000")}">{html.escape(verdict)}</b>'


def html_compare_table(table: pd.DataFrame) -> str:
    """The compare table as HTML: one row per run or group, a ``measured ± U verdict`` cell per claim."""
    grouped = "runs" in table.columns
    ids = claim_ids(table)
    keys = [k for k in ("wrap", "unit", "date") if k in table.columns] + ["runs", "runs_left_out"] if grouped \
        else ["run_id", "unit", "date", "backend", "calibration"]
    head = "".join(f"<th>{html.escape(k)}</th>" for k in keys) + "<th>overall</th>"
    for identifier in ids:
        name, unit = short_name(identifier)
        shared = table[[f"{identifier}_low", f"{identifier}_high"]].drop_duplicates()
        claim = band(*shared.iloc[0]) if len(shared) == 1 else "bands differ"
        head += f"<th>{html.escape(name)} ({html.escape(unit)})<br><small>claim {html.escape(claim)}</small></th>"
    body = []
    for _, row in table.iterrows():
        cells = [html.escape(number(row[k])) for k in keys]
        overall = _verdict_html(row.get("verdict"))
        if not grouped and not bool(row["complete"]):
            overall = f"<b class=warn>did not finish ({html.escape(str(row['outcome']))})</b> {overall}"
        cells.append(overall)
        for identifier in ids:
            value, u = number(row.get(identifier), 4), number(row.get(f"{identifier}_u"), 2)
            text = f"{value} ± {u}" if value and u else value
            if grouped:
                spread = number(row.get(f"{identifier}_spread"), 2)
                counts = ", ".join(f"{int(row[f'{identifier}_{v.lower().replace(chr(32), chr(95))}'])} {v}"
                                   for v in VERDICT_COLOURS
                                   if row.get(f"{identifier}_{v.lower().replace(chr(32), chr(95))}", 0))
                cells.append(html.escape(text + (f" (spread {spread})" if spread else "")) +
                             (f"<br><small>{html.escape(counts)}</small>" if counts else ""))
            else:
                cells.append(f"{html.escape(text)} {_verdict_html(row.get(f'{identifier}_verdict'))}".strip())
        body.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _runs_axis(axis, table: pd.DataFrame, identifier: str, trend: pd.DataFrame) -> None:
    """One claim across runs: value ± U against time, a colour per unit, hollow = did not finish."""
    from rig.plotting import draw_band, finite, view_range

    dates = pd.to_datetime(table.date)
    units = list(dict.fromkeys(table.unit))
    values = [v for v in table[identifier].dropna()]
    lows, highs = table[f"{identifier}_low"].dropna().unique(), table[f"{identifier}_high"].dropna().unique()
    shared = len(lows) <= 1 and len(highs) <= 1
    low = finite(lows[0]) if len(lows) else None
    high = finite(highs[0]) if len(highs) else None
    axis.set_ylim(*view_range(values + list(table[identifier] + table[f"{identifier}_u"].fillna(0)).copy()
                              if values else [], low if shared else None, high if shared else None))
    for index, unit in enumerate(units):
        colour = UNIT_COLOURS[index % len(UNIT_COLOURS)]
        rows = table[table.unit == unit]
        for finished, marker_face in ((True, colour), (False, "white")):
            part = rows[rows.complete.astype(bool) == finished]
            if part.empty:
                continue
            axis.errorbar(pd.to_datetime(part.date), part[identifier], yerr=part[f"{identifier}_u"].fillna(0),
                          fmt="o", color=colour, markerfacecolor=marker_face, capsize=3, markersize=5,
                          label=f"{unit}" if finished else f"{unit}: did not finish")
        fit = trend[(trend.unit == unit) & (trend.claim_id == identifier)] if not trend.empty else trend
        if not fit.empty and np.isfinite(fit.change_per_month.iloc[0]):
            done = rows[rows.complete.astype(bool) & rows[identifier].notna()]
            x = pd.to_datetime(done.date)
            days = (x - x.min()).dt.total_seconds() / 86400.0
            slope, intercept = np.polyfit(days, done[identifier].astype(float), 1)
            axis.plot([x.min(), x.max()], [intercept, intercept + slope * days.max()], "-", color=colour,
                      linewidth=1, alpha=0.7, label=f"{unit} trend {slope * 30:+.3g}/month")
    if shared:
        axis.set_xlim(dates.min() - pd.Timedelta(days=2), dates.max() + pd.Timedelta(days=2))
        from matplotlib.dates import date2num

        draw_band(axis, low, high, vertical=False, span=(date2num(dates.min() - pd.Timedelta(days=2)),
                                                          date2num(dates.max() + pd.Timedelta(days=2))))
    else:
        axis.text(0.01, 0.95, "bands differ between runs: see the table", transform=axis.transAxes, fontsize=7)
    axis.tick_params(axis="x", labelsize=7, rotation=20)


def _groups_axis(axis, table: pd.DataFrame, identifier: str, keys: list[str]) -> None:
    """One claim per group: mean ± U (thick: spread across runs) against the band."""
    from rig.plotting import draw_band, finite, view_range

    labels = [" ".join(str(row[k]) for k in keys) + f" (n={row.runs})" for _, row in table.iterrows()]
    y = np.arange(len(table))
    values, u = table[identifier].astype(float), table[f"{identifier}_u"].astype(float).fillna(0)
    spread = table[f"{identifier}_spread"].astype(float).fillna(0)
    low, high = finite(table[f"{identifier}_low"].iloc[0]), finite(table[f"{identifier}_high"].iloc[0])
    axis.set_xlim(*view_range(list((values - u).dropna()) + list((values + u).dropna()), low, high))
    axis.set_ylim(-0.7, len(table) - 0.3)
    draw_band(axis, low, high, vertical=True)
    axis.errorbar(values, y, xerr=spread, fmt="none", ecolor="#90a4ae", elinewidth=6, alpha=0.8,
                  label="spread across runs (1 sd)")
    axis.errorbar(values, y, xerr=u, fmt="o", color="#0d47a1", capsize=4, label="mean ± U (k = 2)")
    axis.set_yticks(y, labels, fontsize=7)
    axis.invert_yaxis()


def claims_figure(table: pd.DataFrame, by_keys: list[str] | None, trend: pd.DataFrame):
    """One panel per claim, across runs (over time) or across groups."""
    from matplotlib.figure import Figure

    ids = [i for i in claim_ids(table) if table[i].notna().any()]
    height = (1.2 + 0.35 * len(table)) if by_keys else 2.6
    figure = Figure(figsize=(8.5, max(height, 1.8) * max(len(ids), 1) + 0.6))
    axes = figure.subplots(max(len(ids), 1), 1, squeeze=False)[:, 0]
    for axis, identifier in zip(axes, ids, strict=False):
        name, unit = short_name(identifier)
        if by_keys:
            _groups_axis(axis, table, identifier, by_keys)
        else:
            _runs_axis(axis, table, identifier, trend)
        axis.set_title(f"{name} ({unit})", loc="left", fontsize=9)
        axis.legend(fontsize=6, loc="best")
    figure.suptitle("Measured ± U (k = 2) against the claimed band (green)", x=0.02, ha="left", fontsize=10)
    from rig.plotting import margins

    margins(figure, left_in=1.6 if by_keys else 0.8, top_in=0.5, bottom_in=0.5, hspace=0.55)
    return figure


def build_compare_page(table: pd.DataFrame, out: Path, banners: list[Banner], notes: list[str],
                       trend: pd.DataFrame, by_keys: list[str] | None = None, title: str = "") -> Path:
    """Write the comparison page to ``out`` (one HTML file, images embedded); return its path."""
    from rig.plotting import png

    image = base64.b64encode(png(claims_figure(table, by_keys, trend))).decode("ascii")
    parts = ["<!doctype html><html><head><meta charset='utf-8'>",
             f"<title>rig compare: {html.escape(title)}</title><style>{STYLE}</style></head><body>",
             f"<h1>{html.escape(title or 'rig compare')}</h1>",
             *[banner.html() for banner in banners],
             *[f"<p class='note'>note: {html.escape(note)}</p>" for note in notes],
             "<h2>Claims per " + ("group" if by_keys else "run") + "</h2>",
             "<p>Each cell: measured ± U, the expanded uncertainty (k = 2, about 95 %), and the verdict. "
             + ("Groups leave out runs that did not finish (runs_left_out)." if by_keys else
                "Runs that did not finish are marked; their verdicts cover only what was measured.") + "</p>",
             html_compare_table(table),
             f'<figure><img id="claims" alt="each claim: measured ± U against the claimed band" '
             f'src="data:image/png;base64,{image}"></figure>']
    if not trend.empty:
        parts.append("<h2>Ageing: change per month per unit (linear fit)</h2>")
        shown = trend.copy()
        shown["change_per_month"] = shown.change_per_month.map(lambda v: number(v, 3))
        shown["change_per_month_pct"] = shown.change_per_month_pct.map(lambda v: number(v, 3))
        from rig.report import _table

        parts.append(_table(shown))
    parts.append(f"<p><small>made by rig compare, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC</small></p>")
    parts.append("</body></html>")
    out.write_text("\n".join(parts), encoding="utf-8")
    return out


def compare_banners(runs: pd.DataFrame) -> list[Banner]:
    """Banners for a set of loaded runs (``runs.banners`` per run), one per kind with counts."""
    return summarise((row.run_id, str(row.banners).split(",")) for row in runs.itertuples())
