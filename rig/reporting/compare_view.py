"""The compare table for a terminal: one line per run (or group), one cell per claim, no "nan".

Each claim cell is ``measured±u`` and a verdict mark (✓ PASS, ~ MARGINAL, ✗ FAIL,
– NOT MEASURED); the claimed band is in the column header when the runs share it.
No value is ever cut: runs get short names (their start, ``12-03 09:33``), then ± U goes, then the bands
move under the table, then whole claim columns are left out, and the caption says which.
"""

from __future__ import annotations

import math
import re

import pandas as pd
from rich import box
from rich.table import Table

from rig.claims.ids import short_name
from rig.reporting.compare import claim_ids
from rig.text import escape  # rich's escape, control characters written out

MARKS = {"PASS": ("✓", "green"), "MARGINAL": ("~", "yellow"), "FAIL": ("✗", "bold red"),
         "NOT MEASURED": ("–", "dim")}
STYLES = {"PASS": "green", "MARGINAL": "yellow", "FAIL": "bold red", "NOT MEASURED": "dim"}
UNFINISHED = {"ABORTED": "ABORTED", "ERROR": "ERROR", "RUNNING": "CRASHED", "NOT RUN": "NOT RUN"}
LEGEND = ("✓ PASS  ~ MARGINAL  ✗ FAIL  – NOT MEASURED; ± is the expanded uncertainty (k = 2); "
          "ABORTED / ERROR / CRASHED: the run did not finish (NOT RUN: a mode it never reached)")


def shown_name(text: object) -> str:
    """A name from a run (run id, unit, mode, wrap) as markup for a cell. The one spot where names are made safe
    for the terminal: control characters are to be escaped here too (the shared escape function of `rig run`)."""
    return escape(str(text))


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


Cell = tuple[str, str]  # (plain text, the same with rich markup)


def _mark(verdict: str) -> Cell:
    mark, style = MARKS.get(verdict, ("?", ""))
    return mark, f"[{style}]{mark}[/]"


def _run_cell(row: pd.Series, identifier: str, with_u: bool) -> Cell:
    verdict = row.get(f"{identifier}_verdict")
    if not isinstance(verdict, str):
        return "", ""  # not claimed in this run
    mark, marked = _mark(verdict)
    value = number(row.get(identifier), 3)
    u = number(row.get(f"{identifier}_u"), 2) if with_u else ""
    text = f"{value}±{u}" if value and u else value
    return f"{text} {mark}".strip(), f"{escape(text)} {marked}".strip()


def _group_cell(row: pd.Series, identifier: str, with_u: bool) -> Cell:
    value = number(row.get(identifier), 3)
    if not value:
        return "", ""
    u = number(row.get(f"{identifier}_u"), 2) if with_u else ""
    text = value + (f"±{u}" if u else "")
    plain, marked = [text], [escape(text) + " "]
    for verdict in ("PASS", "MARGINAL", "FAIL"):
        count = int(row.get(f"{identifier}_{verdict.lower()}", 0) or 0)
        if count:
            mark, style = MARKS[verdict]
            plain.append(f"{count}{mark}")
            marked.append(f"[{style}]{count}{mark}[/]")
    return " ".join(plain), "".join(marked).strip() if len(marked) > 1 else escape(text)


def _overall(row: pd.Series) -> Cell:
    if "complete" in row and not bool(row["complete"]):
        word = UNFINISHED.get(row.get("outcome"), "UNFINISHED")
        return word, f"[bold red]{word}[/]"
    verdict = row.get("verdict") or ""
    return verdict, f"[{STYLES.get(verdict, '')}]{verdict}[/]" if verdict else ""


def _widths(columns: list[tuple[str, list[Cell]]]) -> list[int]:
    """Each column's widest header line or cell."""
    return [max([len(line) for line in header.split("\n")] + [len(plain) for plain, _ in cells])
            for header, cells in columns]


RUN_ID = re.compile(r"^(\d{4})(\d{2})(\d{2})-(\d{2})(\d{2})(\d{2})")


def short_run_names(run_ids: list[str]) -> list[str]:
    """Short names for runs: their start, ``12-03 09:33`` (seconds, then the year, when needed to tell them
    apart; then the end of the id, ``12-03 09:33 …-2``); a run id of another form stays whole."""
    def start(run_id: str, pattern: str) -> str:
        match = RUN_ID.match(run_id)
        return pattern.format(*match.groups()) if match else run_id

    for pattern in ("{1}-{2} {3}:{4}", "{1}-{2} {3}:{4}:{5}", "{0}-{1}-{2} {3}:{4}:{5}"):
        names = [start(run_id, pattern) for run_id in run_ids]
        if len(set(names)) == len(set(run_ids)):
            return names
    for tail in range(1, 13):
        names = [start(r, "{1}-{2} {3}:{4}") + (f" …{r[-tail:]}" if RUN_ID.match(r) else "") for r in run_ids]
        if len(set(names)) == len(set(run_ids)):
            return names
    return list(run_ids)


def _total(widths: list[int], gap: int) -> int:
    return sum(widths) + gap * (len(widths) - 1)


