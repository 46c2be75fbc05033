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

from rig.claims.ids import short_name
from rig.reporting.compare import claim_ids
from rig.reporting.compare_view import band, number
from rig.reporting.html import STYLE, VERDICT_COLOURS
from rig.reporting.html import table as frame_table
from rig.results.banners import Banner, summarise

UNIT_COLOURS = ["#1565c0", "#c62828", "#2e7d32", "#6a1b9a", "#ef6c00", "#00838f", "#5d4037", "#ad1457"]


def _verdict_html(verdict: object) -> str:
    if not isinstance(verdict, str) or not verdict:
        return ""
    return f'<b style="color:{VERDICT_COLOURS.get(verdict, "#000")}">{html.escape(verdict)}</b>'


def html_compare_table(table: pd.DataFrame) -> str:
    """The compare table as HTML: one row per run or group, a ``measured ± U verdict`` cell per claim."""
    grouped = "runs" in table.columns
    ids = claim_ids(table)
    keys = [k for k in ("wrap", "unit", "date", "mode") if k in table.columns] + ["runs", "runs_left_out"] if grouped \
        else ["run_id", "unit", "mode", "date", "backend", "calibration"]
    head = "".join(f"<th>{html.escape(k)}</th>" for k in keys) + "<th>overall</th>"
    differ = {}
    for identifier in ids:
        name, unit = short_name(identifier)
        claimed = table[table[f"{identifier}_low"].notna() | table[f"{identifier}_high"].notna()]
        shared = claimed[[f"{identifier}_low", f"{identifier}_high"]].drop_duplicates()
        differ[identifier] = len(shared) > 1
        claim = "claim " + band(*shared.iloc[0]) if len(shared) == 1 else "claims differ: each cell has its own" \
            if len(shared) > 1 else "not claimed"
        head += f"<th>{html.escape(name)} ({html.escape(unit)})<br><small>{html.escape(claim)}</small></th>"
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
            own = band(row.get(f"{identifier}_low"), row.get(f"{identifier}_high"))
            if differ[identifier] and own:
                cells[-1] += f"<br><small>claim {html.escape(own)}</small>"
        body.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def run_times(table: pd.DataFrame) -> pd.Series:
    """Each run's start (date and time, from its run id ``YYYYmmdd-HHMMSS_...``; else its date), so runs of one
    day stand apart on a time axis."""
    parsed = pd.to_datetime(table.run_id.astype(str).str.slice(0, 15), format="%Y%m%d-%H%M%S", errors="coerce")
    times = parsed.fillna(pd.to_datetime(table.date)).set_axis(table.index)
    # runs that share a start (a day, for runs named otherwise) are set a little apart, in run order
    ties = int(times.groupby(times).transform("size").max())  # run ids tell seconds: stay inside that second
    step = pd.Timedelta(seconds=1) / ties if parsed.notna().all() else pd.Timedelta(hours=1)
    return times + times.groupby(times).cumcount() * step


def _bands(table: pd.DataFrame, identifier: str) -> list[tuple[float | None, float | None, pd.DataFrame]]:
    """Each distinct claimed band of a claim, with the rows (runs or groups) that claim it."""
    from rig.reporting.plot_parts import finite

    found = []
    lows, highs = table[f"{identifier}_low"], table[f"{identifier}_high"]
    claimed = table[lows.notna() | highs.notna()]
    for (low, high), rows in claimed.groupby([lows[claimed.index].fillna(np.inf),
                                               highs[claimed.index].fillna(np.inf)], sort=True):
        found.append((finite(low), finite(high), rows))
    return found


