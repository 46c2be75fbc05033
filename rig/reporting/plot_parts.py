"""Shared plot parts: the identity stamp on every PNG, claim bands that do not invent limits, PNG bytes.

Imports matplotlib with the Agg backend (no display, fastest to start).
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")
from matplotlib.figure import Figure  # noqa: E402

from rig.results.banners import calibrated, calibration_age  # noqa: E402
from rig.results.schema import RunManifest

BAND_COLOUR = "#c8e6c9"
CLAIM_COLOUR = "#2e7d32"
CUTOUT_COLOUR = "#6a1b9a"
PNG_DPI = 90


@dataclass(frozen=True)
class Stamp:
    """What every PNG of a run says about itself."""

    run_id: str
    wrap: str
    date: str
    simulated: bool
    calibration: str

    @classmethod
    def from_manifest(cls, manifest: RunManifest) -> Stamp:
        wrap = manifest.wrap_unit_label
        calibration_id = manifest.calibration_id
        if not calibrated(manifest):
            state = "UNCALIBRATED (datasheet-nominal)"
        elif calibration_age(manifest):
            state = f"{calibration_id} (OUT OF DATE)"
        else:
            state = calibration_id
        return cls(manifest.run_id, wrap or "wrap", str(manifest.start_time or "")[:16].replace("T", " "),
                   manifest.backend == "sim", state)

    @property
    def text(self) -> str:
        backend = "SIMULATED" if self.simulated else "real bench"
        return f"run {self.run_id}\n{self.wrap} | {self.date} | {backend} | calibration: {self.calibration}"


def stamp(figure: Figure, info: Stamp | None) -> None:
    """Write the run's identity along the bottom of ``figure``; SIMULATED in red at the top right."""
    if info is None:
        return
    figure.text(0.01, 0.004, info.text, fontsize=6.5, color="#424242", ha="left", va="bottom", gid="stamp")
    if info.simulated:
        figure.text(0.99, 1 - 0.06 / figure.get_figheight(), "SIMULATED", fontsize=11, color="#c62828",
                    fontweight="bold", ha="right", va="top", gid="simulated")


def margins(figure: Figure, left_in: float = 0.8, right_in: float = 0.2, top_in: float = 0.45,
            bottom_in: float = 0.75, **spacing: float) -> None:
    """Fixed margins in inches (room for labels and the stamp): cheaper than a tight bounding box,
    which draws every figure twice."""
    width, height = figure.get_size_inches()
    figure.subplots_adjust(left=left_in / width, right=1 - right_in / width, top=1 - top_in / height,
                           bottom=bottom_in / height, **spacing)


def png(figure: Figure) -> bytes:
    """The figure as PNG bytes, drawn once (the figure is not kept by pyplot, so nothing needs closing)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=PNG_DPI, pil_kwargs={"compress_level": 3})
    return buffer.getvalue()


def finite(value: object) -> float | None:
    """A float, or None for missing/NaN."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def band_text(low: float | None, high: float | None) -> str:
    """``claim 40–60``, ``claim: at most 43``, ``claim: at least 0.7``."""
    if low is not None and high is not None:
        return f"claim {low:g}–{high:g}"
    return f"claim: at most {high:g}" if high is not None else f"claim: at least {low:g}"


def draw_band(axis, low: float | None, high: float | None, vertical: bool, label: str | None = None,
              span: tuple[float, float] | None = None) -> None:
    """Shade the acceptance band. An open end ("at most") runs to the axis edge, never to an invented
    limit; its closed edge gets a solid line. ``span`` limits the band along the other axis (data units)."""
    if low is None and high is None:
        return
    lo_view, hi_view = axis.get_xlim() if vertical else axis.get_ylim()
    lo_edge = low if low is not None else min(lo_view, high) - 1e9 * (abs(high) + 1)  # type: ignore[type-var]
    hi_edge = high if high is not None else max(hi_view, low) + 1e9 * (abs(low) + 1)  # type: ignore[type-var]
    if vertical:
        axis.axvspan(lo_edge, hi_edge, color=BAND_COLOUR, alpha=0.8, linewidth=0, label=label, gid="claim-band")
        for edge in (low, high):
            if edge is not None:
                axis.axvline(edge, color=CLAIM_COLOUR, linewidth=1.2, gid="claim-limit")
        axis.set_xlim(lo_view, hi_view)
    else:
        start, stop = span if span else axis.get_xlim()
        axis.fill_between([start, stop], [lo_edge, lo_edge], [hi_edge, hi_edge], facecolor=BAND_COLOUR, alpha=0.6,
                          edgecolor=CLAIM_COLOUR, hatch="//", linewidth=0, label=label, gid="claim-band", zorder=0)
        for edge in (low, high):
            if edge is not None:
                axis.hlines(edge, start, stop, color=CLAIM_COLOUR, linewidth=1.4, gid="claim-limit")
        axis.set_ylim(lo_view, hi_view)


def view_range(values: list[float], low: float | None, high: float | None, pad: float = 0.25) -> tuple[float, float]:
    """An axis range showing the values and the band's closed edges (open edges add nothing)."""
    points = [v for v in [*values, low, high] if v is not None]
    if not points:
        return 0.0, 1.0
    lo, hi = min(points), max(points)
    width = (hi - lo) or abs(hi) * 0.1 or 1.0
    return lo - pad * width, hi + pad * width
