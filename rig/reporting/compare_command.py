"""What ``rig compare`` does, as one library call: load, set examples apart, check mixing, build the table,
write CSV / HTML, and hand back what to print. The CLI only prints the result."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.markup import escape

from rig.errors import RigError
from rig.reporting.compare import GROUP_KEYS, check_mixing, compare_table, set_examples_apart, trend
from rig.reporting.compare_page import build_compare_page, compare_banners
from rig.reporting.compare_view import terminal_table, trend_table
from rig.results.load import load_runs


@dataclass
class CompareOutput:
    """Lines (rich markup, user text escaped) and tables for the terminal, in printing order."""

    printables: list[Any] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # plain text, for stderr: runs left out and why


def _write(path: Path, what: str, write) -> None:
    import stat

    try:
        mode = path.stat().st_mode
    except OSError:
        mode = None  # a new file (or a folder that is not there: named below)
    if mode is not None and not stat.S_ISREG(mode):  # a FIFO would block, a device never fill
        raise RigError(f"{path}: expected a new or a regular file for the {what} (this is not a regular file)")
    try:
        write(path)
    except OSError as error:
        raise RigError(f"{path}: cannot write the {what} ({error.strerror or error})") from error


def run_compare(patterns: Sequence[str], by: str | None = None, csv: str | None = None, html: str | None = None,
                show_trend: bool = False, allow_mixed: bool = False,
                include_incomplete: bool = False, width: int = 120) -> CompareOutput:
    """Compare the runs named by ``patterns``; see the README's "Comparing runs"."""
    from rig.results.writer import safe_cell

    output = CompareOutput()
    loaded = load_runs(patterns)
    notes = list(loaded.skipped)
    output.warnings += loaded.warnings
    if loaded.runs.empty and loaded.warnings:
        raise RigError(f"no run left to compare in {' '.join(patterns)}: " + "; ".join(loaded.warnings))
    if loaded.runs.empty:
        raise RigError(f"no runs found in {' '.join(patterns)} (a run folder has run.json)"
                       + "".join(f"; {note}" for note in notes))
    loaded, example_notes = set_examples_apart(loaded)
    notes += example_notes
    notes += check_mixing(loaded, allow_mixed)
    banners = compare_banners(loaded.runs)
    output.printables += [f"[yellow]note:[/] {escape(note)}" for note in notes]
    output.printables += [banner.markup() for banner in banners]
    table = compare_table(loaded, by, include_incomplete)
    ageing = trend(loaded, include_incomplete=include_incomplete)
    if csv:
        _write(Path(csv), "CSV", lambda path: table.map(safe_cell).to_csv(path, index=False))
        output.printables.append(f"wrote {escape(csv)}")
    if html:
        title = f"{len(loaded.runs)} runs" + (f" by {by}" if by else "")
        _write(Path(html), "HTML page", lambda path: build_compare_page(
            table, path, banners, notes, ageing, GROUP_KEYS[by] if by else None, title))
        output.printables.append(f"wrote {escape(html)}")
    if show_trend:
        output.printables.append(trend_table(ageing, "trend per unit (change per month from a linear fit)"))
    else:
        left_out = int(table.runs_left_out.sum()) if by and "runs_left_out" in table else 0
        title = f"{len(loaded.runs)} runs" + (f" by {by}" if by else "") + (
            f", {left_out} that did not finish left out (--include-incomplete)" if left_out else "")
        output.printables.append(terminal_table(table, title, width))
    return output