def terminal_table(table: pd.DataFrame, title: str, width: int = 120) -> Table:
    """A rich table of a compare table (per run or per group), one line per row within ``width`` characters,
    never a value cut: with many claims the ± U is left out of the cells (it stays in --csv and --html), then
    the bands go under the table, then claim columns are left out (named in the caption)."""
    grouped = "runs" in table.columns
    ids = claim_ids(table)
    if grouped:
        keys = [c for c in ("wrap", "unit", "date", "mode") if c in table.columns]
        left = [(key, [(str(row[key]), shown_name(row[key])) for _, row in table.iterrows()]) for key in keys]
        runs = [f"{row['runs']}" + ("+" if row["runs_left_out"] else "") for _, row in table.iterrows()]
        left.append(("runs", [(text, text) for text in runs]))
    else:
        names = [str(r) for r in table["run_id"]]
        full = _total(_widths([("run", [(n, n) for n in names])]), 0)
        shown = names if full <= width // 3 else short_run_names(names)
        left = [("run", [(n, shown_name(n)) for n in shown]),
                ("unit", [(str(u), shown_name(u)) for u in table["unit"]])]
        if "mode" in table.columns and table["mode"].nunique() > 1:  # one line per run and mode
            left.append(("mode", [(str(m), shown_name(m)) for m in table["mode"]]))
    left.append(("overall", [_overall(row) for _, row in table.iterrows()]))
    cell = _group_cell if grouped else _run_cell
    rows = [row for _, row in table.iterrows()]

    def claim_columns(with_u: bool, bands_in_header: bool) -> list[tuple[str, list[Cell]]]:
        columns = []
        for identifier in ids:
            name, unit = short_name(identifier)
            header = f"{name}\n{unit}\n{_shared_band(table, identifier)}" if bands_in_header else \
                "\n".join([*name.split(" "), unit])
            columns.append((header, [cell(row, identifier, with_u) for row in rows]))
        return columns

    # widest first; then without ± U; then one space between columns and the bands under the table
    for with_u, bands_in_header, gap in ((True, True, 2), (False, True, 2), (False, False, 1)):
        claims = claim_columns(with_u, bands_in_header)
        if _total(_widths(left + claims), gap) <= width:
            break
    kept = list(ids)
    while kept and _total(_widths(left + claims), gap) > width:  # whole columns go, never part of a value
        kept.pop()
        claims = claims[:len(kept)]
    dropped = ids[len(kept):]
    caption = LEGEND + ("" if with_u else "; ± U left out to fit: widen the terminal, or use --csv / --html")
    if dropped:
        caption += ("; left out to fit: " + ", ".join(" ".join(short_name(i)).strip() for i in dropped)
                    + " (widen the terminal, or use --csv / --html)")
    if not grouped and left[0][1] and [c[0] for c in left[0][1]] != [str(r) for r in table["run_id"]]:
        caption += "; runs by their start (month-day time)"
    if not bands_in_header:
        caption += "; claimed bands: " + ", ".join(
            f"{' '.join(short_name(i))} {_shared_band(table, i)}" for i in kept)
    if grouped:
        caption += "; runs 3+: more that did not finish, left out; group cells: mean, runs per verdict"
    widths = _widths(left + claims)
    view = Table(title=escape(title), box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False,
                 padding=(0, 0, 0, 1) if gap == 2 else 0, caption=caption,  # plus the box's one-space separator
                 caption_justify="left")
    for (header, _), column_width in zip(left + claims, widths, strict=True):
        view.add_column(header, justify="left" if (header, _) in left else "right", no_wrap=True,
                        overflow="fold", width=column_width)
    for index in range(len(table)):
        view.add_row(*[cells[index][1] for _, cells in left], *[cells[index][1] for _, cells in claims])
    return view


def trend_table(frame: pd.DataFrame, title: str) -> Table:
    """The ageing trend per unit (and mode, when the runs tested several) and claim, blanks for what cannot be
    fitted (runs less than a day apart)."""
    view = Table(title=escape(title), box=box.SIMPLE_HEAD, show_edge=False,
                 caption="change per month: slope of a straight-line fit over the runs' dates, in the claim's unit",
                 caption_justify="left")
    modes = "mode" in frame and frame["mode"].nunique() > 1
    for column in ("wrap", "unit", *(("mode",) if modes else ()), "claim", "runs", "first", "last", "first value",
                   "last value", "per month", "per month %"):
        view.add_column(column, no_wrap=column not in ("wrap", "claim"),
                        justify="right" if column in ("runs", "first value", "last value", "per month",
                                                      "per month %") else "left")
    for _, row in frame.iterrows():
        name, unit = short_name(row.claim_id)
        view.add_row(escape(str(row.wrap)), escape(str(row.unit)), *((escape(str(row["mode"])),) if modes else ()),
                     escape(f"{name} ({unit})" if unit else name),
                     str(row.runs), row["first"], row["last"], number(row.first_value), number(row.last_value),
                     number(row.change_per_month, 3), number(row.change_per_month_pct, 3))
    return view
