"""The compare table for a terminal: one line per run (or group), one cell per claim, no "nan".

Each claim cell is ``measured±u`` and a verdict mark (✓ PASS, ~ MARGINAL, ✗ FAIL,
– NOT MEASURED); the claimed band is in the column header when the runs share it.
Cells never wrap: at 120 columns a long run id is cut with an ellipsis instead.
"""

from __future__ import annotations

import math

import pandas as pd
from rich import box
from rich.markup import escape
from rich.table import Table

from rig.claim_ids import short_name
from rig.compare import claim_ids

MARKS = {"PASS": ("✓", "green"), "MARGINAL": ("~", "yellow"), "FAIL": ("✗", "bold red"),
         "NOT MEASURED": ("–", "dim")}
STYLES = {"PASS": "green", "MARGINAL": "yellow", "FAIL": "bold red", "NOT MEASURED": "dim"}
UNFINISHED = {"ABORTED": "ABORTED", "ERROR": "ERROR", "RUNNING": "CRASHED"}
LEGEND = ("✓ PASS  ~ MARGINAL  ✗ FAIL  – NOT MEASURED; ± is the expanded uncertainty (k = 2); "
          "ABORTED / ERROR / CRASHED: the run did not finish")


def number(value: object, digits: int = 4) -> str:
    """A number for a cell: blank for missing (never "nan")."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return ""
    return f"{value:.{digits}g}" if isinstance(value, (int, float)) else str(value)


def band(low: object, high: object) -> str:
    """``40–60``, ``≤ 43``, ``≥ 0.7`` or blank."""
    low_text, high_text = number(low), number(high)
    if low_text and high_text:
        return f"{low_text}–{high_text}"
    return f"≤ {high_text}" if high_text else f"≥ {low_text}" if low_text else ""


def _shared_band(table: pd.DataFrame, identifier: str) -> str:
    lows, highs = table[f"{identifier}_low"].dropna().unique(), table[f"{identifier}_high"].dropna().unique()
    if len(lows) > 1 or len(highs) > 1:
        return "bands differ"
    return band(lows[0] if len(lows) else None, highs[0] if len(highs) else None)


def _run_cell(row: pd.Series, identifier: str) -> str:
    verdict = row.get(f"{identifier}_verdict")
    if not isinstance(verdict, str):
        return ""  # not claimed in this run
    mark, style = MARKS.get(verdict, ("?", ""))
    value = number(row.get(identifier), 3)
    u = number(row.get(f"{identifier}_u"), 2)
    text = f"{value}±{u}" if value and u else value
    return f"{escape(text)} [{style}]{mark}[/]".strip()


def _group_cell(row: pd.Series, identifier: str) -> str:
    value = number(row.get(identifier), 3)
    if not value:
        return ""
    u = number(row.get(f"{identifier}_u"), 2)
    text = escape(value + (f"±{u}" if u else ""))
    counts = [f"[{STYLES[v]}]{int(row[f'{identifier}_{v.lower()}'])}{MARKS[v][0]}[/]"
              for v in ("PASS", "MARGINAL", "FAIL") if row.get(f"{identifier}_{v.lower()}", 0)]
    return f"{text} {''.join(counts)}"


def _overall(row: pd.Series) -> str:
    if "complete" in row and not bool(row["complete"]):
        return f"[bold red]{UNFINISHED.get(row.get('outcome'), 'UNFINISHED')}[/]"
    verdict = row.get("verdict") or ""
    return f"[{STYLES.get(verdict, '')}]{verdict}[/]" if verdict else ""


def terminal_table(table: pd.DataFrame, title: str) -> Table:
    """A rich table of a compare table (per run or per group), one line per row."""
    grouped = "runs" in table.columns
    ids = claim_ids(table)
    caption = LEGEND + ("; runs 3+: more that did not finish, left out; group cells: mean±u and runs per "
                        "verdict (spread across runs: --csv, --html)" if grouped else "")
    view = Table(title=escape(title), box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 1),
                 collapse_padding=True, caption=caption, caption_justify="left")
    if grouped:
        keys = [c for c in ("wrap", "unit", "date") if c in table.columns]
        for key in keys:
            view.add_column(key, no_wrap=True, overflow="ellipsis", max_width=24)
        view.add_column("runs", justify="right", no_wrap=True)
    else:
        view.add_column("run", no_wrap=True, overflow="ellipsis", min_width=15, max_width=22)
        view.add_column("unit", no_wrap=True, overflow="ellipsis", max_width=12)
    view.add_column("overall", no_wrap=True, min_width=7)
    for identifier in ids:
        name, unit = short_name(identifier)
        view.add_column(f"{name}\n{unit}\n{_shared_band(table, identifier)}", justify="right", no_wrap=True,
                        overflow="ellipsis")
    for _, row in table.iterrows():
        if grouped:
            left = [escape(str(row[k])) for k in keys]
            left.append(f"{row['runs']}" + ("+" if row["runs_left_out"] else ""))
        else:
            left = [escape(str(row["run_id"])), escape(str(row["unit"]))]
        cells = [(_group_cell if grouped else _run_cell)(row, identifier) for identifier in ids]
        view.add_row(*left, _overall(row), *cells)
    return view


def trend_table(frame: pd.DataFrame, title: str) -> Table:
    """The ageing trend per unit and claim, blanks for what cannot be fitted (runs less than a day apart)."""
    view = Table(title=escape(title), box=box.SIMPLE_HEAD, show_edge=False,
                 caption="change per month: slope of a straight-line fit over the runs' dates, in the claim's unit",
                 caption_justify="left")
    for column in ("wrap", "unit", "claim", "runs", "first", "last", "first value", "last value", "per month",
                   "per month %"):
        view.add_column(column, no_wrap=column not in ("wrap", "claim"),
                        justify="right" if column in ("runs", "first value", "last value", "per month",
                                                      "per month %") else "left")
    for _, row in frame.iterrows():
        name, unit = short_name(row.claim_id)
        view.add_row(escape(str(row.wrap)), escape(str(row.unit)), escape(f"{name} ({unit})" if unit else name),
                     str(row.runs), row["first"], row["last"], number(row.first_value), number(row.last_value),
                     number(row.change_per_month, 3), number(row.change_per_month_pct, 3))
    return view
