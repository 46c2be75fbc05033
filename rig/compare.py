"""Comparing runs: claims against measurements side by side, grouped, and trends over time.

The logic behind ``rig compare``; the CLI only prints what these functions return.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from rig.errors import RigError
from rig.load import LoadedRuns

GROUP_KEYS = {"wrap": ["wrap"], "unit": ["wrap", "unit"], "date": ["date"]}
TREND_CLAIMS = ["irradiance at contact", "red peak wavelength", "NIR peak wavelength"]


def check_mixing(loaded: LoadedRuns, allow_mixed: bool) -> list[str]:
    """Refuse to compare simulated with real runs unless allowed; return warnings (e.g. mixed calibrations)."""
    backends = sorted(set(loaded.runs.backend.dropna()))
    if len(backends) > 1 and not allow_mixed:
        sim = loaded.runs.loc[loaded.runs.backend == "sim", "run_id"].tolist()
        raise RigError(f"refusing to compare simulated and real runs together ({len(sim)} simulated, e.g. "
                       f"{sim[0]}); pass --allow-mixed to do it anyway")
    warnings = []
    calibrations = sorted(set(loaded.runs.calibration_id.dropna()))
    if len(calibrations) > 1:
        warnings.append(f"runs made with {len(calibrations)} different calibrations: {', '.join(calibrations)} "
                        "(marked in the 'calibration' column)")
    incomplete = loaded.runs.loc[~loaded.runs.complete, "run_id"].tolist()
    if incomplete:
        warnings.append(f"{len(incomplete)} run(s) incomplete (crashed or still running): {', '.join(incomplete)}")
    return warnings


def compare_table(loaded: LoadedRuns, by: str | None = None) -> pd.DataFrame:
    """One row per run (or per group with ``by``): each claim's measured value, uncertainty and verdict."""
    runs = loaded.runs.copy()
    runs["date"] = runs.start_time.dt.strftime("%Y-%m-%d")
    if loaded.summaries.empty:
        return runs[["run_id", "wrap", "unit", "mode", "date", "outcome", "backend", "calibration_id", "complete"]]
    summaries = loaded.summaries
    measured = summaries.pivot_table(index="run_id", columns="claim", values="measured", aggfunc="first")
    uncertainty = summaries.pivot_table(index="run_id", columns="claim", values="uncertainty", aggfunc="first")
    verdict = summaries.pivot(index="run_id", columns="claim", values="verdict")
    claims = list(dict.fromkeys(summaries.claim))
    wide = pd.DataFrame(index=runs.run_id)
    for claim in claims:
        wide[f"{claim}"] = measured.get(claim)
        wide[f"{claim} ±u"] = uncertainty.get(claim)
        wide[f"{claim} verdict"] = verdict.get(claim)
    table = runs.set_index("run_id")[["wrap", "unit", "mode", "date", "outcome", "backend", "calibration_id",
                                      "complete"]].join(wide).reset_index()
    table = table.rename(columns={"calibration_id": "calibration"})
    if by is None:
        return table.sort_values(["wrap", "unit", "date", "run_id"]).reset_index(drop=True)
    if by not in GROUP_KEYS:
        raise RigError(f"--by: expected one of {', '.join(GROUP_KEYS)} (got {by!r})")
    return _group(table, claims, GROUP_KEYS[by])


def _group(table: pd.DataFrame, claims: list[str], keys: list[str]) -> pd.DataFrame:
    """Per group: mean measured value, spread (std) across runs, mean uncertainty, and verdict counts."""
    rows = []
    for group_values, group in table.groupby(keys, sort=True):
        row = dict(zip(keys, group_values if isinstance(group_values, tuple) else (group_values,), strict=True))
        row["runs"] = len(group)
        for claim in claims:
            values = group[claim].dropna()
            row[claim] = values.mean() if len(values) else np.nan
            row[f"{claim} spread"] = values.std(ddof=1) if len(values) > 1 else np.nan
            row[f"{claim} ±u"] = group[f"{claim} ±u"].mean()
            verdicts = group[f"{claim} verdict"].dropna().value_counts()
            row[f"{claim} verdicts"] = ", ".join(f"{n} {v}" for v, n in verdicts.items())
        rows.append(row)
    return pd.DataFrame(rows)


def terminal_view(table: pd.DataFrame) -> pd.DataFrame:
    """The compare table folded for a terminal: one ``measured ± u VERDICT`` cell per claim."""
    claims = [c.rsplit(" ", 1)[0] for c in table.columns if c.endswith((" verdict", " verdicts"))]
    keys = [c for c in ("run_id", "wrap", "unit", "date", "runs", "outcome", "backend", "calibration")
            if c in table.columns]
    view = table[keys].copy()
    for claim in claims:
        cells = []
        for _, row in table.iterrows():
            value, u = row.get(claim), row.get(f"{claim} ±u")
            verdict = row.get(f"{claim} verdict") or row.get(f"{claim} verdicts") or ""
            spread = row.get(f"{claim} spread")
            text = "" if pd.isna(value) else f"{value:.4g}" + ("" if pd.isna(u) else f" ± {u:.2g}")
            text += "" if spread is None or pd.isna(spread) else f" (spread {spread:.2g})"
            cells.append(f"{text} {verdict}".strip())
        view[claim] = cells
    return view


def trend(loaded: LoadedRuns, claims: list[str] | None = None) -> pd.DataFrame:
    """For each wrap unit and claim: first and last value, and the fitted change per 30 days (LED ageing)."""
    if loaded.summaries.empty:
        return pd.DataFrame()
    claims = claims or TREND_CLAIMS
    runs = loaded.runs[["run_id", "wrap", "unit", "start_time"]].rename(columns={"unit": "wrap_unit"})
    merged = loaded.summaries.drop(columns=["unit"]).merge(runs, on="run_id")
    merged = merged[merged.claim.isin(claims) & merged.measured.notna()]
    rows = []
    for (wrap, unit, claim), group in merged.groupby(["wrap", "wrap_unit", "claim"], sort=True):
        group = group.sort_values("start_time")
        days = (group.start_time - group.start_time.iloc[0]).dt.total_seconds().to_numpy() / 86400.0
        values = group.measured.to_numpy(dtype=float)
        # a trend needs time: runs spread over less than a day give no change per month
        slope = np.polyfit(days, values, 1)[0] if len(values) > 1 and days[-1] >= 1.0 else np.nan
        rows.append({"wrap": wrap, "unit": unit, "claim": claim, "runs": len(values),
                     "first": group.start_time.iloc[0].strftime("%Y-%m-%d"),
                     "last": group.start_time.iloc[-1].strftime("%Y-%m-%d"),
                     "first value": values[0], "last value": values[-1],
                     "change per month": slope * 30.0,
                     "change per month %": slope * 30.0 / values[0] * 100.0 if values[0] else np.nan})
    return pd.DataFrame(rows)
