"""Comparing runs: claims against measurements side by side, grouped, and trends over time.

The logic behind ``rig compare``; the CLI only prints what these functions return.
Columns are keyed on stable claim ids that carry their unit (``irradiance_mw_cm2``):

- per run: ``run_id, wrap, unit, mode, date, outcome, complete, backend, calibration, banners, verdict``
  (the worst claim verdict), then per claim ``<id>`` (measured), ``<id>_u`` (expanded uncertainty,
  k = 2, same unit), ``<id>_claimed``, ``<id>_low``, ``<id>_high`` (the acceptance band) and ``<id>_verdict``;
- per group (``by``): the keys, ``runs``, ``runs_left_out`` (did not finish), ``verdict``, then per claim
  ``<id>`` (mean), ``<id>_spread`` (standard deviation across runs), ``<id>_u`` (mean), the band, and
  ``<id>_pass``, ``<id>_marginal``, ``<id>_fail``, ``<id>_not_measured`` (counts of runs).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from rig.claims.ids import sort_key
from rig.claims.specs import TREND_CLAIMS
from rig.errors import RigError
from rig.results.load import LoadedRuns

GROUP_KEYS = {"wrap": ["wrap"], "unit": ["wrap", "unit"], "date": ["date"]}
VERDICT_RANK = {"FAIL": 3, "MARGINAL": 2, "PASS": 1, "NOT MEASURED": 0}
RUN_KEYS = ["run_id", "wrap", "unit", "mode", "date", "outcome", "complete", "backend", "calibration", "banners"]


def set_examples_apart(loaded: LoadedRuns) -> tuple[LoadedRuns, list[str]]:
    """Leave the shipped example run(s) out when the user's own runs are there too; say so."""
    examples = loaded.runs.example.astype(bool)
    if not examples.any() or examples.all():
        return loaded, []
    left_out = loaded.runs.loc[examples, "run_id"].tolist()
    runs = loaded.runs[~examples].reset_index(drop=True)
    summaries = loaded.summaries
    if not summaries.empty:
        summaries = summaries[~summaries.run_id.isin(left_out)].reset_index(drop=True)
    note = (f"left out {len(left_out)} example run(s) shipped with rig ({', '.join(left_out)}); "
            "name the example folder alone to look at it")
    return replace(loaded, runs=runs, summaries=summaries), [note]


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
    return warnings  # runs that did not finish get a banner (rig.results.banners), not a note


def claim_ids(table: pd.DataFrame) -> list[str]:
    """The claim ids a compare table (per run or per group) has columns for, in the usual order."""
    return sorted((c[: -len("_verdict")] for c in table.columns if c.endswith("_verdict")), key=sort_key) or \
        sorted((c[: -len("_pass")] for c in table.columns if c.endswith("_pass")), key=sort_key)


def worst_verdict(verdicts: pd.Series) -> str:
    """FAIL over MARGINAL over PASS over NOT MEASURED; blank when nothing was claimed."""
    present = [v for v in verdicts.dropna() if v in VERDICT_RANK]
    return max(present, key=VERDICT_RANK.__getitem__) if present else ""


def compare_table(loaded: LoadedRuns, by: str | None = None, include_incomplete: bool = False) -> pd.DataFrame:
    """One row per run and mode (or per group with ``by``, modes apart; runs that did not finish are left out of
    groups unless ``include_incomplete``): each claim's band, measured value, uncertainty and verdict. A mode's
    ``outcome`` is its own (a run stopped in its second mode keeps its first as COMPLETED)."""
    runs = loaded.runs.copy()
    runs["date"] = runs.start_time.dt.strftime("%Y-%m-%d")
    runs = runs.rename(columns={"calibration_id": "calibration"})
    table = _mode_lines(runs, loaded.summaries).set_index(["run_id", "mode"])
    summaries = loaded.summaries
    ids: list[str] = []
    if not summaries.empty:
        first = summaries.drop_duplicates(["run_id", "mode", "claim_id"]).set_index(["run_id", "mode", "claim_id"])
        ids = sorted(dict.fromkeys(summaries.claim_id), key=sort_key)
        columns = {}
        for identifier in ids:
            part = first.xs(identifier, level="claim_id")
            for suffix, source in (("_claimed", "claimed"), ("_low", "low"), ("_high", "high"), ("", "measured"),
                                   ("_u", "uncertainty"), ("_verdict", "verdict")):
                columns[identifier + suffix] = part[source]
        table = table.join(pd.DataFrame(columns))
        table["verdict"] = table[[f"{i}_verdict" for i in ids]].apply(worst_verdict, axis=1)
    else:
        table["verdict"] = ""
    table = table.reset_index()
    table = table[[*RUN_KEYS, "verdict", *[c for c in table.columns if c not in RUN_KEYS and c != "verdict"]]]
    if by is None:
        return table.sort_values(["wrap", "unit", "date", "run_id", "_line"]).drop(columns="_line").reset_index(
            drop=True)
    table = table.drop(columns="_line")
    if by not in GROUP_KEYS:
        raise RigError(f"--by: expected one of {', '.join(GROUP_KEYS)} (got {by!r})")
    keys = GROUP_KEYS[by] + (["mode"] if table["mode"].nunique() > 1 else [])  # never average modes together
    return _group(table, ids, keys, include_incomplete)