def _runs_axis(axis, table: pd.DataFrame, identifier: str, trend: pd.DataFrame) -> None:
    """One claim across runs: value ± U against time, a colour per unit, hollow = did not finish; each claimed
    band drawn over the runs that claim it (labelled with their wraps when bands differ)."""
    from textwrap import fill

    from matplotlib.dates import date2num

    from rig.reporting.plot_parts import draw_band, view_range

    times = run_times(table)
    series, trend_series = _series(table), _series(trend) if not trend.empty else None
    units = list(dict.fromkeys(series))
    values = [v for v in table[identifier].dropna()]
    bands = _bands(table, identifier)
    edges = [e for low, high, _ in bands for e in (low, high) if e is not None]
    spread_values = values + list((table[identifier] + table[f"{identifier}_u"].fillna(0)).dropna()) + \
        list((table[identifier] - table[f"{identifier}_u"].fillna(0)).dropna()) + edges
    axis.set_ylim(*view_range(spread_values, None, None))
    ordered = np.sort(date2num(times.to_numpy()))
    gaps = np.diff(ordered)
    span = ordered[-1] - ordered[0]
    closest = float(gaps[gaps > 0].min()) if (gaps > 0).any() else 1.0
    half = max(0.4 * closest, 0.015 * span) if span else 1 / 24  # days: a band box around each run
    pad = max(span * 0.05, 1.5 * half)
    axis.set_xlim(ordered[0] - pad, ordered[-1] + pad)
    for low, high, rows in bands:
        wraps = ", ".join(dict.fromkeys(rows.wrap.astype(str))) if "wrap" in rows else ""
        label = fill(f"claim {band(low, high)}" + (f" ({wraps})" if len(bands) > 1 and wraps else ""), 30)
        for index, at in enumerate(date2num(times[rows.index].to_numpy())):
            # each run's own band, around that run only: another model's band never sits behind its point
            draw_band(axis, low, high, vertical=False, span=(at - half, at + half), label=label if index == 0 else None)
    for index, unit in enumerate(units):
        colour = UNIT_COLOURS[index % len(UNIT_COLOURS)]
        rows = table[series == unit]
        for finished, marker_face in ((True, colour), (False, "white")):
            part = rows[rows.complete.astype(bool) == finished]
            if part.empty:
                continue
            axis.errorbar(times[part.index], part[identifier], yerr=part[f"{identifier}_u"].fillna(0),
                          fmt="o", color=colour, markerfacecolor=marker_face, capsize=3, markersize=5,
                          label=fill(f"{unit}" if finished else f"{unit}: did not finish", 30), zorder=3)
        fit = trend[(trend_series == unit) & (trend.claim_id == identifier)] if not trend.empty else trend
        if not fit.empty and np.isfinite(fit.change_per_month.iloc[0]):
            done = rows[rows.complete.astype(bool) & rows[identifier].notna()]
            x = times[done.index]
            days = (x - x.min()).dt.total_seconds() / 86400.0
            slope, intercept = np.polyfit(days, done[identifier].astype(float), 1)
            axis.plot([x.min(), x.max()], [intercept, intercept + slope * days.max()], "-", color=colour,
                      linewidth=1, alpha=0.7, label=f"{unit} trend {slope * 30:+.3g}/month")
    axis.tick_params(axis="x", labelsize=7, rotation=20)


def _series(frame: pd.DataFrame) -> pd.Series:
    """What one colour stands for across runs: the unit, or the unit and mode when the runs tested several modes."""
    units = frame.unit.astype(str)
    if "mode" in frame and frame["mode"].nunique() > 1:
        return units + " " + frame["mode"].astype(str)
    return units


def group_label(row: pd.Series, keys: list[str], width: int = 24) -> str:
    """A group's name for the plot, wrapped (never clipped), with its run count."""
    from textwrap import fill

    return fill(" ".join(str(row[k]) for k in keys) + f" (n={row.runs})", width)


