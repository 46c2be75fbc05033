"""``rig compare --by model``: each unit against the other units of its wrap model (same maker and model).

Per claim, a unit's mean over its runs is set against the model's mean over units; a unit is flagged as an
outlier when it lies further from the mean of the *other* units of its model than 3 combined standard
uncertainties: the others' spread (sd across units) and the unit's own u (its expanded U / 2).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from rich import box
from rich.console import Group
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from rig.claims.ids import short_name
from rig.reporting.compare import claim_ids
from rig.reporting.compare_view import number, shown_name

OUTLIER_SIGMAS = 3.0
COLUMNS = ["model", "unit", "mode", "runs", "claim_id", "unit_mean", "unit_u", "model_mean", "deviation",
           "deviation_pct", "others_mean", "others_sd", "outlier"]


def model_deviations(by_unit: pd.DataFrame) -> pd.DataFrame:
    """From the per-unit compare table (``compare_table(..., "unit")``): one row per model, mode, unit and claim
    (a unit is set against the other units in the same mode)."""
    rows = []
    keys = ["wrap", "mode"] if "mode" in by_unit else ["wrap"]
    for group_keys, units in by_unit.groupby(keys, sort=True):
        model, mode = (*group_keys, "")[:2] if isinstance(group_keys, tuple) else (group_keys, "")
        for identifier in claim_ids(by_unit):
            present = units[units[identifier].notna()]
            if present.empty:
                continue
            values = present[identifier].astype(float)
            model_mean = float(values.mean())
            for index, unit in present.iterrows():
                value = float(unit[identifier])
                u = float(unit.get(f"{identifier}_u") or 0.0) / 2  # standard
                others = values.drop(index)
                others_mean = float(others.mean()) if len(others) else math.nan
                others_sd = float(others.std(ddof=1)) if len(others) > 1 else 0.0
                combined = math.sqrt(others_sd ** 2 + u ** 2)
                outlier = bool(len(others) and combined > 0 and abs(value - others_mean) > OUTLIER_SIGMAS * combined)
                rows.append({"model": model, "mode": mode, "unit": unit["unit"], "runs": int(unit["runs"]),
                             "claim_id": identifier,
                             "unit_mean": value, "unit_u": 2 * u, "model_mean": model_mean,
                             "deviation": value - model_mean,
                             "deviation_pct": 100 * (value - model_mean) / model_mean if model_mean else math.nan,
                             "others_mean": others_mean, "others_sd": others_sd, "outlier": outlier})
    return pd.DataFrame(rows, columns=COLUMNS)


def model_table(frame: pd.DataFrame, title: str) -> Group:
    """The deviations for a terminal: one table per model, one line per unit and claim, outliers marked;
    values never cut."""
    parts: list = [Text(title, style="bold")]
    modes = frame["mode"].nunique() > 1
    for (model, mode), rows in frame.groupby(["model", "mode"], sort=True):
        view = Table(title=shown_name(model) + (f", mode '{shown_name(mode)}'" if modes else ""),
                     title_justify="left", box=box.SIMPLE_HEAD, show_edge=False)
        view.add_column("unit", overflow="fold", min_width=4)
        view.add_column("claim", no_wrap=True)
        for header in ("unit mean", "model mean", "deviation", ""):
            view.add_column(header, justify="right", no_wrap=True)
        for _, row in rows.iterrows():
            name, unit = short_name(row.claim_id)
            dev = 0.0 if abs(row.deviation) <= 1e-9 * max(abs(row.model_mean), 1.0) else row.deviation
            deviation = f"{dev:+.3g}" + ("" if np.isnan(row.deviation_pct) else f" ({row.deviation_pct:+.1f} %)")
            view.add_row(shown_name(row.unit), escape(f"{name} {unit}".strip()),
                         f"{number(row.unit_mean, 4)}±{number(row.unit_u, 2)}", number(row.model_mean, 4),
                         deviation, "[bold red]⚑ outlier[/]" if row.outlier else "")
        parts.append(view)
    parts.append(Text("unit mean ± U (k = 2) over its runs; model mean: over the model's units; ⚑ outlier: further "
                      f"from the other units' mean than {OUTLIER_SIGMAS:g} x (their spread and the unit's u "
                      "combined)"))
    return Group(*parts)
