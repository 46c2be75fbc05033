"""The HTML both pages share (``report.html`` and ``compare.html``): the style sheet, the verdict colours, and the
pieces (a frame as a table, (what, value) pairs, an inlined figure)."""

from __future__ import annotations

import base64
import html

import numpy as np
import pandas as pd

VERDICT_COLOURS = {"PASS": "#2e7d32", "MARGINAL": "#f9a825", "FAIL": "#c62828", "NOT MEASURED": "#9e9e9e"}
STYLE = ("body{font-family:sans-serif;max-width:960px;margin:auto;padding:1em}"
         "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 6px;font-size:13px}"
         "th{background:#f5f5f5}img{max-width:100%}.warn{color:#c62828}"
         ".banner{padding:.5em .8em;margin:.4em 0;border-left:6px solid #f9a825;background:#fff8e1}"
         ".banner.incomplete,.banner.simulated{border-color:#c62828;background:#ffebee}"
         ".overall{font-size:22px;font-weight:bold;padding:.4em .7em;color:white;display:inline-block}"
         "ul.claims{list-style:none;padding-left:0}ul.claims li{margin:.2em 0}"
         "table.facts th{text-align:left;font-weight:normal;background:#fafafa}")


def pairs(rows: list[tuple[str, str]]) -> str:
    """(what, value) rows as a two-column table."""
    body = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows)
    return f"<table class=facts><tbody>{body}</tbody></table>"


def table(frame: pd.DataFrame) -> str:
    """A frame as an HTML table, verdict words in their colour, empty cells for missing values."""
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


def image(name: str, data: bytes, alt: str) -> str:
    """A PNG inlined as a figure."""
    encoded = base64.b64encode(data).decode("ascii")
    return f'<figure><img id="{name}" alt="{html.escape(alt)}" src="data:image/png;base64,{encoded}"></figure>'