def _mode_lines(runs: pd.DataFrame, summaries: pd.DataFrame) -> pd.DataFrame:
    """One line per run and mode: the modes its summary has rows for, in the order tested (a run without a
    summary: one line, its ``mode`` as run.json says); each line with its mode's outcome."""
    judged = {} if summaries.empty else {
        run_id: list(dict.fromkeys(group["mode"])) for run_id, group in summaries.groupby("run_id", sort=False)}
    lines = []
    for _, run in runs.iterrows():
        names, outcomes = list(run.get("modes") or []), list(run.get("mode_outcomes") or [])
        outcome_of = dict(zip(names, outcomes, strict=False))
        shown = judged.get(run["run_id"]) or [run["mode"]]
        order = {name: i for i, name in enumerate(names)}
        for index, mode in enumerate(sorted(shown, key=lambda m: order.get(m, len(order)))):
            line = {key: run[key] for key in RUN_KEYS if key != "mode"}
            line["mode"], line["_line"] = mode, index
            if len(shown) > 1 and mode in outcome_of:  # a mode's own outcome; the run's for a one-mode run
                line["outcome"] = outcome_of[mode]
                line["complete"] = outcome_of[mode] in ("COMPLETED", "DID NOT START")
            lines.append(line)
    return pd.DataFrame(lines, columns=[*RUN_KEYS, "_line"])


def _same(values: pd.Series) -> float:
    """The value if every run has the same one (the band of a shared claim), else NaN."""
    unique = values.dropna().unique()
    return float(unique[0]) if len(unique) == 1 else np.nan


def _group(table: pd.DataFrame, ids: list[str], keys: list[str], include_incomplete: bool) -> pd.DataFrame:
    """Per group: mean measured value, spread (std) across runs, mean uncertainty, the band, verdict counts."""
    rows = []
    for group_values, group in table.groupby(keys, sort=True):
        row = dict(zip(keys, group_values if isinstance(group_values, tuple) else (group_values,), strict=True))
        used = group if include_incomplete else group[group.complete.astype(bool)]
        row["runs"] = len(used)
        row["runs_left_out"] = len(group) - len(used)
        row["verdict"] = worst_verdict(used.verdict)
        for identifier in ids:
            values = used[identifier].dropna()
            row[identifier] = values.mean() if len(values) else np.nan
            row[f"{identifier}_spread"] = values.std(ddof=1) if len(values) > 1 else np.nan
            row[f"{identifier}_u"] = used[f"{identifier}_u"].mean()
            for end in ("claimed", "low", "high"):
                row[f"{identifier}_{end}"] = _same(used[f"{identifier}_{end}"])
            verdicts = used[f"{identifier}_verdict"]
            for verdict in VERDICT_RANK:
                row[f"{identifier}_{verdict.lower().replace(' ', '_')}"] = int((verdicts == verdict).sum())
        rows.append(row)
    return pd.DataFrame(rows)


def trend(loaded: LoadedRuns, claims: list[str] | None = None, include_incomplete: bool = False) -> pd.DataFrame:
    """For each wrap unit, mode and claim id: first and last value, and the fitted change per 30 days (LED
    ageing)."""
    if loaded.summaries.empty:
        return pd.DataFrame()
    claims = claims or TREND_CLAIMS
    runs = loaded.runs
    if not include_incomplete:
        runs = runs[runs.complete.astype(bool)]
    runs = runs[["run_id", "wrap", "unit", "start_time"]].rename(columns={"unit": "wrap_unit"})
    merged = loaded.summaries.drop(columns=["unit"]).merge(runs, on="run_id")
    merged = merged[merged.claim_id.isin(claims) & merged.measured.notna()]
    rows = []
    merged["mode"] = merged["mode"].fillna("") if "mode" in merged else ""
    for (wrap, unit, mode, identifier), group in merged.groupby(["wrap", "wrap_unit", "mode", "claim_id"], sort=True):
        group = group.sort_values("start_time")
        days = (group.start_time - group.start_time.iloc[0]).dt.total_seconds().to_numpy() / 86400.0
        values = group.measured.to_numpy(dtype=float)
        # a trend needs time: runs spread over less than a day give no change per month
        slope = np.polyfit(days, values, 1)[0] if len(values) > 1 and days[-1] >= 1.0 else np.nan
        if abs(slope * 30.0) < 1e-9 * max(abs(values).max(), 1e-12):
            slope = 0.0  # identical values: no change (not a rounding residue like 3e-14)
        rows.append({"wrap": wrap, "unit": unit, "mode": mode, "claim_id": identifier, "claim": group.claim.iloc[-1],
                     "runs": len(values), "first": group.start_time.iloc[0].strftime("%Y-%m-%d"),
                     "last": group.start_time.iloc[-1].strftime("%Y-%m-%d"),
                     "first_value": values[0], "last_value": values[-1],
                     "change_per_month": slope * 30.0,
                     "change_per_month_pct": slope * 30.0 / values[0] * 100.0 if values[0] else np.nan})
    return pd.DataFrame(rows)
