"""A run's modes as the reports see them: which modes, where each starts, which rows and claims are whose."""

from __future__ import annotations

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