def _groups_axis(axis, table: pd.DataFrame, identifier: str, keys: list[str]) -> None:
    """One claim per group: mean ± U (thick: spread across runs) against that group's own claimed band."""
    from rig.reporting.plot_parts import BAND_COLOUR, CLAIM_COLOUR, finite, view_range

    labels = [group_label(row, keys) for _, row in table.iterrows()]
    y = np.arange(len(table))
    values, u = table[identifier].astype(float), table[f"{identifier}_u"].astype(float).fillna(0)
    spread = table[f"{identifier}_spread"].astype(float).fillna(0)
    lows, highs = table[f"{identifier}_low"].map(finite), table[f"{identifier}_high"].map(finite)
    edges = [e for e in [*lows, *highs] if e is not None]
    axis.set_xlim(*view_range(list((values - u).dropna()) + list((values + u).dropna()) + edges, None, None))
    axis.set_ylim(-0.7, len(table) - 0.3)
    left, right = axis.get_xlim()
    for index, (low, high) in enumerate(zip(lows, highs, strict=True)):
        if low is None and high is None:
            continue
        axis.fill_between([left if low is None else low, right if high is None else high], index - 0.42,
                          index + 0.42, facecolor=BAND_COLOUR, edgecolor=CLAIM_COLOUR, hatch="//", linewidth=0,
                          alpha=0.6, gid="claim-band", label="its claimed band" if index == 0 else None, zorder=0)
        for edge in (low, high):
            if edge is not None:
                axis.vlines(edge, index - 0.42, index + 0.42, color=CLAIM_COLOUR, linewidth=1.4, gid="claim-limit")
    axis.set_xlim(left, right)
    axis.errorbar(values, y, xerr=spread, fmt="none", ecolor="#90a4ae", elinewidth=6, alpha=0.8,
                  label="spread across runs (1 sd)")
    axis.errorbar(values, y, xerr=u, fmt="o", color="#0d47a1", capsize=4, label="mean ± U (k = 2)")
    axis.set_yticks(y, labels, fontsize=7)
    axis.invert_yaxis()


def claims_figure(table: pd.DataFrame, by_keys: list[str] | None, trend: pd.DataFrame):
    """One panel per claim, across runs (over time) or across groups; the title above the first panel, names
    wrapped rather than clipped, legends beside the panels."""
    from matplotlib.figure import Figure

    from rig.reporting.plot_parts import margins

    ids = [i for i in claim_ids(table) if table[i].notna().any()]
    labels = [group_label(row, by_keys) for _, row in table.iterrows()] if by_keys else []
    lines_per_group = max((label.count("\n") + 1 for label in labels), default=1)
    height = (1.0 + 0.3 * len(table) * lines_per_group) if by_keys else 2.6
    title_in = 0.75
    figure = Figure(figsize=(10, max(height, 1.8) * max(len(ids), 1) + title_in))
    axes = figure.subplots(max(len(ids), 1), 1, squeeze=False)[:, 0]
    for axis, identifier in zip(axes, ids, strict=False):
        name, unit = short_name(identifier)
        if by_keys:
            _groups_axis(axis, table, identifier, by_keys)
        else:
            _runs_axis(axis, table, identifier, trend)
        axis.set_title(f"{name} ({unit})", loc="left", fontsize=9)
        axis.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    figure.suptitle("Measured ± U (k = 2) against each claimed band (green, hatched)", x=0.02, ha="left",
                    fontsize=10, y=1 - 0.12 / figure.get_figheight(), va="top")
    longest = max((len(line) for label in labels for line in label.split("\n")), default=0)
    margins(figure, left_in=max(0.8, 0.2 + 0.065 * longest) if by_keys else 0.8, right_in=2.3, top_in=title_in,
            bottom_in=0.5, hspace=0.6)
    return figure


def build_compare_page(table: pd.DataFrame, out: Path, banners: list[Banner], notes: list[str],
                       trend: pd.DataFrame, by_keys: list[str] | None = None, title: str = "") -> Path:
    """Write the comparison page to ``out`` (one HTML file, images embedded); return its path."""
    from rig.reporting.plot_parts import png

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
        parts.append(frame_table(shown))
    parts.append(f"<p><small>made by rig compare, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC</small></p>")
    parts.append("</body></html>")
    out.write_text("\n".join(parts), encoding="utf-8")
    return out


def compare_banners(runs: pd.DataFrame) -> list[Banner]:
    """Banners for a set of loaded runs (``runs.banners`` per run), one per kind with counts."""
    return summarise((row.run_id, str(row.banners).split(",")) for row in runs.itertuples())
